"""FashionScenes: deterministic synthetic scenes built from Fashion-MNIST items.

Two tasks share one renderer:

* ``ClsScenes``  - classification, 224x224 RGB frames, one *dominant* item per frame (its class is
  the label) plus 0-3 smaller distractor items of *other* classes behind it (often cut by the frame
  edge), sometimes one more distractor in front that enters from a frame edge (partial), and
  0-4 clutter shapes (rectangles, ellipses, bars).
* ``DetScenes``  - detection, 320x320 RGB frames, 1-8 items of any class, each labelled with a box.

Every frame is a pure function of ``(seed, task, split, frame index)`` and GENERATOR_VERSION:
its random parameters come from ``numpy.random.default_rng([seed, task, split, index])``
(drawn on the CPU, a few hundred numbers per frame), and the pixels are then rendered in torch
(``affine_grid``/``grid_sample`` for the items, closed-form patterns for the backgrounds), so the
same code renders on a GPU (fast, batched) or on a CPU, and frame ``i`` is the same whatever the
batch size or device (up to float rounding, i.e. at most 1 grey level on rare pixels).

Train scenes use only Fashion-MNIST *train* items, test scenes only *test* items. In the
classification test split frame ``i`` has test item ``i % 10000`` as its dominant item, so
frames 0..9999 use every test item exactly once.

Item appearance: an item's grey level ``I`` (0..1) gives its opacity
``alpha = clamp((I - 0.03) / 0.12, 0, 1)`` (so faint fabric is opaque, the black surround
transparent) and its colour ``lerp(colA, colB, I)`` (two tints: the Fashion-MNIST shading is kept
as a colour ramp). Items are scaled (classification: dominant 100-230 px; detection: 30-190 px),
stretched in aspect by up to +-16 %, mirrored half the time, and placed over textured backgrounds
(flat, linear gradient, stripes, smooth colour blobs) with grain and periodic texture.

Detection labels (``DetScenes``):

* box = the extent of the item's pixels with ``alpha >= 0.5`` (computed exactly on the 28x28
  item, then mapped through the placement), clipped to the frame; ``[x1, y1, x2, y2]`` in pixels
  of the frame (pixel edges: a box over columns 10..19 is x1=10, x2=20).
* truncation: an item is placed only if at least 50 % of its box area lies inside the frame;
  its label is the clipped box.
* occlusion: items are drawn in order, later ones on top; a placement is accepted only if its box
  overlaps every earlier box by at most 20 % of the smaller of the two boxes. So every item keeps
  most of itself visible and *every* drawn item is labelled (no unlabelled items exist in
  detection frames; clutter shapes are never labelled).
* slots that find no valid placement in 10 tries are left empty, so a frame may hold fewer
  items than it asked for; the labels always list exactly the items drawn.

Public API (stable):

    load_fashion_mnist(root, split)           -> (uint8 [N,28,28], int64 [N])  (CPU tensors)
    ClsScenes(root, split, seed, device).frames(start, count) -> (uint8 [B,3,224,224] RGB, int64 [B])
    ClsScenes(...).batch(n)                   -> next n frames of the stream (cursor advances)
    ClsScenes(..., prefetch=6)                -> random numbers of coming batches drawn in worker
                                                 processes (use on a GPU host; same frames)
    DetScenes(root, split, seed, device).frames(start, count)
                                              -> (uint8 [B,3,320,320] RGB, [float32 [k,4]], [int64 [k]])
    DetScenes(...).batch(n)                   -> next n frames of the stream
    pack_targets(boxes, classes)              -> float32 [M,6]: (frame, class, x1, y1, x2, y2)
    to_hwc_numpy(images)                      -> numpy uint8 [B,H,W,3] RGB (for cv2 use ::-1 for BGR)
    CLASSES                                   -> the 10 Fashion-MNIST class names
"""

from __future__ import annotations

import gzip
import math
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

GENERATOR_VERSION = 1

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

