"""GPU proof helper for tools/gpu/trt-run.sh (Python lives only under models/recipes/): eval-set inputs and ONNX Runtime references, then scores.

  prep  EVAL_DIR          preprocess the zoo's eval frames exactly as the manifest says (models/recipes/common.py),
                          write <id>.input.f32, and run head.onnx -> tail.onnx in ONNX Runtime (CPU): <id>.ort.f32
  score EVAL_DIR OUT_JSON compare TensorRT fp32/fp16 tail outputs (<id>.trt-<prec>.f32, from TrtRun) with ORT:
                          classifier top-1 agreement and accuracy; detector raw diffs and mAP@0.5 / 0.5:0.95
                          after the manifest's decode + NMS (models/recipes/leyolo.py)
"""
import json, os, sys, time
import numpy as np

ROOT = os.environ.get("SPLITRT_REPO") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))  # models/recipes/ -> repo
sys.path.insert(0, os.path.join(ROOT, "models", "recipes"))
import yaml  # noqa: E402
import common  # noqa: E402

MODELS = ["fs-bottlefit-cls", "fs-leyolo-nano-det"]


def manifest(mid):
    with open(os.path.join(ROOT, "models", mid, "model.yaml")) as f:
        return yaml.safe_load(f)


def prep(ev):
    import onnxruntime as ort
    os.makedirs(ev, exist_ok=True)
    for mid in MODELS:
        m = manifest(mid)
        d = os.path.join(ROOT, "models", mid)
        frames, labels = common.read_eval_set(os.path.join(d, m["eval"]["images"]))
        x = common.preprocess(frames, m["input"]).astype(np.float32)
        x.tofile(os.path.join(ev, mid + ".input.f32"))
        so = ort.SessionOptions()
        head = ort.InferenceSession(os.path.join(d, m["head"]["file"]), so, providers=["CPUExecutionProvider"])
        tail = ort.InferenceSession(os.path.join(d, m["tail"]["file"]), so, providers=["CPUExecutionProvider"])
        outs = []
        t0 = time.time()
        for i in range(len(x)):
            h = head.run(None, {m["head"]["input"]["name"]: x[i:i + 1]})[0]
            outs.append(tail.run(None, {m["tail"]["input"]["name"]: h})[0])
        np.concatenate(outs).astype(np.float32).tofile(os.path.join(ev, mid + ".ort.f32"))
        print(f"prep {mid}: {len(x)} frames {x.shape[1:]} -> ORT {time.time() - t0:.1f} s, onnxruntime {ort.__version__}")


def score(ev, out_json):
    import leyolo
    res = {}
    for mid in MODELS:
        m = manifest(mid)
        d = os.path.join(ROOT, "models", mid)
        with open(os.path.join(d, m["eval"]["labels"])) as f:
            labels = json.load(f)
        shape = m["tail"]["output"]["shape"][1:]
        outs = {"ort": np.fromfile(os.path.join(ev, mid + ".ort.f32"), np.float32).reshape(-1, *shape)}
        for p in ["fp32", "fp16"]:
            f = os.path.join(ev, f"{mid}.trt-{p}.f32")
            if os.path.exists(f):
                outs["trt-" + p] = np.fromfile(f, np.float32).reshape(-1, *shape)
        r = {"frames": int(len(outs["ort"]))}
        for k, v in outs.items():
            if k != "ort":
                r[f"max_abs_diff_{k}_vs_ort"] = float(np.abs(v - outs["ort"]).max())
        if m["task"] == "classification":
            truth = np.array([it["label"] for it in labels["items"]])
            top = {k: v.reshape(len(v), -1).argmax(1) for k, v in outs.items()}
            for k, t in top.items():
                r[f"top1_accuracy_{k}"] = float((t == truth).mean())
            for k in top:
                if k != "ort":
                    r[f"top1_agreement_{k}_vs_ort"] = float((top[k] == top["ort"]).mean())
            if "trt-fp16" in top and "trt-fp32" in top:
                r["top1_agreement_trt-fp16_vs_trt-fp32"] = float((top["trt-fp16"] == top["trt-fp32"]).mean())
        else:
            pp = m["postprocess"]
            size = m["input"]["width"]
            gts = []
            for it in labels["items"]:
                b = np.array(it["boxes"], np.float64).reshape(-1, 5)
                gts.append((b[:, :4], b[:, 4].astype(int)))
            frames, _ = common.read_eval_set(os.path.join(d, m["eval"]["images"]))
            for k, v in outs.items():
                dets = []
                for i, raw in enumerate(v):
                    bx, sc, cl = leyolo.postprocess_numpy(raw, pp["eval_score_threshold"], pp["iou_threshold"], pp["max_detections"], size)
                    h, w = frames[i].shape[:2]
                    s = min(size / w, size / h)
                    px, py = (size - int(round(w * s))) // 2, (size - int(round(h * s))) // 2
                    bx = (bx - np.array([px, py, px, py])) / s
                    dets.append((bx, sc, cl))
                mp = leyolo.coco_map(dets, gts)
                r[f"map_{k}"] = {kk: float(vv) for kk, vv in mp.items() if np.isscalar(vv)}
        res[mid] = r
        print(mid, json.dumps(r, indent=1))
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "prep":
        prep(sys.argv[2])
    else:
        score(sys.argv[2], sys.argv[3])
