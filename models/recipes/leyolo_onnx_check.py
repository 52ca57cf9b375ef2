"""Exports a trained LeYOLO-nano teacher checkpoint to ONNX and compares onnxruntime with PyTorch.

    python3 models/recipes/leyolo_onnx_check.py TEACHER.pt OUT.onnx
Prints the op types and the max |difference| on two random inputs (GPU-host sanity check)."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import leyolo as ly  # noqa: E402

if __name__ == "__main__":
    m = ly.LeYOLONano()
    m.load_state_dict(torch.load(sys.argv[1], map_location="cpu"))
    m.eval()
    x = torch.rand(2, 3, 320, 320)
    print("ops", common.export_onnx(m, x[:1], sys.argv[2], "image", "detections"))
    with torch.no_grad():
        ref = m(x).numpy()
    if common.onnxruntime_available():
        got = common.OnnxRunner(sys.argv[2])(x.numpy())
        print("onnxruntime max |diff|", float(np.abs(got - ref).max()), "shape", got.shape)
    else:
        print("onnxruntime not installed")
