"""Entropic Student on FashionScenes-cls: a learned entropy bottleneck at the BottleFit classifier's
8x28x28 bottleneck, trained at several rate weights, exported with integer CDF tables.

Starts from the committed `models/fs-bottlefit-cls` (no retraining of the teacher): the teacher is
read back from its `full.onnx`, the student's encoder from `head.onnx` and its tail from
`tail.onnx` (BatchNorm is already folded there, so the networks are plain Conv+bias; their
outputs are checked against the folder's reference vectors before training).

Stages (all rate weights train side by side on the same stream of fresh train frames, so the
scene generator, the bottleneck of every recipe here, runs once for all of them):
  A. joint  - encoder + entropy bottleneck + tail. Loss per student:
              sum of MSEs to the frozen teacher at layer2/layer3/layer4 outputs
              + 0.5 CE + 0.5 KD(T=2) + lambda * (bits per latent element, from the noisy latent
              y + U(-1/2, 1/2) under the factorized prior) + the medians' auxiliary loss.
              The tail sees round(y - m) + m (straight-through), the values it gets at inference.
  B. tail   - encoder and entropy model frozen, integer tables built (entropy_model.build_tables);
              tail fine-tuned with 0.5 CE + 0.5 KD on exactly the decoded latents (clamped symbols + offsets).
  C. measure + export, per rate weight: top-1 on the whole test split (10,000 frames) with the
              integer tables (bytes = the rANS payload's ideal size + the FeatureFrame v4 header;
              the exact bytes come from `splitrt eval`), eval subset through ONNX Runtime with the
              reference rANS encoder (exact bytes; decode checked), head/tail ONNX, entropy.json,
              reference vectors + Python-encoded payloads of the eval subset, model.yaml, card.

Full run (GPU host): python3 models/recipes/train_entropic_cls.py --data .data/fashion-mnist --out DIR
Smoke (any CPU):     /usr/bin/python3 models/recipes/train_entropic_cls.py --data .data/fashion-mnist --out /tmp/ent --smoke
Export again from checkpoints (CPU is fine): add --from-ckpt DIR (skips stages A and B).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import entropy_model as em  # noqa: E402
import fashionscenes as fs  # noqa: E402
import train_bottlefit_cls as bf  # noqa: E402

BASE = "fs-bottlefit-cls"
TEST_SEED = 0
C = bf.BOTTLENECK_C


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- networks from ONNX

def plain(module: nn.Module) -> nn.Module:
    """BatchNorm -> Identity, every Conv2d gets a bias (the folded form the ONNX files hold)."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.Identity())
        else:
            plain(child)
        if isinstance(child, nn.Conv2d) and child.bias is None:
            child.bias = nn.Parameter(torch.zeros(child.out_channels))
    return module


def load_onnx_weights(module: nn.Module, path: str, example: torch.Tensor, forward=None) -> None:
    """Copies the Conv/Gemm initializers of an exported ONNX file into `module`'s Conv2d/Linear
    layers, matched in execution order (the order torch.onnx.export emits nodes); shapes must match."""
    import onnx
    from onnx import numpy_helper
    g = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = [n for n in g.node if n.op_type in ("Conv", "Gemm")]
    order, hooks = [], []
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(lambda mod, i, o: order.append(mod)))
    with torch.no_grad():
        (forward or module)(example)
    for h in hooks:
        h.remove()
    if len(order) != len(nodes):
        raise RuntimeError(f"{path}: {len(nodes)} Conv/Gemm nodes, module ran {len(order)} layers")
    for mod, node in zip(order, nodes):
        w, b = inits[node.input[1]], inits[node.input[2]]
        if tuple(w.shape) != tuple(mod.weight.shape):
            raise RuntimeError(f"{path}: node {node.name} weight {w.shape} vs {tuple(mod.weight.shape)}")
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(w.copy()))
            mod.bias.copy_(torch.from_numpy(b.copy()))


