"""Writes a FashionScenes test split as an evaluation folder (NNNNNN.jpg, JPEG q95, + labels.json),
exactly as the recipes write a model's eval/ subset (frames 0..N-1 of split "test", seed 0), so the
Java side (`splitrt eval --eval-set DIR`) can measure on the whole test split, not only the committed
subset. Runs on any CPU (Debian's python3-torch); the folder is large: write it outside the repo.

  /usr/bin/python3 models/recipes/export_test_split.py --data .data/fashion-mnist --task cls --out /tmp/fs-cls-test
  /usr/bin/python3 models/recipes/export_test_split.py --data .data/fashion-mnist --task det --out /tmp/fs-det-test
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import fashionscenes as fs  # noqa: E402

TEST_SEED = 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with the four Fashion-MNIST idx .gz files")
    ap.add_argument("--task", choices=["cls", "det"], required=True)
    ap.add_argument("--count", type=int, default=0, help="frames (default: the whole split: 10000 cls, 5000 det)")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    cpu = torch.device("cpu")
    t0 = time.time()
    if args.task == "cls":
        count = args.count or 10000
        scenes = fs.ClsScenes(args.data, "test", TEST_SEED, cpu)
        frames, items = [], []
        for start in range(0, count, args.batch):
            u8, y = scenes.frames(start, min(args.batch, count - start))
            frames.append(fs.to_hwc_numpy(u8))
            items += [{"label": int(k)} for k in y.tolist()]
        common.write_eval_set(args.out, np.concatenate(frames), items, "classification", fs.CLASSES, quality=95)
    else:
        count = args.count or 5000
        scenes = fs.DetScenes(args.data, "test", TEST_SEED, cpu)
        frames, items = [], []
        for start in range(0, count, args.batch):
            im, bx, cl = scenes.frames(start, min(args.batch, count - start))
            frames.append(fs.to_hwc_numpy(im))
            for b, c in zip(bx, cl):
                items.append({"boxes": [[round(float(v), 3) for v in bb] + [int(cc)]
                                        for bb, cc in zip(b.cpu().tolist(), c.cpu().tolist())]})
        common.write_eval_set(args.out, np.concatenate(frames), items, "detection", fs.CLASSES, quality=95)
    print(f"wrote {count} {args.task} test frames to {args.out} in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
