"""Writes the model card (README.md) of each fs-entropic-cls-* folder from its model.yaml, the recipe's
run summary (all rate weights) and, when given, the `splitrt eval --learned` CSV measured by Java.

  /usr/bin/python3 models/recipes/entropic_card.py --models models \
      --summary models/recipes/results/entropic-cls-h200-2026-12-02/entropic-summary.json [--java-csv FILE.csv]
"""
import argparse
import csv
import json
import os

import yaml

BASE_ROWS = [  # fs-bottlefit-cls card, "On the whole test split" (splitrt eval, 10,000 frames)
    ("default: 4b-three_range_per_channel-zstd", 2914, 0.9067),
    ("4b-per_tensor-asym-zstd", 1950, 0.9008),
    ("2b-three_range_per_channel-zstd", 1455, 0.8820),
    ("8b-per_tensor-asym-none", 6404, 0.9078),
]
JPEG_Q90 = 9678
RAW = 150528


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="models")
    ap.add_argument("--summary", required=True)
    ap.add_argument("--java-csv", default="")
    args = ap.parse_args()
    with open(args.summary) as fh:
        summ = json.load(fh)
    java = {}
    if args.java_csv:
        with open(args.java_csv) as fh:
            for row in csv.DictReader(fh):
                java[row["configuration"]] = row
    unsplit = summ["unsplit_fp32_test"]
    allt = summ["all_test"]
    curve = ["| rate weight λ | bytes/frame (mean, est.) | bpp | top-1 (recipe, PyTorch) | Δ vs unsplit | committed as |",
             "| ---: | ---: | ---: | ---: | ---: | --- |"]
    committed = {d for d in os.listdir(args.models) if d.startswith("fs-entropic-cls-")}
    for lam, top1, bits in zip(allt["lambdas"], allt["top1"], allt["mean_bits"]):
        mid = "fs-entropic-cls-l" + f"{lam:g}".replace(".", "p")
        b = 78 + 14 + len(mid) + 16 + 4 + bits / 8 + 4
        curve.append(f"| {lam:g} | {b:,.0f} | {b * 8 / 224 / 224:.3f} | {100 * top1:.2f} % | {100 * (top1 - unsplit):+.2f} | "
                     f"{'`' + mid + '`' if mid in committed else '—'} |")
    for mid in sorted(committed):
        folder = os.path.join(args.models, mid)
        with open(os.path.join(folder, "model.yaml")) as fh:
            m = yaml.safe_load(fh)
        mt, ev, cost, pv = (m["metrics"][k] for k in ("test", "eval_subset", "cost", "provenance")) if False else (
            m["metrics"]["test"], m["metrics"]["eval_subset"], m["metrics"]["cost"], m["provenance"])
        lam = m["metrics"]["rate_weight"]
        j = java.get(mid)
        lines = [
            f"# {mid} — Entropic Student of fs-bottlefit-cls, rate weight λ = {lam:g}",
            "",
            "The BottleFit classifier (`fs-bottlefit-cls`: same encoder architecture, same 8×28×28 split point, same teacher)",
            "fine-tuned with a **learned entropy bottleneck** (per-channel factorized prior, Ballé et al. 2018; training as",
            "the Entropic Student, Matsubara et al. 2022): the head emits the latent `y`; the device rounds it around the",
            "learned per-channel medians (`s = clamp(floor(y − m_c + 0.5), lo_c, hi_c)`) and rANS-codes the symbols with",
            "the integer CDF tables in `entropy.json` (16-bit, per channel); the tail receives `s + m_c`.",
            "Wire format: FeatureFrame **version 3** (`runtime/docs/feature-frame-v4.md`).",
            "",
            "## Measured figures (whole test split, 10,000 frames)",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| top-1, unsplit FP32 (the shared teacher `../fs-bottlefit-cls/full.onnx`) | {100 * mt['unsplit_fp32']:.2f} % |",
            f"| top-1, split with the learned codec, recipe (PyTorch FP32, integer tables) | {100 * mt['split_learned']:.2f} % "
            f"({100 * (mt['split_learned'] - mt['unsplit_fp32']):+.2f} pt) |",
        ]
        if j:
            lines += [
                f"| top-1, split with the learned codec, **Java** (`splitrt eval --learned`, ONNX Runtime, LearnedFeatureEncoder → "
                f"v4 message → LearnedFeatureDecoder) | {100 * float(j['metric']):.2f} % |",
                f"| bytes/frame, Java, whole v4 message (14-byte device id) mean / max | {float(j['mean_bytes']):,.1f} / "
                f"{int(j['max_bytes']):,} |",
                f"| bits per pixel (mean message × 8 / 224²) | {float(j['mean_bytes']) * 8 / 224 / 224:.3f} |",
            ]
            gap = 100 * (float(j["metric"]) - mt["split_learned"])
            note = ("**Recipe and Java differ by "
                    f"{gap:+.2f} pt and {float(j['mean_bytes']) - mt['mean_message_bytes_estimate']:+.0f} B on the test split** "
                    + ("(goal: agree to 0.1 pt — met for top-1) " if abs(gap) <= 0.1 else "(goal: agree to 0.1 pt — not met) ")
                    + ": the recipe measures frames rendered straight from the generator "
                    "(uint8, no JPEG), Java the JPEG q95 files that export_test_split.py writes (the same frames after a JPEG "
                    "round trip, decoded by Java's own decoder). On the 300-frame eval subset, where both read the same "
                    f"JPEG files, they agree exactly: {100 * ev['top1']:.2f} % and {ev['mean_message_bytes']:,.1f} B in both "
                    "(and `LearnedCodecBitExactTest` checks the symbols and payloads bit for bit). The learned latent "
                    "reacts to JPEG's smoothing more than the 8-bit codec of fs-bottlefit-cls did (its recipe and Java figures agree to about 0.1 pt). Re-measuring the recipe on the JPEG files was not done in this session.")
        lines += ([] if not j else []) + [
            f"| bytes/frame, recipe estimate (header + 4 + ideal bits / 8) | {mt['mean_message_bytes_estimate']:,.1f} |",
            f"| eval subset (300 JPEG frames, ONNX Runtime + reference rANS encoder): top-1 / mean / max bytes | "
            f"{100 * ev['top1']:.2f} % / {ev['mean_message_bytes']:,.1f} / {ev['max_message_bytes']:,} |",
            f"| ratio to raw (150,528 B) / to JPEG q90 ({JPEG_Q90:,} B), by the {'Java' if j else 'recipe'} mean | "
            f"{RAW / float(j['mean_bytes'] if j else mt['mean_message_bytes_estimate']):.0f}× / "
            f"{JPEG_Q90 / float(j['mean_bytes'] if j else mt['mean_message_bytes_estimate']):.1f}× |",
            f"| head params / MACs (BottleFit head: 15,088 / 88,711,168; BN folded here) | {cost['head_params']:,} / {cost['head_macs']:,} |",
            f"| tail params / MACs | {cost['tail_params']:,} / {cost['tail_macs']:,} |",
            f"| entropy tables (`entropy.json`) | {cost['entropy_tables_bytes']:,} B, table id {m['bottleneck']['entropy_model']['table_id']} |",
            f"| training (joint {pv['stages']['joint']['steps']} steps + tail {pv['stages']['tail']['steps']} steps, "
            f"batch 256, six rate weights side by side) | {pv['train_seconds']} s on {pv['hardware']} |",
            "",
            *([note, ""] if j else []),
            "The learned codec adds no MACs to the head: rounding and rANS coding are per-element integer work on the CPU",
            "(section \"Cost on the device\" below).",
            "",
            "## Rate against accuracy: every rate weight of the run, and today's codecs",
            "",
            "All six rate weights were trained in one run; three are committed (models/ stays under 40 MB). Recipe figures",
            "on the whole test split (10,000 frames; bytes = 128-byte v4 header + rANS payload estimate + CRC):",
            "",
        ] + curve + [
            "",
            "Today's fixed-width codecs of `fs-bottlefit-cls` on the same split (Java, `splitrt eval`, its card):",
            "",
            "| codec | bytes/frame | top-1 | Δ vs unsplit |",
            "| --- | ---: | ---: | ---: |",
        ] + [f"| {n} | {b:,} | {100 * a:.2f} % | {100 * (a - unsplit):+.2f} |" for n, b, a in BASE_ROWS] + [
            f"| JPEG q90 of the frame (no split) | {JPEG_Q90:,} | — | — |",
            f"| raw frame | {RAW:,} | — | — |",
            "",
            "## Goal: ≤ 645 B per frame within 1.0 pt of unsplit — not reached",
            "",
            *(["Java (`splitrt eval --learned`, whole test split, JPEG q95 frames): " + "; ".join(
                f"`{k}` {100 * float(v['metric']):.2f} % ({100 * (float(v['metric']) - unsplit):+.2f} pt) at {float(v['mean_bytes']):,.0f} B"
                for k, v in sorted(java.items())) + ". Plot: `../fs-bottlefit-cls/codecs/learned-test-split/`.", ""] if java else []),
            "Recipe figures (frames without the JPEG round trip):",
            "",
            "- Within 1 pt the learned codec needs about 1.24 kB (λ = 0.2, Java: 1,241 B mean, −0.95 pt, 0.197 bpp), 2.4× less",
            "  than today's default (2,914 B at −0.24 pt) and 1.6× less than the cheapest fixed-width codec within 1 pt",
            "  (4b-per_tensor-asym-zstd, 1,950 B, −0.83 pt). Below 645 B it costs about 3–4 pt (λ = 1, Java: 510 B,",
            "  −3.96 pt); λ = 0.5 sends 722 B at −2.44 pt. The closest measured point to the goal is λ = 1 (under the byte",
            "  budget) or λ = 0.5 (11 % over it), both well outside the 1-pt band.",
            "- Why (what the run shows, and what it does not): the run was short — stage A (joint) 1,267 steps of 256",
            "  frames (200 s), the tail stage 741 steps (60 s), one device-tool call inside this session's 14-minute GPU",
            "  share, six rate weights side by side; the Entropic Student trains for tens of epochs. Both schedules are",
            "  cosine to zero, so the flat ends of the logs do not show that longer training would not help; it was not tried.",
            "  The split point is BottleFit's (8×28×28 after two poolings, 6,272 symbols); a head that downsamples once",
            "  more before the bottleneck (as FrankenSplit does) codes 4× fewer symbols, and a hyperprior would model the",
            "  spatial structure a factorized prior ignores. Neither was tried here.",
            "- Where the bytes go at λ = 1: the 128-byte header (device id, model id, head SHA-256, dims) plus 4-byte CRC is",
            "  a quarter of the message; the payload alone is ~400 B (0.51 bits per latent element).",
            "",
            "## Cost on the device",
            "",
            "- Head: the BottleFit head's architecture unchanged — "
            f"{cost['head_params']:,} parameters, {cost['head_macs']:,} MACs (BottleFit: 15,088 with BatchNorm unfolded, same MACs);",
            "  the learned codec adds no network work, only per-element rounding and rANS coding.",
            (f"- Encode (LearnedFeatureEncoder.encode: rounding + rANS + framing, head excluded), median per frame over "
             f"{int(j['frames']):,} frames, one thread of this shared 2-core x86 dev box (JIT-warm, in `splitrt eval --learned`): "
             f"{int(j['encode_ns_p50']) / 1e3:.0f} µs; decode + dequantize {int(j['decode_ns_p50']) / 1e3:.0f} µs. "
             "For comparison the card of fs-bottlefit-cls gives 1.26 ms edge encode p50 for its default codec "
             "(k-means + zstd 19, whole edge path)." if j else "- Encode time: not measured in this card (run `splitrt eval --learned`)."),
            "- Not measured: a JMH benchmark of the coder, the encode time on a Jetson, and the TensorRT head on the",
            "  GPU host (the session's GPU share went to training).",
            "",
            "## Files",
            "",
            "- `head.onnx` image [1,3,224,224] → latent [1,8,28,28] (before rounding); `tail.onnx` latent → logits [1,10].",
            "- `entropy.json` the integer tables (feature-frame-v4.md §4); its SHA-256 and table id are in `model.yaml`.",
            "- `reference/` one reference vector (eval frame 0), `eval-payloads.bin`: the reference encoder's rANS payloads",
            "  of the 300 eval frames (u32 count, then u32 length + bytes each), `rans.json`: table id and the SHA-256 of",
            "  the first 8 frames' symbols. `LearnedCodecBitExactTest` checks Java against them both ways.",
            "- Shared with `fs-bottlefit-cls` (paths `../fs-bottlefit-cls/...`): `full.onnx` (the teacher), `eval/`, `demo.avi`.",
            "",
            "## Reproduce",
            "",
            "```",
            "python3 models/recipes/train_entropic_cls.py --data .data/fashion-mnist --out models --ckpt-dir CKPT",
            "```",
            "",
            f"Seed {pv['seed']}, gain {pv['gain']}, rate weights {pv['lambdas']}; {pv['dataset']}; torch {pv['torch']}.",
            "Run log and the summary of all six rate weights: `models/recipes/results/entropic-cls-h200-2026-12-02/`.",
            "",
        ]
        with open(os.path.join(folder, "README.md"), "w") as fh:
            fh.write("\n".join(lines))
        print("wrote", os.path.join(folder, "README.md"))


if __name__ == "__main__":
    main()
