"""LeYOLO-nano split detector on FashionScenes-det: teacher, BottleFit student at stride 8, export.

Stages (``--stage all`` runs them in order; ``teacher`` and ``student`` let the GPU host run them as
two commands of under 10 minutes each, passing ``--work`` checkpoints between them):
  1. teacher  - unsplit LeYOLO-nano (models/recipes/leyolo.py) trained on freshly generated
                FashionScenes-det train frames (never the same frame twice), AdamW + warmup/cosine,
                bf16 autocast on CUDA, EMA of the weights; task-aligned assigner, CIoU + BCE.
  2. distill  - BottleFit stage 1: student head = copy of the teacher's stem..stride-8 stage +
                encoder down to C=8 channels at 40x40 (the bottleneck); decoder back to the 32-ch
                stride-8 feature. Trained so that, through the frozen teacher tail, the decoded
                stride-8 feature and the later maps (P4, P5 and the three neck outputs) match the
                frozen teacher's (sum of MSEs), Adam.
  3. finetune - BottleFit stage 2: head (encoder) frozen; decoder + tail trained with the detection
                loss, half of the batches through the 8-bit per-tensor wire quantizer; EMA.
  4. measure + export - COCO-style mAP@0.5 and @0.5:0.95 on the FashionScenes-det test split
                (unsplit FP32, split FP32, split 8-bit), the same on the eval subset written as
                JPEG q95 and read back with cv2 (numpy reference decoding/NMS, and again through the
                exported ONNX files with onnxruntime when present), bytes, params/MACs, ONNX
                head/tail/full (opset 17, static), reference vectors, model.yaml, model card.

Full run (GPU host, ~13 min of H100):
    python3 models/recipes/train_leyolo_det.py --data .data/fashion-mnist --out models/fs-leyolo-nano-det
Smoke (any CPU, a few minutes):
    python3 models/recipes/train_leyolo_det.py --data .data/fashion-mnist --out /tmp/fs-leyolo-nano-det --smoke
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import queue
import shutil
import sys
import threading
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import fashionscenes as fs  # noqa: E402
import leyolo as ly  # noqa: E402

MODEL_ID = "fs-leyolo-nano-det"
INPUT_SPEC = {
    "width": 320, "height": 320, "color": "rgb", "resize": "letterbox", "pad_value": 114,
    "scale": 1.0 / 255.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0], "layout": "nchw",
}
POST = {"kind": "detection", "decode": "ltrb_anchor_free", "strides": [8, 16, 32],
        "score_activation": "sigmoid", "score_threshold": 0.25, "eval_score_threshold": 0.001,
        "iou_threshold": 0.6, "max_detections": 100}
BOTTLENECK_C = 8
TEST_SEED = 0
MAX_GT = fs.DetScenes.max_items
RECIPE = "models/recipes/train_leyolo_det.py"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def r4(x):
    return float(round(float(x), 4))


# --------------------------------------------------------------------------- data

def pad_targets(boxes, classes, device):
    b = len(boxes)
    labels = torch.full((b, MAX_GT), -1, dtype=torch.long, device=device)
    tb = torch.zeros((b, MAX_GT, 4), device=device)
    for i, (bx, cl) in enumerate(zip(boxes, classes)):
        k = bx.shape[0]
        if k:
            labels[i, :k] = cl.to(device)
            tb[i, :k] = bx.to(device).float()
    return labels, tb, labels >= 0


class TrainStream:
    """Fresh FashionScenes-det train frames. On CUDA, `workers` background threads render the next
    batches on their own CUDA streams while the GPU trains (the renderer draws its parameters on the
    CPU); worker k renders batches k, k+W, k+2W, ... and they are consumed in order, so the stream
    of frames is the same whatever the number of workers."""

    def __init__(self, root, seed, device, batch, prefetch=2, pool=0, workers=3, threaded=None):
        self.device, self.batch = torch.device(device), batch
        self.root, self.seed = root, seed
        self.pool = None
        self.wait = 0.0
        self.count = 0
        if pool:      # smoke: a small fixed pool of frames, batches drawn from it in order
            self.pool = fs.DetScenes(root, "train", seed, device).frames(0, pool)
            self.pos = 0
        if threaded is None:
            threaded = self.device.type == "cuda"
        self.threaded = threaded and self.pool is None
        if not self.threaded:
            self.scenes = fs.DetScenes(root, "train", seed, device)
        else:
            self.nw = workers
            self.stop = False
            self.qs = [queue.Queue(maxsize=prefetch) for _ in range(workers)]
            self.ths = [threading.Thread(target=self._work, args=(k,), daemon=True) for k in range(workers)]
            for th in self.ths:
                th.start()

    def _make(self, scenes, start):
        im, bx, cl = scenes.frames(start, self.batch)
        labels, tb, mask = pad_targets(bx, cl, self.device)
        return im, labels, tb, mask

    def _work(self, k):
        try:
            scenes = fs.DetScenes(self.root, "train", self.seed, self.device)
            cuda = self.device.type == "cuda"
            stream = torch.cuda.Stream(device=self.device) if cuda else None
            j = k
            with (torch.cuda.stream(stream) if cuda else contextlib.nullcontext()):
                while not self.stop:
                    item = self._make(scenes, j * self.batch)
                    if cuda:
                        stream.synchronize()
                    self.qs[k].put(item)
                    j += self.nw
        except Exception as e:  # surface the error in the consumer
            self.qs[k].put(e)

    def next(self):
        if self.pool is not None:
            im, bx, cl = self.pool
            idx = [(self.pos + i) % im.shape[0] for i in range(self.batch)]
            self.pos += self.batch
            labels, tb, mask = pad_targets([bx[i] for i in idx], [cl[i] for i in idx], self.device)
            return im[idx], labels, tb, mask
        if not self.threaded:
            item = self._make(self.scenes, self.count * self.batch)
            self.count += 1
            return item
        t0 = time.time()
        item = self.qs[self.count % self.nw].get()
        self.wait += time.time() - t0
        self.count += 1
        if isinstance(item, Exception):
            raise item
        if self.device.type == "cuda":
            cur = torch.cuda.current_stream(self.device)
            for t in item:
                t.record_stream(cur)
        return item

    def close(self):
        if self.threaded:
            self.stop = True
            for q in self.qs:
                try:
                    while True:
                        q.get_nowait()
                except queue.Empty:
                    pass
            for th in self.ths:
                th.join(timeout=30)
                for q in self.qs:
                    try:
                        while True:
                            q.get_nowait()
                    except queue.Empty:
                        pass


def to_input(u8, channels_last):
    x = u8.float() * (1.0 / 255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# --------------------------------------------------------------------------- training helpers

class EMA:
    def __init__(self, model, decay=0.9995, tau=1000.0):
        self.ema = copy.deepcopy(model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.n = decay, tau, 0

    @torch.no_grad()
    def update(self, model):
        self.n += 1
        d = self.decay * (1 - math.exp(-self.n / self.tau))
        msd = model.state_dict()
        esd = self.ema.state_dict()
        fe = [v for k, v in esd.items() if v.dtype.is_floating_point]
        fm = [msd[k].detach() for k, v in esd.items() if v.dtype.is_floating_point]
        torch._foreach_mul_(fe, d)
        torch._foreach_add_(fe, fm, alpha=1 - d)
        for k, v in esd.items():
            if not v.dtype.is_floating_point:
                v.copy_(msd[k])


def lr_factor(step, total, warmup):
    if step < warmup:
        return (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def make_adamw(params_named, lr, wd):
    decay, no_decay = [], []
    for n, p in params_named:
        if not p.requires_grad:
            continue
        (decay if p.ndim == 4 else no_decay).append(p)
    kw = {}
    if torch.cuda.is_available():
        kw["fused"] = True
    try:
        return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                                 lr=lr, betas=(0.9, 0.999), **kw)
    except (TypeError, RuntimeError):
        return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                                 lr=lr, betas=(0.9, 0.999))


def autocast(device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def quantize_wire(z):
    return common.quantize_per_tensor(z.float(), 8, per_sample=True)


def resolve_steps(requested, seconds, step_fn, probe_steps, log_name):
    """requested > 0: that many steps. requested == 0: run probe_steps, time them, and choose the
    number of steps that fits `seconds`; the choice is logged (and recorded in the manifest) so the
    run can be repeated with an explicit count."""
    if requested > 0:
        return requested, 0
    warm = probe_steps // 2          # first steps pay for cuDNN autotuning and thread start-up
    for i in range(warm):
        step_fn(i, probe_steps * 100)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.time()
    for i in range(warm, probe_steps):
        step_fn(i, probe_steps * 100)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    dt = (time.time() - t0) / (probe_steps - warm)
    total = max(probe_steps + 10, int(seconds / dt))
    log(f"{log_name}: {dt * 1000:.1f} ms/step over the last {probe_steps - warm} of {probe_steps} probe steps "
        f"-> {total} steps for {seconds:.0f} s")
    return total, probe_steps


# --------------------------------------------------------------------------- stages

def train_teacher(args, device, anchors, strides):
    torch.manual_seed(args.seed)
    model = ly.LeYOLONano().to(device)
    cl = device.type == "cuda"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    ema = EMA(model, tau=args.ema_tau)
    opt = make_adamw(model.named_parameters(), args.teacher_lr, args.wd)
    assigner = ly.TaskAlignedAssigner()
    stream = TrainStream(args.data, args.seed, device, args.batch, pool=args.pool)
    state = {"total": max(1, args.teacher_steps), "parts": None}

    def step(i, total):
        for g in opt.param_groups:
            g["lr"] = args.teacher_lr * lr_factor(i, total, args.warmup)
        im, labels, tb, mask = stream.next()
        with autocast(device):
            out = model(to_input(im, cl))
        loss, parts = ly.detection_loss(out.float(), (labels, tb, mask), anchors, strides, assigner)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        state["parts"] = (loss, parts)

    t0 = time.time()
    total, done = resolve_steps(args.teacher_steps, args.teacher_seconds, step, args.probe_steps, "teacher")
    # the probe steps ran with a long schedule's warmup; restart the count from there
    for i in range(done, total):
        step(i, total)
        if (i + 1) % args.log_every == 0 or i + 1 == total:
            loss, parts = state["parts"]
            log(f"teacher {i + 1}/{total} loss {float(loss.detach()):.3f} box {float(parts['box']):.3f} cls {float(parts['cls']):.3f} "
                f"lr {opt.param_groups[0]['lr']:.2e} {time.time() - t0:.0f}s (waited for data {stream.wait:.0f}s)")
        if time.time() - t0 > args.teacher_max_seconds:
            log(f"teacher: stopping at step {i + 1}: over --teacher-max-seconds")
            total = i + 1
            break
    stream.close()
    return ema.ema.float(), total, time.time() - t0


def distill(args, device, teacher, anchors, strides):
    torch.manual_seed(args.seed + 1)
    cl = device.type == "cuda"
    student = ly.SplitLeYOLO.from_teacher(teacher, args.channels).to(device)
    if cl:
        student = student.to(memory_format=torch.channels_last)
        teacher = teacher.to(memory_format=torch.channels_last)
    teacher.eval()
    for p in student.tail.tail.parameters():
        p.requires_grad_(False)
    params = list(student.head.parameters()) + list(student.tail.decoder.parameters())
    opt = torch.optim.Adam(params, lr=args.distill_lr)
    stream = TrainStream(args.data, args.seed + 1000, device, args.batch, pool=args.pool)
    state = {}

    def step(i, total):
        for g in opt.param_groups:
            g["lr"] = args.distill_lr * lr_factor(i, total, min(args.warmup, 100))
        student.head.train()
        student.tail.decoder.train()
        student.tail.tail.eval()
        im, *_ = stream.next()
        x = to_input(im, cl)
        with autocast(device):
            with torch.no_grad():
                t3 = teacher.front(x)
                tf = [t3] + teacher.tail.features(t3)
            s3 = student.tail.decoder(student.head(x))
            sf = [s3] + student.tail.tail.features(s3)
        losses = [F.mse_loss(a.float(), b.float()) for a, b in zip(sf, tf)]
        loss = sum(losses)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["loss"] = (loss, losses)

    t0 = time.time()
    total, done = resolve_steps(args.distill_steps, args.distill_seconds, step, args.probe_steps, "distill")
    for i in range(done, total):
        step(i, total)
        if (i + 1) % args.log_every == 0 or i + 1 == total:
            loss, losses = state["loss"]
            log(f"distill {i + 1}/{total} mse {float(loss.detach()):.4f} [" + " ".join(f"{float(v.detach()):.4f}" for v in losses)
                + f"] {time.time() - t0:.0f}s")
    stream.close()
    return student, total, time.time() - t0


def finetune(args, device, student, anchors, strides):
    torch.manual_seed(args.seed + 2)
    cl = device.type == "cuda"
    for p in student.head.parameters():
        p.requires_grad_(False)
    for p in student.tail.parameters():
        p.requires_grad_(True)
    student.head.eval()
    tail = student.tail
    ema = EMA(tail, tau=args.ema_tau / 4)
    opt = make_adamw(tail.named_parameters(), args.finetune_lr, args.wd)
    assigner = ly.TaskAlignedAssigner()
    stream = TrainStream(args.data, args.seed + 2000, device, args.batch, pool=args.pool)
    state = {}

    def step(i, total):
        for g in opt.param_groups:
            g["lr"] = args.finetune_lr * lr_factor(i, total, min(args.warmup, 100))
        tail.train()
        im, labels, tb, mask = stream.next()
        with torch.no_grad():
            with autocast(device):
                z = student.head(to_input(im, cl))
            z = z.float()
            if i % 2 == 1:
                z = quantize_wire(z)
        with autocast(device):
            out = tail(z)
        loss, parts = ly.detection_loss(out.float(), (labels, tb, mask), anchors, strides, assigner)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tail.parameters(), 10.0)
        opt.step()
        ema.update(tail)
        state["parts"] = (loss, parts)

    t0 = time.time()
    total, done = resolve_steps(args.finetune_steps, args.finetune_seconds, step, args.probe_steps, "finetune")
    for i in range(done, total):
        step(i, total)
        if (i + 1) % args.log_every == 0 or i + 1 == total:
            loss, parts = state["parts"]
            log(f"finetune {i + 1}/{total} loss {float(loss.detach()):.3f} box {float(parts['box']):.3f} cls {float(parts['cls']):.3f} "
                f"{time.time() - t0:.0f}s")
    stream.close()
    student.tail = ema.ema.float()
    return student, total, time.time() - t0


# --------------------------------------------------------------------------- measurement

def run_three(teacher, student, x):
    """Raw outputs [B,A,14] of unsplit FP32, split FP32, split 8-bit for float input x, plus z."""
    with torch.no_grad():
        full = teacher(x).float()
        if student is None:
            return {"unsplit_fp32": full}, None
        z = student.head(x).float()
        split = student.tail(z).float()
        split_q = student.tail(quantize_wire(z)).float()
    return {"unsplit_fp32": full, "split_fp32": split, "split_8bit": split_q}, z


def postprocess_batch(raw, fast):
    p = POST
    if fast:
        return ly.postprocess_torch(raw, p["eval_score_threshold"], p["iou_threshold"], p["max_detections"])
    return [ly.postprocess_numpy(r, p["eval_score_threshold"], p["iou_threshold"], p["max_detections"])
            for r in raw.cpu().numpy()]


def evaluate_test(args, device, teacher, student):
    """mAP on test frames 0..args.test_frames-1 (student None: the teacher alone)."""
    scenes = fs.DetScenes(args.data, "test", TEST_SEED, device)
    dets, gts = {}, []
    zmin, zmax = [], []
    n = args.test_frames
    fast = device.type == "cuda"
    for start in range(0, n, args.eval_batch):
        cnt = min(args.eval_batch, n - start)
        im, bx, cl = scenes.frames(start, cnt)
        outs, z = run_three(teacher, student, to_input(im, False))
        if z is not None:
            zmin.append(float(z.min()))
            zmax.append(float(z.max()))
        for k, raw in outs.items():
            dets.setdefault(k, []).extend(postprocess_batch(raw, fast))
        gts += [(b.cpu().numpy(), c.cpu().numpy()) for b, c in zip(bx, cl)]
    res = ly.coco_map_many(dets, gts, processes=3 if fast else 0)
    n_obj = int(sum(len(g[1]) for g in gts))
    return res, n_obj, ((min(zmin), max(zmax)) if zmin else None)


def dets_numpy_from_raw(raw_np):
    p = POST
    return [ly.postprocess_numpy(r, p["eval_score_threshold"], p["iou_threshold"], p["max_detections"])
            for r in raw_np]


def gts_from_labels(labels):
    out = []
    for it in labels["items"]:
        b = np.asarray(it["boxes"], np.float64).reshape(-1, 5)
        out.append((b[:, :4], b[:, 4].astype(np.int64)))
    return out


# --------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with the Fashion-MNIST idx .gz files")
    ap.add_argument("--out", required=True, help="model folder to (re)write, e.g. models/fs-leyolo-nano-det")
    ap.add_argument("--work", default="", help="checkpoint folder (teacher.pt, student.pt, state.json)")
    ap.add_argument("--stage", default="all", choices=["all", "teacher", "student"],
                    help="teacher: train + save the teacher; student: load it, distil, fine-tune, measure, export")
    ap.add_argument("--smoke", action="store_true", help="tiny CPU pass (few steps, few frames)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--channels", type=int, default=BOTTLENECK_C, help="bottleneck channels C at 40x40")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--eval-batch", type=int, default=250)
    ap.add_argument("--teacher-steps", type=int, default=0, help="0: as many as fit --teacher-seconds")
    ap.add_argument("--teacher-seconds", type=float, default=400)
    ap.add_argument("--teacher-max-seconds", type=float, default=480, help="hard stop (safety)")
    ap.add_argument("--teacher-lr", type=float, default=2e-3)
    ap.add_argument("--distill-steps", type=int, default=0)
    ap.add_argument("--distill-seconds", type=float, default=70)
    ap.add_argument("--distill-lr", type=float, default=1e-3)
    ap.add_argument("--finetune-steps", type=int, default=0)
    ap.add_argument("--finetune-seconds", type=float, default=110)
    ap.add_argument("--finetune-lr", type=float, default=5e-4)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--ema-tau", type=float, default=1000.0)
    ap.add_argument("--probe-steps", type=int, default=60)
    ap.add_argument("--test-frames", type=int, default=5000)
    ap.add_argument("--eval-frames", type=int, default=200)
    ap.add_argument("--quick-frames", type=int, default=1000, help="--stage teacher: quick mAP check on N test frames")
    ap.add_argument("--ref-frames", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=200)
    ap.add_argument("--pool", type=int, default=0, help="train from a fixed pool of N frames (smoke only)")
    ap.add_argument("--command", default="", help="the reproduce command to record in the manifest")
    args = ap.parse_args(argv)
    if args.smoke:
        args.batch = 2
        args.teacher_steps, args.distill_steps, args.finetune_steps = 4, 2, 2
        args.warmup, args.log_every, args.probe_steps = 2, 1, 2
        args.test_frames, args.eval_frames, args.eval_batch = 6, 6, 6
        args.pool = 4
        args.ref_frames = 2
    return args


def main(argv=None):
    args = parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    work = args.work or os.path.join(args.out + ".work")
    os.makedirs(work, exist_ok=True)
    anchors, strides = ly.make_anchors(device=device)
    state_path = os.path.join(work, "state.json")
    state = json.load(open(state_path)) if os.path.exists(state_path) and args.stage == "student" else {}

    if args.stage in ("all", "teacher"):
        log(f"teacher on {common.hardware_name()}, torch {torch.__version__}, batch {args.batch}")
        teacher, steps, secs = train_teacher(args, device, anchors, strides)
        torch.save({k: v.detach().cpu() for k, v in teacher.state_dict().items()}, os.path.join(work, "teacher.pt"))
        state.update({"teacher_steps": steps, "teacher_seconds": round(secs, 1)})
        json.dump(state, open(state_path, "w"), indent=1)
        log(f"teacher done: {steps} steps, {secs:.0f} s")
        if args.stage == "teacher" and args.quick_frames > 0:
            quick = argparse.Namespace(**vars(args))
            quick.test_frames = args.quick_frames
            res, _, _ = evaluate_test(quick, device, teacher.eval(), None)
            log(f"teacher quick check on {quick.test_frames} test frames: mAP50 {res['unsplit_fp32']['map50']:.4f} "
                f"mAP50:95 {res['unsplit_fp32']['map50_95']:.4f}")
            state["teacher_quick_map50"] = r4(res["unsplit_fp32"]["map50"])
            json.dump(state, open(state_path, "w"), indent=1)
        if args.stage == "teacher":
            return
    else:
        teacher = ly.LeYOLONano()
        teacher.load_state_dict(torch.load(os.path.join(work, "teacher.pt"), map_location="cpu"))
        teacher = teacher.to(device)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)

    student, d_steps, d_secs = distill(args, device, teacher, anchors, strides)
    log(f"distill done: {d_steps} steps, {d_secs:.0f} s")
    student, f_steps, f_secs = finetune(args, device, student, anchors, strides)
    log(f"finetune done: {f_steps} steps, {f_secs:.0f} s")
    student = student.float().eval()
    torch.save({k: v.detach().cpu() for k, v in student.state_dict().items()}, os.path.join(work, "student.pt"))
    state.update({"distill_steps": d_steps, "distill_seconds": round(d_secs, 1),
                  "finetune_steps": f_steps, "finetune_seconds": round(f_secs, 1)})
    json.dump(state, open(state_path, "w"), indent=1)
    measure_and_export(args, device, teacher.float().eval(), student, state)


def measure_and_export(args, device, teacher, student, state):
    # exact FP32 for every figure
    if device.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    teacher = teacher.to(memory_format=torch.contiguous_format)
    student = student.to(memory_format=torch.contiguous_format)
    t0 = time.time()
    log(f"measuring on {args.test_frames} test frames")
    test_res, n_obj, zrange = evaluate_test(args, device, teacher, student)
    for k, v in test_res.items():
        log(f"test {k}: mAP50 {v['map50']:.4f} mAP50:95 {v['map50_95']:.4f}")
    log(f"test measured in {time.time() - t0:.0f}s; bottleneck range seen {zrange}")

    out = args.out
    if os.path.exists(out):
        for name in ("head.onnx", "tail.onnx", "full.onnx", "model.yaml", "README.md"):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
        for d in ("eval", "reference"):
            shutil.rmtree(os.path.join(out, d), ignore_errors=True)
    os.makedirs(out, exist_ok=True)

    # eval subset: the first eval_frames test frames, JPEG q95, read back with cv2
    scenes = fs.DetScenes(args.data, "test", TEST_SEED, "cpu" if device.type == "cpu" else device)
    src_frames, items = [], []
    for start in range(0, args.eval_frames, args.eval_batch):
        cnt = min(args.eval_batch, args.eval_frames - start)
        im, bx, cl = scenes.frames(start, cnt)
        src_frames.append(fs.to_hwc_numpy(im))
        for b, c in zip(bx, cl):
            items.append({"boxes": [[round(float(v), 3) for v in bb] + [int(cc)]
                                    for bb, cc in zip(b.cpu().tolist(), c.cpu().tolist())]})
    src_frames = np.concatenate(src_frames)
    common.write_eval_set(os.path.join(out, "eval"), src_frames, items, "detection", fs.CLASSES, quality=95)
    frames, labels = common.read_eval_set(os.path.join(out, "eval"))
    eval_gts = gts_from_labels(labels)
    x_np = common.preprocess(frames, INPUT_SPEC)
    raws = {"unsplit_fp32": [], "split_fp32": [], "split_8bit": []}
    for s in range(0, len(x_np), args.eval_batch):
        x = torch.from_numpy(x_np[s:s + args.eval_batch]).to(device)
        outs, _ = run_three(teacher, student, x)
        for k in raws:
            raws[k].append(outs[k].cpu().numpy())
    raws = {k: np.concatenate(v) for k, v in raws.items()}
    eval_res = ly.coco_map_many({k: dets_numpy_from_raw(v) for k, v in raws.items()}, eval_gts,
                                processes=3 if device.type == "cuda" else 0)
    for k, v in eval_res.items():
        log(f"eval subset {k}: mAP50 {v['map50']:.4f} mAP50:95 {v['map50_95']:.4f}")
    if device.type == "cuda":   # the fast path used for the test split agrees with the reference
        fast = ly.coco_map(postprocess_batch(torch.from_numpy(raws["split_8bit"]).to(device), True), eval_gts)
        log(f"eval subset split_8bit via torch NMS path: mAP50 {fast['map50']:.4f} mAP50:95 {fast['map50_95']:.4f}")

    jpeg90 = common.jpeg_sizes(src_frames, 90)
    jpeg95 = [os.path.getsize(os.path.join(out, "eval", it["file"])) for it in labels["items"]]

    # export
    teacher_c, student_c = teacher.cpu().eval(), student.cpu().eval()
    img_ex = torch.from_numpy(x_np[:1]).float()
    z_ex = student_c.head(img_ex).detach()
    ops = {}
    ops["head"] = common.export_onnx(student_c.head, img_ex, os.path.join(out, "head.onnx"), "image", "bottleneck")
    ops["tail"] = common.export_onnx(student_c.tail, z_ex, os.path.join(out, "tail.onnx"), "bottleneck", "detections")
    ops["full"] = common.export_onnx(teacher_c, img_ex, os.path.join(out, "full.onnx"), "image", "detections")
    log(f"ONNX ops: {ops}")

    head_p, head_m = common.count_params_macs(student_c.head, img_ex)
    tail_p, tail_m = common.count_params_macs(student_c.tail, z_ex)
    full_p, full_m = common.count_params_macs(teacher_c, img_ex)

    # reference vectors (torch FP32 on CPU; tail on the unquantized head output)
    ref_items = []
    with torch.no_grad():
        for i in range(args.ref_frames):
            xi = torch.from_numpy(x_np[i:i + 1])
            zi = student_c.head(xi)
            ref_items.append({"image": frames[i], "input": xi.numpy(), "head_output": zi.numpy(),
                              "tail_output": student_c.tail(zi).numpy(), "full_output": teacher_c(xi).numpy()})
    common.write_reference(os.path.join(out, "reference"), ref_items)

    # ONNX Runtime check (GPU host): same raw outputs and the same eval-subset mAP through the files
    ort_res, ort_diff = None, None
    if common.onnxruntime_available():
        head_r = common.OnnxRunner(os.path.join(out, "head.onnx"))
        tail_r = common.OnnxRunner(os.path.join(out, "tail.onnx"))
        full_r = common.OnnxRunner(os.path.join(out, "full.onnx"))
        z_o = head_r(x_np)
        o_full, o_split = full_r(x_np), tail_r(z_o)
        o_q = tail_r(quantize_wire(torch.from_numpy(z_o)).numpy())
        ort_diff = {"full": float(np.abs(o_full - raws["unsplit_fp32"]).max()),
                    "split": float(np.abs(o_split - raws["split_fp32"]).max()),
                    "ref_head": max(float(np.abs(head_r(it["input"]) - it["head_output"]).max()) for it in ref_items),
                    "ref_tail": max(float(np.abs(tail_r(it["head_output"]) - it["tail_output"]).max()) for it in ref_items),
                    "ref_full": max(float(np.abs(full_r(it["input"]) - it["full_output"]).max()) for it in ref_items)}
        ort_res = {k: ly.coco_map(dets_numpy_from_raw(v), eval_gts)
                   for k, v in (("unsplit_fp32", o_full), ("split_fp32", o_split), ("split_8bit", o_q))}
        log(f"onnxruntime max |diff| vs torch: {ort_diff}")
        for k, v in ort_res.items():
            log(f"eval subset via onnxruntime {k}: mAP50 {v['map50']:.4f} mAP50:95 {v['map50_95']:.4f}")
    else:
        log("onnxruntime not installed here: ONNX files not cross-checked (the GPU host run checks them)")

    c = args.channels
    zshape = [1, c, 40, 40]
    det_shape = [1, 2100, 4 + len(fs.CLASSES)]

    def metric_block(res, frames_n):
        m = {"frames": frames_n}
        for k in ("unsplit_fp32", "split_fp32", "split_8bit"):
            m[k] = r4(res[k]["map50"])
        for k in ("unsplit_fp32", "split_fp32", "split_8bit"):
            m[k + "_map50_95"] = r4(res[k]["map50_95"])
        return m

    train_seconds = round(state.get("teacher_seconds", 0) + state.get("distill_seconds", 0)
                          + state.get("finetune_seconds", 0), 1)
    if args.command:
        command = args.command
    elif args.smoke:
        command = "python3 " + " ".join([RECIPE] + sys.argv[1:])
    else:   # one command that repeats the whole run with the step counts this run used
        command = (f"python3 {RECIPE} --data .data/fashion-mnist --out models/{MODEL_ID} --seed {args.seed} "
                   f"--batch {args.batch} --teacher-steps {state.get('teacher_steps')} "
                   f"--distill-steps {state.get('distill_steps')} --finetune-steps {state.get('finetune_steps')}")
    manifest = {
        "schema": 1,
        "id": MODEL_ID,
        "family": "leyolo",
        "task": "detection",
        "description": (f"LeYOLO-nano detector (320x320, 10 Fashion-MNIST classes) split at stride 8 with a "
                        f"BottleFit bottleneck of {c}x40x40 (FashionScenes-det)."),
        "input": dict(INPUT_SPEC),
        "head": {"file": "head.onnx", "sha256": common.sha256_file(os.path.join(out, "head.onnx")),
                 "input": {"name": "image", "shape": [1, 3, 320, 320]},
                 "output": {"name": "bottleneck", "shape": zshape}},
        "tail": {"file": "tail.onnx", "sha256": common.sha256_file(os.path.join(out, "tail.onnx")),
                 "input": {"name": "bottleneck", "shape": zshape},
                 "output": {"name": "detections", "shape": det_shape}},
        "full": {"file": "full.onnx", "sha256": common.sha256_file(os.path.join(out, "full.onnx")),
                 "input": {"name": "image", "shape": [1, 3, 320, 320]},
                 "output": {"name": "detections", "shape": det_shape}},
        "bottleneck": {"codec": {"bits": 8, "granularity": "per_tensor", "symmetric": False, "entropy": "none"}},
        "labels": list(fs.CLASSES),
        "postprocess": dict(POST),
        "eval": {"images": "eval", "labels": "eval/labels.json"},
        "reference": "reference/vectors.json",
        "metrics": {
            "test": metric_block(test_res, args.test_frames),
            # through the exported ONNX files (onnxruntime) where available: what the Java runner repeats
            "eval_subset": metric_block(ort_res if ort_res else eval_res, len(frames)),
            "bytes": {"raw_input": 320 * 320 * 3, "bottleneck_8bit": c * 40 * 40,
                      "jpeg_q90_mean": int(round(float(np.mean(jpeg90))))},
            "cost": {"head_params": head_p, "head_macs": head_m, "tail_params": tail_p, "tail_macs": tail_m,
                     "full_params": full_p, "full_macs": full_m},
        },
        "provenance": {
            "recipe": RECIPE,
            "command": command,
            "dataset": f"FashionScenes-det v{fs.GENERATOR_VERSION}: train stream seed {args.seed}, "
                       f"test split seed {TEST_SEED} frames 0..{args.test_frames - 1}",
            "seed": args.seed,
            "hardware": common.hardware_name(),
            "train_seconds": train_seconds,
            "steps": {"teacher": state.get("teacher_steps"), "distill": state.get("distill_steps"),
                      "finetune": state.get("finetune_steps"), "batch": args.batch},
            "torch": torch.__version__,
            "date": datetime.date.today().isoformat(),
            "smoke": bool(args.smoke),
        },
    }
    common.write_yaml(os.path.join(out, "model.yaml"), manifest)
    summary = {"test": test_res, "eval_subset": eval_res, "eval_subset_onnxruntime": ort_res,
               "onnxruntime_max_abs_diff": ort_diff, "objects_in_test": n_obj, "bottleneck_range": zrange,
               "jpeg_q90_mean": float(np.mean(jpeg90)), "jpeg_q95_mean_eval_files": float(np.mean(jpeg95)),
               "ops": ops, "state": state, "measure_seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.work or (out + ".work"), "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    write_card(out, manifest, summary, args)
    log(f"wrote {out} ({sum(os.path.getsize(os.path.join(d, f)) for d, _, fs_ in os.walk(out) for f in fs_) / 1e6:.2f} MB)")


def write_card(out, m, summary, args):
    import leyolo_card
    leyolo_card.write(out, m, summary, args)


if __name__ == "__main__":
    main()