def load_base(base_dir: str):
    """(teacher, encoder, tail) from the committed BottleFit folder, checked against its reference vectors."""
    teacher = plain(bf.Teacher()).eval()
    encoder = plain(bf.Encoder()).eval()
    tail = plain(bf.Tail(bf.Decoder(), bf.Teacher())).eval()
    img = torch.zeros(1, 3, 224, 224)
    load_onnx_weights(teacher, os.path.join(base_dir, "full.onnx"), img)
    load_onnx_weights(encoder, os.path.join(base_dir, "head.onnx"), img)
    load_onnx_weights(tail, os.path.join(base_dir, "tail.onnx"), torch.zeros(1, C, 28, 28))
    ref = os.path.join(base_dir, "reference")
    with open(os.path.join(ref, "vectors.json")) as fh:
        items = json.load(fh)["items"]
    worst = 0.0
    for it in items:
        rd = lambda k, shape: torch.from_numpy(np.fromfile(os.path.join(ref, it[k]), "<f4").reshape(shape))  # noqa: E731
        x = rd("input", (1, 3, 224, 224))
        with torch.no_grad():
            worst = max(worst, (teacher(x) - rd("full_output", (1, 10))).abs().max().item(),
                        (encoder(x) - rd("head_output", (1, C, 28, 28))).abs().max().item(),
                        (tail(rd("head_output", (1, C, 28, 28))) - rd("tail_output", (1, 10))).abs().max().item())
    if worst > 1e-3:
        raise RuntimeError(f"networks read from {base_dir} miss its reference vectors by {worst}")
    log(f"loaded {base_dir}: teacher, encoder, tail; max |diff| to the reference vectors {worst:.2e}")
    return teacher, encoder, tail


class Student(nn.Module):
    def __init__(self, encoder, tail, gain):
        super().__init__()
        self.encoder = copy.deepcopy(encoder)
        self.tail = copy.deepcopy(tail)
        self.eb = em.EntropyBottleneck(C)
        last = [m for m in self.encoder.modules() if isinstance(m, nn.Conv2d)][-1]
        first = [m for m in self.tail.modules() if isinstance(m, nn.Conv2d)][0]
        with torch.no_grad():                 # y -> gain*y at the latent, undone by the tail's first conv
            last.weight.mul_(gain)
            last.bias.mul_(gain)
            first.weight.div_(gain)


# --------------------------------------------------------------------------- training

def kd_loss(logits, t_logits, temp=2.0):
    return F.kl_div(F.log_softmax(logits / temp, 1), F.softmax(t_logits / temp, 1), reduction="batchmean") * temp ** 2


def stage_joint(args, device, teacher, students, lambdas):
    scenes = fs.ClsScenes(args.data, "train", args.seed + 3, device, prefetch=bf.prefetch(device))
    opts = []
    for s in students:
        s.train()
        opts.append(torch.optim.Adam([
            {"params": list(s.encoder.parameters()) + list(s.tail.parameters()), "lr": args.joint_lr, "base": args.joint_lr},
            {"params": [p for n, p in s.eb.named_parameters() if n != "medians"], "lr": args.eb_lr, "base": args.eb_lr},
            {"params": [s.eb.medians], "lr": args.eb_lr, "base": args.eb_lr}]))
    sch = bf.Schedule(args.joint_steps, args.joint_seconds)
    n_elem = C * 28 * 28
    while not sch.done():
        prog = sch.progress()
        u8, y = scenes.batch(args.batch)
        x = bf.to_input(u8, device)
        with torch.no_grad(), bf.autocast(device):
            t2 = teacher.front(x)
            t3, t4, tl = teacher.back(t2)
            tl = tl.float()
        stats = []
        for s, opt, lam in zip(students, opts, lambdas):
            for g in opt.param_groups:
                g["lr"] = bf.lr_at(prog, g["base"], warmup=0.02)
            with bf.autocast(device):
                z = s.encoder(x)
            z = z.float()
            bits = -torch.log2(s.eb.likelihood(s.eb.noisy(z))).sum() / z.shape[0]
            with bf.autocast(device):
                s2, s3, s4, logits = s.tail.features(s.eb.rounded_ste(z))
            dist = sum(F.mse_loss(a.float(), b.float()) for a, b in ((s2, t2), (s3, t3), (s4, t4)))
            logits = logits.float()
            task = 0.5 * F.cross_entropy(logits, y) + 0.5 * kd_loss(logits, tl)
            loss = dist + task + lam * bits / n_elem + s.eb.aux_loss()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            stats.append((bits.item() / 8, dist.item(), task.item()))
        sch.step += 1
        if sch.step % args.log_every == 0 or sch.done():
            log(f"joint step {sch.step} " + " | ".join(
                f"l={lam:g}: {b:.0f}B d={d:.3f} t={t:.3f}" for lam, (b, d, t) in zip(lambdas, stats)))
    return {"steps": sch.step, "seconds": round(time.time() - sch.t0, 1), "frames": sch.step * args.batch}