_TASK_CODE = {"cls": 1, "det": 2}
_SPLIT_CODE = {"train": 0, "test": 1}
_NOISE_TILE = 24          # per-frame grain tile, 3 x 24 x 24 values
_BLOB_GRID = 4            # smooth colour blobs: 3 x 4 x 4 control colours
_ALPHA_LO, _ALPHA_W = 0.03, 0.12
_BOX_LEVEL = _ALPHA_LO + 0.5 * _ALPHA_W   # grey level where alpha = 0.5


# --------------------------------------------------------------------------- data

def _read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(root: str, split: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """Reads Fashion-MNIST idx files (``.gz`` or plain) from ``root``.

    split: "train" (60,000 items) or "test" (10,000). Returns CPU tensors
    ``images uint8 [N,28,28]`` (item bright on black) and ``labels int64 [N]``.
    """
    if split not in _SPLIT_CODE:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = "train" if split == "train" else "t10k"
    found = {}
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        for name in (f"{prefix}-{kind}.gz", f"{prefix}-{kind}"):
            p = os.path.join(root, name)
            if os.path.exists(p):
                found[kind] = p
                break
        else:
            raise FileNotFoundError(
                f"Fashion-MNIST file {prefix}-{kind}[.gz] not found under {root!r}; copy "
                f"/usr/share/datasets/fashion-mnist/*.gz there (apt-get install dataset-fashion-mnist)")
    images = _read_idx(found["images-idx3-ubyte"])
    labels = _read_idx(found["labels-idx1-ubyte"]).astype(np.int64)
    if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise ValueError(f"unexpected Fashion-MNIST shapes {images.shape} / {labels.shape} in {root!r}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())


class _Items:
    """One split's items on a device, with per-class index lists and exact alpha>=0.5 boxes."""

    _cache: Dict[Tuple[str, str, str], "_Items"] = {}

    def __init__(self, root: str, split: str, device: torch.device):
        images, labels = load_fashion_mnist(root, split)
        self.n = images.shape[0]
        self.labels_np = labels.numpy()
        self.images = (images.float() / 255.0).unsqueeze(1).to(device)      # [N,1,28,28]
        order = np.argsort(self.labels_np, kind="stable")
        counts = np.bincount(self.labels_np, minlength=10)
        self.order = order
        self.class_count = counts
        self.class_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        # Tight boxes of alpha >= 0.5 in 28-grid pixel edges: (c0, r0, c1, r1), c1/r1 exclusive.
        mask = images.numpy().astype(np.float32) / 255.0 >= _BOX_LEVEL
        cols, rows = mask.any(1), mask.any(2)
        c0 = cols.argmax(1)
        c1 = 28 - cols[:, ::-1].argmax(1)
        r0 = rows.argmax(1)
        r1 = 28 - rows[:, ::-1].argmax(1)
        empty = ~mask.any((1, 2))
        box = np.stack([c0, r0, c1, r1], 1).astype(np.float64)
        box[empty] = [0, 0, 28, 28]
        self.box = box

    @classmethod
    def get(cls, root: str, split: str, device) -> "_Items":
        key = (os.path.abspath(root), split, str(device))
        if key not in cls._cache:
            cls._cache[key] = _Items(root, split, torch.device(device))
        return cls._cache[key]

    def random_item(self, u: np.ndarray) -> np.ndarray:
        return np.minimum((u * self.n).astype(np.int64), self.n - 1)

    def item_of_class(self, cls: np.ndarray, u: np.ndarray) -> np.ndarray:
        cnt = self.class_count[cls]
        k = np.minimum((u * cnt).astype(np.int64), cnt - 1)
        return self.order[self.class_start[cls] + k]


# --------------------------------------------------------------------------- parameter sampling

class _Cols:
    """Hands out columns of a per-frame uniform matrix in a fixed order."""

    def __init__(self, u: np.ndarray):
        self.u, self.i = u, 0

    def take(self, k: int = 1) -> np.ndarray:
        if self.i + k > self.u.shape[1]:
            raise RuntimeError("FashionScenes parameter budget exceeded (raise _N_PARAMS)")
        out = self.u[:, self.i:self.i + k]
        self.i += k
        return out[:, 0] if k == 1 else out


_N_PARAMS = 640


def _frame_uniforms(seed: int, task: str, split: str, start: int, count: int):
    u = np.empty((count, _N_PARAMS), dtype=np.float64)
    tile = np.empty((count, 3, _NOISE_TILE, _NOISE_TILE), dtype=np.float32)
    for k in range(count):
        rng = np.random.default_rng([int(seed), _TASK_CODE[task], _SPLIT_CODE[split], start + k,
                                     GENERATOR_VERSION])
        u[k] = rng.random(_N_PARAMS)
        tile[k] = rng.random((3, _NOISE_TILE, _NOISE_TILE), dtype=np.float32)
    return u, tile


def _hsv_to_rgb(h, s, v):
    i = np.floor(h * 6.0) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i.astype(int), [v, q, p, p, t, v])
    g = np.choose(i.astype(int), [t, v, v, q, p, p])
    b = np.choose(i.astype(int), [p, p, t, v, v, q])
    return np.stack([r, g, b], -1)


def _lum(c):
    return c[..., 0] * 0.299 + c[..., 1] * 0.587 + c[..., 2] * 0.114


def _random_colour(c: _Cols) -> np.ndarray:
    h, s, v = c.take(), c.take(), c.take()
    return _hsv_to_rgb(h, s ** 0.7, 0.15 + 0.85 * v)


def _sample_background(c: _Cols) -> dict:
    t = c.take()
    kind = np.select([t < 0.12, t < 0.37, t < 0.66], [0, 1, 2], 3)   # flat, gradient, stripes, blobs
    c1, c2 = _random_colour(c), _random_colour(c)
    blobs = c.take(3 * _BLOB_GRID * _BLOB_GRID).reshape(-1, 3, _BLOB_GRID, _BLOB_GRID)
    blob_mix = c.take()[:, None, None, None]
    blobs = blobs * blob_mix + (1 - blob_mix) * c1[:, :, None, None]
    p = {
        "kind": kind, "c1": c1, "c2": c2, "blobs": blobs,
        "g_angle": c.take() * 2 * math.pi, "g_scale": 0.6 + 1.6 * c.take(),
        "s_angle": c.take() * math.pi, "s_freq": 2.0 + 22.0 * c.take() ** 1.5,
        "s_phase": c.take() * 2 * math.pi, "s_sharp": 0.3 + 6.0 * c.take(),
        "grain": 0.12 * c.take() ** 1.5, "fine": 0.10 * c.take() ** 2,
        "fine_shift": np.floor(c.take(2) * _NOISE_TILE),
    }
    # a reference colour of the background, used to keep labelled items visible
    ref = np.where((kind == 0)[:, None], c1, 0.5 * (c1 + c2))
    ref = np.where((kind == 3)[:, None], blobs.mean((2, 3)), ref)
    p["ref"] = ref
    return p


def _sample_clutter(c: _Cols, max_shapes: int) -> dict:
    n = np.floor(c.take() * (max_shapes + 1))
    shapes = []
    for j in range(max_shapes):
        shapes.append({
            "on": (j < n).astype(np.float64),
            "kind": (c.take() * 3).astype(np.int64),                 # 0 rect, 1 ellipse, 2 bar
            "cx": c.take() * 1.2 - 0.1, "cy": c.take() * 1.2 - 0.1,
            "w": 0.03 + 0.22 * c.take(), "h": 0.03 + 0.22 * c.take(),
            "angle": c.take() * math.pi, "colour": _random_colour(c),
            "opacity": 0.45 + 0.55 * c.take(),
        })
    return {"shapes": shapes}


def _item_colours(c: _Cols):
    col_b = _random_colour(c)
    k = 0.5 * c.take()
    other = _random_colour(c)
    use_other = (c.take() < 0.3)[:, None]
    col_a = np.where(use_other, other, col_b * k[:, None])
    return col_a, col_b


def _ensure_contrast(col_a, col_b, ref, min_diff=0.22):
    """Keeps a labelled item's bright tint at least min_diff luminance away from the background."""
    lb, lr = _lum(col_b), _lum(ref)
    close = np.abs(lb - lr) < min_diff
    darker = lr > 0.5
    # darken towards black or lighten towards white until the luminance gap is min_diff
    target_dark = np.clip(lr - min_diff - 0.05, 0.0, 1.0)
    f_dark = np.where(lb > 1e-6, target_dark / np.maximum(lb, 1e-6), 0.0)[:, None]
    target_light = np.clip(lr + min_diff + 0.05, 0.0, 1.0)
    g = np.where(lb < 1 - 1e-6, (target_light - lb) / np.maximum(1 - lb, 1e-6), 1.0)[:, None]
    dark_b = col_b * np.minimum(f_dark, 1.0)
    light_b = col_b + (1 - col_b) * np.clip(g, 0, 1)
    new_b = np.where(darker[:, None], dark_b, light_b)
    col_b = np.where(close[:, None], new_b, col_b)
    return col_a, col_b


# --------------------------------------------------------------------------- rendering (torch)

def _t(x, device, dtype=torch.float32):
    """numpy -> tensor on device. On CUDA the copy goes through pinned memory with
    non_blocking=True: a plain copy would synchronise the stream on every parameter and stop the
    CPU from preparing the next batch while the GPU trains."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(dtype)
    device = torch.device(device)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def _render_background(p: dict, tile: np.ndarray, h: int, w: int, device) -> torch.Tensor:
    b = p["kind"].shape[0]
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
    yy, xx = ys[:, None].expand(h, w), xs[None, :].expand(h, w)
    c1 = _t(p["c1"], device)[:, :, None, None]
    c2 = _t(p["c2"], device)[:, :, None, None]
    kind = _t(p["kind"], device, torch.int64)

    ga = _t(p["g_angle"], device)[:, None, None]
    d = torch.cos(ga) * (xx - 0.5) + torch.sin(ga) * (yy - 0.5)
    tg = (d * _t(p["g_scale"], device)[:, None, None] + 0.5).clamp(0, 1).unsqueeze(1)
    grad = c1 * (1 - tg) + c2 * tg

    sa = _t(p["s_angle"], device)[:, None, None]
    ph = 2 * math.pi * _t(p["s_freq"], device)[:, None, None] * (torch.cos(sa) * xx + torch.sin(sa) * yy)
    k = _t(p["s_sharp"], device)[:, None, None]
    ts = (0.5 + 0.5 * torch.tanh(k * torch.sin(ph + _t(p["s_phase"], device)[:, None, None]))
          / torch.tanh(k)).unsqueeze(1)
    stripes = c1 * (1 - ts) + c2 * ts

    blobs = F.interpolate(_t(p["blobs"], device), size=(h, w), mode="bicubic", align_corners=False)
    flat = c1.expand(b, 3, h, w)

    sel = [(kind == k).float()[:, None, None, None] for k in range(4)]
    bg = sel[0] * flat + sel[1] * grad + sel[2] * stripes + sel[3] * blobs

    tile_t = _t(tile, device) - 0.5                                          # [B,3,T,T]
    grain = F.interpolate(tile_t, size=(h, w), mode="bilinear", align_corners=False)
    reps = (math.ceil(h / _NOISE_TILE) + 1, math.ceil(w / _NOISE_TILE) + 1)
    fine = tile_t.repeat(1, 1, reps[0], reps[1])
    # per-frame shift of the periodic texture (same shift for the whole batch row is fine:
    # shifts differ per frame through gather of a rolled view)
    sh = p["fine_shift"].astype(np.int64)
    fine = torch.stack([fine[i, :, sh[i, 0]:sh[i, 0] + h, sh[i, 1]:sh[i, 1] + w]
                        for i in range(b)]) if b > 0 else fine[:, :, :h, :w]
    bg = bg + _t(p["grain"], device)[:, None, None, None] * grain \
        + _t(p["fine"], device)[:, None, None, None] * fine
    return bg.clamp(0, 1)


def _render_clutter(canvas: torch.Tensor, p: dict) -> torch.Tensor:
    b, _, h, w = canvas.shape
    device = canvas.device
    ys = torch.arange(h, device=device, dtype=torch.float32) + 0.5
    xs = torch.arange(w, device=device, dtype=torch.float32) + 0.5
    yy, xx = ys[:, None].expand(h, w), xs[None, :].expand(h, w)
    for s in p["shapes"]:
        if not s["on"].any():
            continue
        cx = _t(s["cx"] * w, device)[:, None, None]
        cy = _t(s["cy"] * h, device)[:, None, None]
        kind = s["kind"]
        hw = np.where(kind == 2, s["w"] * 1.6, s["w"]) * w
        hh = np.where(kind == 2, np.minimum(s["h"], 0.02) * h, s["h"] * h)
        hw_t, hh_t = _t(hw, device)[:, None, None], _t(hh, device)[:, None, None]
        a = _t(s["angle"], device)[:, None, None]
        u = torch.cos(a) * (xx - cx) + torch.sin(a) * (yy - cy)
        v = -torch.sin(a) * (xx - cx) + torch.cos(a) * (yy - cy)
        rect = (torch.minimum(hw_t - u.abs(), hh_t - v.abs()) + 0.5).clamp(0, 1)
        r = torch.sqrt((u / hw_t) ** 2 + (v / hh_t) ** 2)
        ell = ((1 - r) * torch.minimum(hw_t, hh_t) + 0.5).clamp(0, 1)
        is_ell = _t(kind == 1, device)[:, None, None]
        m = (is_ell * ell + (1 - is_ell) * rect) * _t(s["on"] * s["opacity"], device)[:, None, None]
        m = m.unsqueeze(1)
        canvas = canvas * (1 - m) + _t(s["colour"], device)[:, :, None, None] * m
    return canvas


def _draw_items(canvas: torch.Tensor, items: _Items, slot: dict) -> torch.Tensor:
    """slot: idx [B], on [B], x0,y0 (top-left of the 28-grid box), sw, sh (its size), flip [B],
    col_a, col_b [B,3] - all numpy."""
    if not slot["on"].any():
        return canvas
    b, _, h, w = canvas.shape
    device = canvas.device
    img = items.images[_t(slot["idx"], device, torch.int64)]                # [B,1,28,28]
    sw, sh, x0, y0 = slot["sw"], slot["sh"], slot["x0"], slot["y0"]
    f = np.where(slot["flip"], -1.0, 1.0)
    theta = np.zeros((b, 2, 3))
    theta[:, 0, 0] = f * w / sw
    theta[:, 0, 2] = f * ((w - 2 * x0) / sw - 1)
    theta[:, 1, 1] = h / sh
    theta[:, 1, 2] = (h - 2 * y0) / sh - 1
    grid = F.affine_grid(_t(theta, device), [b, 1, h, w], align_corners=False)
    g = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    alpha = ((g - _ALPHA_LO) / _ALPHA_W).clamp(0, 1) * _t(slot["on"], device)[:, None, None, None]
    col = _t(slot["col_a"], device)[:, :, None, None] * (1 - g) + _t(slot["col_b"], device)[:, :, None, None] * g
    return canvas * (1 - alpha) + col * alpha


def _finish(canvas: torch.Tensor, c: _Cols) -> torch.Tensor:
    device = canvas.device
    contrast = _t(0.8 + 0.4 * c.take(), device)[:, None, None, None]
    bright = _t(0.16 * c.take() - 0.08, device)[:, None, None, None]
    out = (canvas - 0.5) * contrast + 0.5 + bright
    return (out.clamp(0, 1) * 255.0).round().to(torch.uint8)


# --------------------------------------------------------------------------- scenes

_POOL = None


def _pool(workers: int):
    global _POOL
    if _POOL is None:
        import concurrent.futures
        import multiprocessing as mp
        _POOL = concurrent.futures.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"))
    return _POOL


class _Scenes:
    task = ""
    size = 0

    def __init__(self, root: str, split: str, seed: int = 0, device="cpu", prefetch: int = 0):
        """prefetch > 0: batch() draws the per-frame random numbers of the next `prefetch`
        batches in worker processes (spawned once per Python process, shared by all scenes),
        so the main thread only renders. Frames are identical with or without prefetch."""
        if split not in _SPLIT_CODE:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.root, self.split, self.seed = root, split, int(seed)
        self.device = torch.device(device)
        self.items = _Items.get(root, split, self.device)
        self.cursor = 0
        self.prefetch = int(prefetch)
        self._pending = []          # (start, count, future)

    def batch(self, n: int):
        """The next ``n`` frames of this stream (frames cursor..cursor+n-1); advances the cursor."""
        pre = None
        if self.prefetch > 0:
            pool = _pool(max(1, min(8, (os.cpu_count() or 2) - 2)))
            self._pending = [p for p in self._pending if p[0] >= self.cursor]
            nxt = self._pending[-1][0] + self._pending[-1][1] if self._pending else self.cursor
            while len(self._pending) < self.prefetch + 1:
                self._pending.append((nxt, n, pool.submit(_frame_uniforms, self.seed, self.task,
                                                          self.split, nxt, n)))
                nxt += n
            start, count, fut = self._pending.pop(0)
            if start == self.cursor and count == n:
                pre = fut.result()
            else:
                self._pending = []
        out = self.frames(self.cursor, n, pre)
        self.cursor += n
        return out


class ClsScenes(_Scenes):
    """Classification scenes, 224x224. ``frames(start, count)`` -> (uint8 [B,3,H,W] RGB, int64 [B])."""

    task = "cls"
    size = 224

    @torch.no_grad()
    def frames(self, start: int, count: int, _pre=None):
        s = self.size
        u, tile = _pre if _pre is not None else _frame_uniforms(self.seed, "cls", self.split, start, count)
        c = _Cols(u)
        it = self.items
        idx_frames = np.arange(start, start + count)
        u_item = c.take()
        if self.split == "test":
            dom_idx = idx_frames % it.n
        else:
            dom_idx = it.random_item(u_item)
        label = it.labels_np[dom_idx]
        bg = _sample_background(c)
        clutter = _sample_clutter(c, 4)

        # dominant item: 28-grid box of side ~100-230 px, may stick out of the frame by 15 %
        side = 100.0 + 130.0 * c.take()
        asp = np.exp((c.take() - 0.5) * 0.32)
        sw, sh = side * asp, side / asp
        cx = s / 2 + (c.take() - 0.5) * np.maximum(s - 0.7 * sw, 0)
        cy = s / 2 + (c.take() - 0.5) * np.maximum(s - 0.7 * sh, 0)
        col_a, col_b = _item_colours(c)
        col_a, col_b = _ensure_contrast(col_a, col_b, bg["ref"])
        dominant = {"idx": dom_idx, "on": np.ones(count), "sw": sw, "sh": sh,
                    "x0": cx - sw / 2, "y0": cy - sh / 2, "flip": c.take() < 0.5,
                    "col_a": col_a, "col_b": col_b}

        def distractor(front: bool):
            cls_d = (label + 1 + np.floor(c.take() * 9).astype(np.int64)) % 10
            d_idx = it.item_of_class(cls_d, c.take())
            ratio = (0.25 + (0.25 if front else 0.35) * c.take())
            d_side = side * ratio
            d_asp = np.exp((c.take() - 0.5) * 0.32)
            dsw, dsh = d_side * d_asp, d_side / d_asp
            if front:   # enters from one frame edge: centre within [-0.25, +0.15] side of the edge
                edge = np.floor(c.take() * 4).astype(np.int64)
                along = c.take() * s
                across = (c.take() * 0.4 - 0.25) * d_side
                dcx = np.select([edge == 0, edge == 1, edge == 2], [across, s - across, along], along)
                dcy = np.select([edge == 0, edge == 1, edge == 2], [along, along, across], s - across)
            else:
                dcx = -0.3 * dsw + c.take() * (s + 0.6 * dsw)
                dcy = -0.3 * dsh + c.take() * (s + 0.6 * dsh)
            a, b_ = _item_colours(c)
            return {"idx": d_idx, "sw": dsw, "sh": dsh, "x0": dcx - dsw / 2, "y0": dcy - dsh / 2,
                    "flip": c.take() < 0.5, "col_a": a, "col_b": b_}

        n_behind = np.floor(c.take() * 4)
        behind = []
        for j in range(3):
            d = distractor(False)
            d["on"] = (j < n_behind).astype(np.float64)
            behind.append(d)
        front = distractor(True)
        front["on"] = (c.take() < 0.3).astype(np.float64)

        canvas = _render_background(bg, tile, s, s, self.device)
        canvas = _render_clutter(canvas, clutter)
        for d in behind:
            canvas = _draw_items(canvas, it, d)
        canvas = _draw_items(canvas, it, dominant)
        canvas = _draw_items(canvas, it, front)
        images = _finish(canvas, c)
        return images, _t(label, self.device, torch.int64)


class DetScenes(_Scenes):
    """Detection scenes, 320x320, 1-8 items.

    ``frames(start, count)`` -> (uint8 [B,3,H,W] RGB, boxes: list of float32 [k,4] (x1,y1,x2,y2 in
    pixels), classes: list of int64 [k]); tensors on the scenes' device. Labelling rules: module doc.
    """

    task = "det"
    size = 320
    max_items = 8
    tries = 10
    min_inside = 0.5
    max_overlap = 0.2

    @torch.no_grad()
    def frames(self, start: int, count: int, _pre=None):
        s = float(self.size)
        u, tile = _pre if _pre is not None else _frame_uniforms(self.seed, "det", self.split, start, count)
        c = _Cols(u)
        it = self.items
        bg = _sample_background(c)
        clutter = _sample_clutter(c, 5)
        n_req = 1 + np.floor(c.take() * self.max_items)
        b = count
        boxes = np.zeros((b, self.max_items, 4))
        placed = np.zeros((b, self.max_items), dtype=bool)
        slots = []
        for j in range(self.max_items):
            idx = it.random_item(c.take())
            side = np.exp(np.log(30.0) + c.take() * (np.log(190.0) - np.log(30.0)))
            asp = np.exp((c.take() - 0.5) * 0.32)
            sw, sh = side * asp, side / asp
            flip = c.take() < 0.5
            tb = it.box[idx].copy()                                   # c0, r0, c1, r1 (28 grid)
            c0 = np.where(flip, 28 - tb[:, 2], tb[:, 0])
            c1 = np.where(flip, 28 - tb[:, 0], tb[:, 2])
            bw, bh = (c1 - c0) * sw / 28, (tb[:, 3] - tb[:, 1]) * sh / 28
            cand_cx = c.take(self.tries) * s                           # centre of the item's box
            cand_cy = c.take(self.tries) * s
            x1 = cand_cx - bw[:, None] / 2
            y1 = cand_cy - bh[:, None] / 2
            x2, y2 = x1 + bw[:, None], y1 + bh[:, None]
            area = (bw * bh)[:, None]
            inside = (np.clip(x2, 0, s) - np.clip(x1, 0, s)) * (np.clip(y2, 0, s) - np.clip(y1, 0, s))
            ok = inside >= self.min_inside * area
            for k in range(j):
                ob = boxes[:, k]
                iw = np.minimum(x2, ob[:, 2:3]) - np.maximum(x1, ob[:, 0:1])
                ih = np.minimum(y2, ob[:, 3:4]) - np.maximum(y1, ob[:, 1:2])
                inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
                oarea = ((ob[:, 2] - ob[:, 0]) * (ob[:, 3] - ob[:, 1]))[:, None]
                bad = inter > self.max_overlap * np.minimum(area, oarea)
                ok &= ~(bad & placed[:, k:k + 1])
            ok &= (j < n_req)[:, None]
            any_ok = ok.any(1)
            t = ok.argmax(1)
            r = np.arange(b)
            bx1, by1, bx2, by2 = x1[r, t], y1[r, t], x2[r, t], y2[r, t]
            boxes[:, j] = np.stack([bx1, by1, bx2, by2], 1)
            placed[:, j] = any_ok
            col_a, col_b = _item_colours(c)
            col_a, col_b = _ensure_contrast(col_a, col_b, bg["ref"])
            slots.append({"idx": idx, "on": any_ok.astype(np.float64), "sw": sw, "sh": sh,
                          "x0": bx1 - c0 * sw / 28, "y0": by1 - tb[:, 1] * sh / 28, "flip": flip,
                          "col_a": col_a, "col_b": col_b, "cls": it.labels_np[idx]})

        canvas = _render_background(bg, tile, self.size, self.size, self.device)
        canvas = _render_clutter(canvas, clutter)
        for sl in slots:
            canvas = _draw_items(canvas, it, sl)
        images = _finish(canvas, c)

        clipped = np.clip(boxes, 0, s)
        out_boxes, out_cls = [], []
        for i in range(b):
            m = placed[i]
            out_boxes.append(_t(clipped[i][m].reshape(-1, 4), self.device, torch.float32))
            out_cls.append(_t(np.array([sl["cls"][i] for sl in slots])[m], self.device, torch.int64))
        return images, out_boxes, out_cls


def pack_targets(boxes: Sequence[torch.Tensor], classes: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenates per-frame targets into float32 [M,6]: (frame index, class, x1, y1, x2, y2)."""
    rows = []
    for i, (bx, cl) in enumerate(zip(boxes, classes)):
        if bx.numel() == 0:
            continue
        fi = torch.full((bx.shape[0], 1), float(i), device=bx.device)
        rows.append(torch.cat([fi, cl.float()[:, None], bx.float()], 1))
    if not rows:
        dev = boxes[0].device if len(boxes) else "cpu"
        return torch.zeros((0, 6), device=dev)
    return torch.cat(rows, 0)


def to_hwc_numpy(images: torch.Tensor) -> np.ndarray:
    """uint8 [B,3,H,W] RGB tensor (any device) -> numpy uint8 [B,H,W,3] RGB."""
    return images.permute(0, 2, 3, 1).contiguous().cpu().numpy()


if __name__ == "__main__":   # quick look: python3 fashionscenes.py DATA OUTDIR
    import sys
    import time
    import cv2
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    t0 = time.time()
    imgs, labels = ClsScenes(root, "test", 0).frames(0, 16)
    t1 = time.time()
    for i, im in enumerate(to_hwc_numpy(imgs)):
        cv2.imwrite(os.path.join(out, f"cls_{i:02d}_{CLASSES[int(labels[i])].replace('/', '-')}.png"), im[:, :, ::-1])
    dimgs, boxes, classes = DetScenes(root, "test", 0).frames(0, 8)
    t2 = time.time()
    for i, im in enumerate(to_hwc_numpy(dimgs)):
        im = np.ascontiguousarray(im[:, :, ::-1])
        for bx, cl in zip(boxes[i].tolist(), classes[i].tolist()):
            cv2.rectangle(im, (int(bx[0]), int(bx[1])), (int(math.ceil(bx[2])) - 1, int(math.ceil(bx[3])) - 1), (0, 0, 255), 1)
            cv2.putText(im, str(cl), (int(bx[0]) + 2, int(bx[1]) + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1)
        cv2.imwrite(os.path.join(out, f"det_{i:02d}.png"), im)
    print(f"cls 16 frames {t1 - t0:.2f}s, det 8 frames {t2 - t1:.2f}s")
