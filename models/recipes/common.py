"""Helpers shared by the model-zoo recipes (export, manifest, reference vectors, eval sets).

Everything here follows models/README.md (schema 1). Function names are stable; recipes import:

    sha256_file(path) -> str
    quantize_per_tensor(x, bits=8, per_sample=True) -> tensor   the wire codec (README reference)
    export_onnx(model, example, path, input_name, output_name, opset=17) -> list of op types
    onnx_op_types(path) -> sorted op type list
    OnnxRunner(path) / onnxruntime_available()                   onnxruntime CPU wrapper (GPU host)
    count_params_macs(model, example) -> (params, macs)           Conv/Linear via forward hooks
    preprocess(frames_rgb, spec) -> float32 NCHW                  the manifest's input preprocessing
    letterbox(img_rgb, width, height, pad) -> (img, scale, pad_x, pad_y)
    write_eval_set(folder, frames_rgb, items, task, classes, quality=95) -> file names
    read_eval_set(folder) -> (frames_rgb uint8 [N,H,W,3] decoded by cv2, labels.json dict)
    write_mjpeg_avi(path, frames_rgb, fps=10, quality=95)
    jpeg_sizes(frames_rgb, quality=90) -> list of byte counts
    write_f32(path, array)  /  write_reference(folder, items)     reference vectors + vectors.json
    write_yaml(path, dict)                                         model.yaml (key order kept)
    hardware_name() / torch_version()
    Timer                                                          wall-clock stopwatch

frames_rgb is always numpy uint8 [N,H,W,3] in RGB order; cv2 wants BGR, the helpers convert.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import platform
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn


# --------------------------------------------------------------------------- small things

def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def torch_version() -> str:
    return torch.__version__


def hardware_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


class Timer:
    def __init__(self):
        self.t0 = time.time()

    def __call__(self) -> float:
        return time.time() - self.t0


# --------------------------------------------------------------------------- the wire codec

def quantize_per_tensor(x: torch.Tensor, bits: int = 8, per_sample: bool = True) -> torch.Tensor:
    """Asymmetric per-tensor quantize + dequantize, exactly as models/README.md specifies:
    lo = min(x), hi = max(x), scale = (hi - lo) / (2^bits - 1) (1 if hi == lo),
    q = clamp(floor((x - lo) / scale + 0.5), 0, 2^bits - 1), x' = q * scale + lo (float32).
    per_sample=True treats each x[i] of a batch as its own tensor (one FeatureFrame each)."""
    levels = float(2 ** bits - 1)
    x = x.float()
    if per_sample:
        flat = x.reshape(x.shape[0], -1)
        lo = flat.min(1).values.view(-1, *([1] * (x.dim() - 1)))
        hi = flat.max(1).values.view(-1, *([1] * (x.dim() - 1)))
    else:
        lo, hi = x.min(), x.max()
    scale = (hi - lo) / levels
    scale = torch.where(hi == lo, torch.ones_like(scale), scale)
    q = torch.clamp(torch.floor((x - lo) / scale + 0.5), 0, levels)
    return q * scale + lo


# --------------------------------------------------------------------------- ONNX

def export_onnx(model: nn.Module, example: torch.Tensor, path: str, input_name: str,
                output_name: str, opset: int = 17) -> List[str]:
    """Exports with static shapes (the example's), opset 17, eval mode, constant folding (folds
    BatchNorm into Conv). Uses the TorchScript exporter (dynamo=False on torch >= 2.x, which
    otherwise defaults to the dynamo exporter). Returns the graph's op types; raises if a
    BatchNormalization node survived (TensorRT-friendly graphs only)."""
    model = model.eval()
    kwargs = dict(input_names=[input_name], output_names=[output_name], opset_version=opset,
                  export_params=True)
    accepted = inspect.signature(torch.onnx.export).parameters
    if "dynamo" in accepted:
        kwargs["dynamo"] = False
    if "do_constant_folding" in accepted:
        kwargs["do_constant_folding"] = True
    if "training" in accepted and hasattr(torch.onnx, "TrainingMode"):
        kwargs["training"] = torch.onnx.TrainingMode.EVAL
    with torch.no_grad():
        torch.onnx.export(model, (example,), path, **kwargs)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    if "BatchNormalization" in ops:
        raise RuntimeError(f"{path}: BatchNormalization was not folded; ops={ops}")
    return ops


def onnx_op_types(path: str) -> List[str]:
    import onnx
    return sorted({n.op_type for n in onnx.load(path).graph.node})


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        return True
    except Exception:
        return False


class OnnxRunner:
    """onnxruntime CPU session for one single-input single-output model (batch 1 graphs are run
    frame by frame)."""

    def __init__(self, path: str, threads: Optional[int] = None):
        import onnxruntime as ort
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.input = self.sess.get_inputs()[0].name
        self.output = self.sess.get_outputs()[0].name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x: float32 [N,...]; runs each x[i:i+1] and stacks the results."""
        outs = [self.sess.run([self.output], {self.input: np.ascontiguousarray(x[i:i + 1], np.float32)})[0]
                for i in range(x.shape[0])]
        return np.concatenate(outs, 0)