def table_bounds(tables, device):
    lo = torch.tensor([ch["min_symbol"] for ch in tables["channels"]], dtype=torch.float32, device=device)
    hi = torch.tensor([ch["min_symbol"] + len(ch["cdf"]) - 2 for ch in tables["channels"]],
                      dtype=torch.float32, device=device)
    return lo, hi


def decoded_latent(z, tables, device):
    """The latent the tail receives: float32 maths exactly as entropy_model.symbols_of/dequantize."""
    m = torch.tensor([ch["offset"] for ch in tables["channels"]], dtype=torch.float32, device=device).view(1, -1, 1, 1)
    lo, hi = table_bounds(tables, device)
    s = torch.floor((z.float() - m) + 0.5)
    s = torch.maximum(torch.minimum(s, hi.view(1, -1, 1, 1)), lo.view(1, -1, 1, 1))
    return s, s + m


def stage_tail(args, device, teacher, students, tables):
    scenes = fs.ClsScenes(args.data, "train", args.seed + 4, device, prefetch=bf.prefetch(device))
    opts = []
    for s in students:
        s.encoder.eval()
        for p in list(s.encoder.parameters()) + list(s.eb.parameters()):
            p.requires_grad_(False)
        s.tail.train()
        opts.append(torch.optim.AdamW(s.tail.parameters(), lr=args.tail_lr, weight_decay=0.01))
    sch = bf.Schedule(args.tail_steps, args.tail_seconds)
    while not sch.done():
        prog = sch.progress()
        u8, y = scenes.batch(args.batch)
        x = bf.to_input(u8, device)
        with torch.no_grad(), bf.autocast(device):
            tl = teacher(x).float()
        accs = []
        for s, opt, tab in zip(students, opts, tables):
            bf.set_lr(opt, bf.lr_at(prog, args.tail_lr, warmup=0.05))
            with torch.no_grad():
                with bf.autocast(device):
                    z = s.encoder(x)
                _, zq = decoded_latent(z, tab, device)
            with bf.autocast(device):
                logits = s.tail(zq).float()
            loss = 0.5 * F.cross_entropy(logits, y) + 0.5 * kd_loss(logits, tl)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            accs.append((logits.argmax(1) == y).float().mean().item())
        sch.step += 1
        if sch.step % args.log_every == 0 or sch.done():
            log(f"tail step {sch.step} acc " + " ".join(f"{a:.3f}" for a in accs))
    return {"steps": sch.step, "seconds": round(time.time() - sch.t0, 1), "frames": sch.step * args.batch}


# --------------------------------------------------------------------------- measurement

def header_bytes(model_id: str, device_id_len: int = 14, rank: int = 4) -> int:
    """FeatureFrame v4 header with the learned codec (feature-frame-v4.md): 78 + D + M + 4R bytes;
    the message adds the payload and the 4-byte CRC."""
    return 78 + device_id_len + len(model_id) + 4 * rank


def payload_estimate(bits: float) -> float:
    """rANS payload bytes: the 4-byte state plus the coded bits (within a byte or two)."""
    return 4 + bits / 8


@torch.no_grad()
def evaluate_test(args, device, teacher, students, tables, frames):
    """Top-1 on test frames 0..frames-1 with the decoded latents, and the ideal coded bits per frame
    (sum of 16 - log2(freq) over the symbols, with the integer tables)."""
    scenes = fs.ClsScenes(args.data, "test", TEST_SEED, device)
    luts = []
    for tab in tables:
        luts.append([torch.tensor(em.PRECISION - np.log2(np.diff(np.asarray(ch["cdf"], np.float64))),
                                  dtype=torch.float64, device=device) for ch in tab["channels"]])
    hits = np.zeros(len(students) + 1, np.int64)
    bits = np.zeros(len(students))
    n = 0
    for start in range(0, frames, args.eval_batch):
        cnt = min(args.eval_batch, frames - start)
        u8, y = scenes.frames(start, cnt)
        x = common.preprocess_torch(u8, bf.INPUT_SPEC)
        hits[0] += (teacher(x).argmax(1) == y).sum().item()
        for k, (s, tab) in enumerate(zip(students, tables)):
            sym, zq = decoded_latent(s.encoder(x), tab, device)
            hits[k + 1] += (s.tail(zq).argmax(1) == y).sum().item()
            for c, ch in enumerate(tab["channels"]):
                idx = (sym[:, c].reshape(-1) - ch["min_symbol"]).long()
                bits[k] += luts[k][c][idx].sum().item()
        n += cnt
    return {"frames": n, "unsplit_fp32": hits[0] / n, "split": [hits[k + 1] / n for k in range(len(students))],
            "mean_bits": [b / n for b in bits]}


def r4(x):
    return float(round(float(x), 4))


# --------------------------------------------------------------------------- export

def write_payloads(path, payloads):
    """Python-encoded rANS payloads of the eval subset: u32 count, then per frame u32 length + bytes (LE)."""
    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", len(payloads)))
        for p in payloads:
            fh.write(struct.pack("<I", len(p)))
            fh.write(p)


def export_student(args, out, model_id, lam, student, tables, teacher_c, base_manifest, test, k, stages, train_seconds):
    cpu = torch.device("cpu")
    enc = copy.deepcopy(student.encoder).cpu().float().eval()
    tail = copy.deepcopy(student.tail).cpu().float().eval()
    os.makedirs(out, exist_ok=True)
    img = torch.zeros(1, 3, 224, 224)
    z_ex = enc(img)
    ops = {"head": common.export_onnx(enc, img, os.path.join(out, "head.onnx"), "image", "latent"),
           "tail": common.export_onnx(tail, z_ex, os.path.join(out, "tail.onnx"), "latent", "logits")}
    text = em.tables_json(tables)
    with open(os.path.join(out, "entropy.json"), "w") as fh:
        fh.write(text)
    tid = em.table_id(text)
    cost = {}
    for name, m, ex in (("head", enc, img), ("tail", tail, z_ex)):
        p, macs = common.count_params_macs(m, ex)
        cost[f"{name}_params"], cost[f"{name}_macs"] = p, macs
        cost[f"{name}_onnx_bytes"] = os.path.getsize(os.path.join(out, f"{name}.onnx"))
    cost["entropy_tables_bytes"] = len(text)

    # eval subset: the base model's 300 JPEG frames, read back with cv2 (the same frames and files)
    base_eval = os.path.join(args.base, "eval")
    decoded, lab = common.read_eval_set(base_eval)
    ytrue = np.array([it["label"] for it in lab["items"]])
    x_eval = common.preprocess(decoded, bf.INPUT_SPEC)
    if common.onnxruntime_available():
        head_r = common.OnnxRunner(os.path.join(out, "head.onnx"))
        tail_r = common.OnnxRunner(os.path.join(out, "tail.onnx"))
        z = head_r(x_eval)
        run_tail = tail_r
        producer = "onnxruntime (CPU) on the exported ONNX files; reference rANS encoder (entropy_model.py)"
    else:
        with torch.no_grad():
            z = enc(torch.from_numpy(x_eval)).numpy()
        run_tail = lambda a: tail(torch.from_numpy(a)).detach().numpy()  # noqa: E731
        producer = "PyTorch (CPU, FP32); reference rANS encoder (entropy_model.py)"
    payloads, zq_all, sym_all = [], [], []
    for i in range(z.shape[0]):
        s = em.symbols_of(z[i:i + 1], tables)
        p = em.rans_encode(s, tables)
        if not np.array_equal(em.rans_decode(p, s.shape, tables), s):
            raise RuntimeError(f"rANS round trip failed on eval frame {i}")
        payloads.append(p)
        sym_all.append(s)
        zq_all.append(em.dequantize(s, tables))
    logits = run_tail(np.concatenate(zq_all))
    logits_fp = run_tail(z)
    hdr = header_bytes(model_id)
    msg = np.array([hdr + len(p) + 4 for p in payloads])
    ev = {"frames": int(len(ytrue)), "top1": r4((logits.argmax(1) == ytrue).mean()),
          "split_fp32_unrounded": r4((logits_fp.argmax(1) == ytrue).mean()),
          "mean_payload_bytes": r4(np.mean([len(p) for p in payloads])),
          "mean_message_bytes": r4(msg.mean()), "max_message_bytes": int(msg.max()),
          "bpp": r4(msg.mean() * 8 / (224 * 224)), "producer": producer}
    ref = os.path.join(out, "reference")
    os.makedirs(ref, exist_ok=True)
    write_payloads(os.path.join(ref, "eval-payloads.bin"), payloads)
    refs = []
    for i in range(1):
        refs.append({"image": decoded[i], "input": x_eval[i:i + 1], "head_output": z[i:i + 1],
                     "tail_output": logits_fp[i:i + 1], "full_output": teacher_c(torch.from_numpy(x_eval[i:i + 1])).detach().numpy()})
    common.write_reference(ref, refs)
    with open(os.path.join(ref, "rans.json"), "w") as fh:
        json.dump({"payloads": "eval-payloads.bin", "frames": len(payloads), "eval": "../../fs-bottlefit-cls/eval",
                   "table_id": tid,
                   "symbols_sha256": [__import__("hashlib").sha256(s.astype("<i4").tobytes()).hexdigest()
                                      for s in sym_all[:8]],
                   "note": "payload i is the reference encoder's rANS payload of eval frame i's latent "
                           "(head.onnx through ONNX Runtime); symbols_sha256[i] = SHA-256 of its symbols as LE int32"},
                  fh, indent=1)
        fh.write("\n")

    bytes_test = hdr + payload_estimate(test["mean_bits"][k]) + 4
    shape = [1, C, 28, 28]
    manifest = {
        "schema": 1,
        "id": model_id,
        "family": "bottlefit",
        "task": "classification",
        "description": f"Entropic Student of {BASE}: learned factorized entropy bottleneck at the 8x28x28 latent, "
                       f"rate weight {lam:g} (rANS, FeatureFrame v4).",
        "input": dict(bf.INPUT_SPEC),
        "head": {"file": "head.onnx", "sha256": common.sha256_file(os.path.join(out, "head.onnx")),
                 "input": {"name": "image", "shape": [1, 3, 224, 224]}, "output": {"name": "latent", "shape": shape}},
        "tail": {"file": "tail.onnx", "sha256": common.sha256_file(os.path.join(out, "tail.onnx")),
                 "input": {"name": "latent", "shape": shape}, "output": {"name": "logits", "shape": [1, 10]}},
        "full": dict(base_manifest["full"], file=f"../{BASE}/full.onnx"),
        "bottleneck": {"codec": {"bits": 0, "granularity": "learned", "symmetric": False, "entropy": "rans"},
                       "entropy_model": {"file": "entropy.json", "sha256": common.sha256_file(os.path.join(out, "entropy.json")),
                                         "table_id": tid, "precision": em.PRECISION, "channels": C}},
        "labels": list(fs.CLASSES),
        "postprocess": {"kind": "classification", "activation": "softmax", "top_k": 3},
        "eval": {"images": f"../{BASE}/eval", "labels": f"../{BASE}/eval/labels.json", "video": f"../{BASE}/demo.avi"},
        "reference": "reference/vectors.json",
        "metrics": {
            "test": {"frames": test["frames"], "unsplit_fp32": r4(test["unsplit_fp32"]), "split_learned": r4(test["split"][k]),
                     "mean_bits": r4(test["mean_bits"][k]), "mean_message_bytes_estimate": r4(bytes_test),
                     "bpp_estimate": r4(bytes_test * 8 / (224 * 224))},
            "eval_subset": ev,
            "cost": cost,
            "rate_weight": lam,
            "onnx_ops": ops,
        },
        "provenance": {
            "recipe": "models/recipes/train_entropic_cls.py",
            "command": args.command or ("python3 models/recipes/train_entropic_cls.py " + " ".join(sys.argv[1:])),
            "base": f"models/{BASE} (teacher = full.onnx, encoder = head.onnx, tail = tail.onnx)",
            "dataset": f"FashionScenes-cls (generator v{fs.GENERATOR_VERSION}); train frames seeds "
                       f"{args.seed + 3}/{args.seed + 4} (joint/tail), test split seed {TEST_SEED}",
            "seed": args.seed, "gain": args.gain, "lambdas": args.lambdas,
            "hardware": common.hardware_name(), "train_seconds": train_seconds, "torch": torch.__version__,
            "date": datetime.date.today().isoformat(), "smoke": bool(args.smoke), "stages": stages,
        },
    }
    common.write_yaml(os.path.join(out, "model.yaml"), manifest)
    log(f"exported {out}: eval subset {ev}; test top-1 {test['split'][k]:.4f}, ~{bytes_test:.0f} B/frame")
    return manifest