# --------------------------------------------------------------------------- cost

def count_params_macs(model: nn.Module, example: torch.Tensor) -> Tuple[int, int]:
    """Parameters of the module, and multiply-accumulates of its Conv2d/Linear layers for one
    forward pass of `example` (batch 1 expected), counted with forward hooks."""
    macs = [0]
    hooks = []

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        macs[0] += int(out.numel() // out.shape[0]) * k

    def lin_hook(m, inp, out):
        macs[0] += int(out.numel() // out.shape[0]) * m.in_features

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(lin_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(example)
    model.train(was_training)
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    return int(params), int(macs[0])


# --------------------------------------------------------------------------- preprocessing

def letterbox(img: np.ndarray, width: int, height: int, pad: int = 114):
    """Keeps aspect, resizes (cv2 INTER_LINEAR) to fit, pads centred with `pad`.
    scale = min(width/w, height/h); new size = round(w*scale), round(h*scale);
    pad_x = (width - new_w) // 2, pad_y = (height - new_h) // 2. Returns (img, scale, pad_x, pad_y)."""
    import cv2
    h, w = img.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = int(round(w * scale)), int(round(h * scale))
    out = np.full((height, width, 3), pad, dtype=np.uint8)
    resized = img if (nw, nh) == (w, h) else cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    px, py = (width - nw) // 2, (height - nh) // 2
    out[py:py + nh, px:px + nw] = resized
    return out, scale, px, py


def preprocess(frames_rgb: np.ndarray, spec: Dict) -> np.ndarray:
    """The manifest's `input` preprocessing: frames_rgb uint8 [N,H,W,3] RGB -> float32 [N,3,h,w].
    resize (stretch: cv2.resize INTER_LINEAR when the size differs; letterbox: see letterbox()),
    colour order, x = pixel*scale, (x - mean[c]) / std[c]."""
    import cv2
    w, h = spec["width"], spec["height"]
    out = np.empty((frames_rgb.shape[0], 3, h, w), dtype=np.float32)
    mean = np.asarray(spec["mean"], np.float32)[:, None, None]
    std = np.asarray(spec["std"], np.float32)[:, None, None]
    for i, f in enumerate(frames_rgb):
        if spec.get("resize", "stretch") == "letterbox":
            f = letterbox(f, w, h, spec.get("pad_value", 114))[0]
        elif f.shape[0] != h or f.shape[1] != w:
            f = cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)
        if spec.get("color", "rgb") == "bgr":
            f = f[:, :, ::-1]
        x = f.transpose(2, 0, 1).astype(np.float32) * np.float32(spec["scale"])
        out[i] = (x - mean) / std
    return out


def preprocess_torch(images_u8: torch.Tensor, spec: Dict) -> torch.Tensor:
    """Same as preprocess() for uint8 [N,3,H,W] RGB tensors already at the input size (training)."""
    mean = torch.tensor(spec["mean"], device=images_u8.device).view(1, 3, 1, 1)
    std = torch.tensor(spec["std"], device=images_u8.device).view(1, 3, 1, 1)
    x = images_u8.float() * float(spec["scale"])
    if spec.get("color", "rgb") == "bgr":
        x = x.flip(1)
    return (x - mean) / std


# --------------------------------------------------------------------------- eval sets

def write_eval_set(folder: str, frames_rgb: np.ndarray, items: List[Dict], task: str,
                   classes: Sequence[str], quality: int = 95) -> List[str]:
    """Writes frames as NNNNNN.jpg (cv2, JPEG quality `quality`) and labels.json.
    items[i] holds the labels of frame i without "file": {"label": k} (classification) or
    {"boxes": [[x1,y1,x2,y2,cls], ...]} (detection)."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    names = []
    out_items = []
    for i, (f, it) in enumerate(zip(frames_rgb, items)):
        name = f"{i:06d}.jpg"
        ok = cv2.imwrite(os.path.join(folder, name), np.ascontiguousarray(f[:, :, ::-1]),
                         [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise IOError(f"cv2 could not write {folder}/{name}")
        names.append(name)
        out_items.append({"file": name, **it})
    with open(os.path.join(folder, "labels.json"), "w") as fh:
        json.dump({"task": task, "classes": list(classes), "items": out_items}, fh, indent=None,
                  separators=(",", ":"))
        fh.write("\n")
    return names


def read_eval_set(folder: str):
    """Reads labels.json and decodes every listed JPEG with cv2 -> (uint8 [N,H,W,3] RGB, labels)."""
    import cv2
    with open(os.path.join(folder, "labels.json")) as fh:
        labels = json.load(fh)
    frames = []
    for it in labels["items"]:
        im = cv2.imread(os.path.join(folder, it["file"]), cv2.IMREAD_COLOR)
        if im is None:
            raise IOError(f"cv2 could not read {folder}/{it['file']}")
        frames.append(im[:, :, ::-1])
    return np.ascontiguousarray(np.stack(frames)), labels


def write_mjpeg_avi(path: str, frames_rgb: np.ndarray, fps: float = 10.0, quality: int = 95) -> None:
    """MJPEG AVI (cv2.VideoWriter, fourcc 'MJPG') of the frames in order."""
    import cv2
    h, w = frames_rgb.shape[1:3]
    vw = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not vw.isOpened():
        raise IOError(f"cv2.VideoWriter could not open {path} with MJPG")
    try:
        vw.set(cv2.VIDEOWRITER_PROP_QUALITY, float(quality))
    except Exception:
        pass
    for f in frames_rgb:
        vw.write(np.ascontiguousarray(f[:, :, ::-1]))
    vw.release()
    cap = cv2.VideoCapture(path)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    if n != len(frames_rgb):
        raise IOError(f"{path}: wrote {len(frames_rgb)} frames but the file reports {n}")


def jpeg_sizes(frames_rgb: np.ndarray, quality: int = 90) -> List[int]:
    import cv2
    sizes = []
    for f in frames_rgb:
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(f[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise IOError("cv2.imencode failed")
        sizes.append(int(buf.size))
    return sizes


# --------------------------------------------------------------------------- reference vectors

def write_f32(path: str, array) -> None:
    """Raw little-endian float32, C order."""
    a = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    a.tofile(path)


def write_reference(folder: str, items: List[Dict[str, np.ndarray]]) -> str:
    """items[i]: {"image": uint8 [H,W,3] RGB (written as ref_i.png), "input", "head_output",
    "tail_output", "full_output": float arrays}. Writes the files and vectors.json (README format);
    returns the path of vectors.json."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    entries = []
    for i, it in enumerate(items):
        e = {"image": f"ref_{i}.png", "input": f"input_{i}.f32", "head_output": f"head_{i}.f32",
             "tail_output": f"tail_{i}.f32", "full_output": f"full_{i}.f32"}
        if not cv2.imwrite(os.path.join(folder, e["image"]), np.ascontiguousarray(it["image"][:, :, ::-1])):
            raise IOError(f"cv2 could not write {e['image']}")
        write_f32(os.path.join(folder, e["input"]), it["input"])
        write_f32(os.path.join(folder, e["head_output"]), it["head_output"])
        write_f32(os.path.join(folder, e["tail_output"]), it["tail_output"])
        write_f32(os.path.join(folder, e["full_output"]), it["full_output"])
        entries.append(e)
    path = os.path.join(folder, "vectors.json")
    with open(path, "w") as fh:
        json.dump({"items": entries}, fh, indent=2)
        fh.write("\n")
    return path


# --------------------------------------------------------------------------- manifest

def _to_builtin(x):
    if isinstance(x, dict):
        return {str(k): _to_builtin(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_builtin(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, str):
        return str(x)          # e.g. torch.__version__ is a str subclass yaml cannot represent
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x)
    return x


def write_yaml(path: str, data: Dict) -> None:
    """Writes a dict as YAML keeping key order; short lists of scalars in flow style."""
    import yaml
    with open(path, "w") as fh:
        yaml.safe_dump(_to_builtin(data), fh, sort_keys=False, default_flow_style=None, width=200,
                       allow_unicode=False)