# --------------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="parent folder: one model folder per rate weight is written in it")
    ap.add_argument("--base", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", BASE))
    ap.add_argument("--lambdas", default="0.2,0.5,1,1.6,2.4,3.2")
    ap.add_argument("--gain", type=float, default=2.0)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--eval-batch", type=int, default=500)
    ap.add_argument("--joint-steps", type=int, default=20000)
    ap.add_argument("--joint-seconds", type=float, default=200)
    ap.add_argument("--joint-lr", type=float, default=3e-4)
    ap.add_argument("--eb-lr", type=float, default=3e-3)
    ap.add_argument("--tail-steps", type=int, default=10000)
    ap.add_argument("--tail-seconds", type=float, default=60)
    ap.add_argument("--tail-lr", type=float, default=2e-4)
    ap.add_argument("--test-frames", type=int, default=10000)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--ckpt-dir", default="")
    ap.add_argument("--from-ckpt", default="", help="load students.pt from this folder, skip training")
    ap.add_argument("--export", default="", help="comma list of rate weights to export (default: all)")
    ap.add_argument("--command", default="")
    args = ap.parse_args(argv)
    args.lambdas = [float(v) for v in args.lambdas.split(",")]
    if args.smoke:
        args.batch, args.eval_batch = 4, 20
        args.joint_steps = args.tail_steps = 2
        args.test_frames, args.log_every = 20, 1
    return args


def model_id_of(lam):
    return "fs-entropic-cls-l" + f"{lam:g}".replace(".", "p")


def main(argv=None):
    args = parse_args(argv)
    em.self_test()
    total = common.Timer()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    log(f"device {common.hardware_name()} torch {torch.__version__} args {vars(args)}")
    import yaml
    with open(os.path.join(args.base, "model.yaml")) as fh:
        base_manifest = yaml.safe_load(fh)
    teacher, encoder, tail = load_base(args.base)
    teacher = teacher.to(device)
    for p in teacher.parameters():
        p.requires_grad_(False)
    students = [Student(encoder, tail, args.gain).to(device) for _ in args.lambdas]
    stages, train_clock = {}, common.Timer()
    if args.from_ckpt:
        ck = torch.load(os.path.join(args.from_ckpt, "students.pt"), map_location=device)
        for s, sd in zip(students, ck["students"]):
            s.load_state_dict(sd)
        tables, stages = ck["tables"], ck["stages"]
        log(f"students loaded from {args.from_ckpt}")
    else:
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        stages["joint"] = stage_joint(args, device, teacher, students, args.lambdas)
        tables = []
        for s in students:
            t = em.build_tables(s.eb)
            with torch.no_grad():
                s.eb.medians.copy_(torch.tensor([ch["offset"] for ch in t["channels"]]))
            tables.append(t)
        log("tables: " + " | ".join(f"{[len(c['cdf']) - 1 for c in t['channels']]}" for t in tables))
        stages["tail"] = stage_tail(args, device, teacher, students, tables)
        if args.ckpt_dir:
            os.makedirs(args.ckpt_dir, exist_ok=True)
            torch.save({"students": [s.state_dict() for s in students], "tables": tables, "stages": stages,
                        "lambdas": args.lambdas}, os.path.join(args.ckpt_dir, "students.pt"))
    train_seconds = round(train_clock(), 1)
    for s in students:
        s.eval()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    test = evaluate_test(args, device, teacher, students, tables, args.test_frames)
    log(f"test split: unsplit {test['unsplit_fp32']:.4f}; " + " | ".join(
        f"l={lam:g}: top-1 {a:.4f}, {b / 8:.0f} B payload" for lam, a, b in zip(args.lambdas, test["split"], test["mean_bits"])))
    teacher_c = copy.deepcopy(teacher).cpu().eval()
    chosen = [float(v) for v in args.export.split(",")] if args.export else args.lambdas
    summary = []
    for k, (lam, s, t) in enumerate(zip(args.lambdas, students, tables)):
        if lam not in chosen:
            continue
        mid = model_id_of(lam)
        m = export_student(args, os.path.join(args.out, mid), mid, lam, s, t, teacher_c, base_manifest, test, k,
                           stages, train_seconds)
        summary.append({"id": mid, "lambda": lam, "test": m["metrics"]["test"], "eval_subset": m["metrics"]["eval_subset"]})
    with open(os.path.join(args.out, "entropic-summary.json"), "w") as fh:
        json.dump({"unsplit_fp32_test": test["unsplit_fp32"], "models": summary,
                   "all_test": {"lambdas": args.lambdas, "top1": test["split"], "mean_bits": test["mean_bits"]},
                   "total_seconds": round(total(), 1)}, fh, indent=1)
    log(f"done in {total():.1f}s")


if __name__ == "__main__":
    main()
