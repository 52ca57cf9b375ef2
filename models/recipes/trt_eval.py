"""GPU proof helper for tools/gpu/trt-run.sh (Python lives only under models/recipes/): eval-set inputs and ONNX Runtime references, then scores.

  prep  EVAL_DIR          preprocess the zoo's eval frames exactly as the manifest says (models/recipes/common.py),
                          write <id>.input.f32, and run head.onnx -> tail.onnx in ONNX Runtime (CPU): <id>.ort.f32;
                          with SPLITRT_QDQ=DIR holding <id>.head-int8.onnx (tools/gpu/qdq.sh), also that INT8 Q/DQ
                          head -> FP32 tail in ONNX Runtime: <id>.ort-int8.head.f32 and <id>.ort-int8.f32
  score EVAL_DIR OUT_JSON compare TensorRT tail outputs (<id>.trt-<prec>.f32, from TrtRun) with ORT (int8: with
                          ORT's INT8 run of the same Q/DQ head, head outputs too): classifier top-1 agreement and
                          accuracy; detector raw diffs and mAP@0.5 / 0.5:0.95 after the manifest's decode + NMS
                          (models/recipes/leyolo.py)
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
        q = os.path.join(os.environ.get("SPLITRT_QDQ", "/nonexistent"), mid + ".head-int8.onnx")
        if not os.path.exists(q):
            print(f"prep {mid}: no Q/DQ head {q}: INT8 references skipped")
            continue
        qhead = ort.InferenceSession(q, so, providers=["CPUExecutionProvider"])
        hs, outs = [], []
        t0 = time.time()
        for i in range(len(x)):
            h = qhead.run(None, {m["head"]["input"]["name"]: x[i:i + 1]})[0]
            hs.append(h)
            outs.append(tail.run(None, {m["tail"]["input"]["name"]: h})[0])
        np.concatenate(hs).astype(np.float32).tofile(os.path.join(ev, mid + ".ort-int8.head.f32"))
        np.concatenate(outs).astype(np.float32).tofile(os.path.join(ev, mid + ".ort-int8.f32"))
        print(f"prep {mid}: INT8 Q/DQ head {os.path.basename(q)} -> FP32 tail in ORT {time.time() - t0:.1f} s")


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
        for k in ["ort-int8", "trt-fp32", "trt-fp16", "trt-int8"]:
            f = os.path.join(ev, f"{mid}.{k}.f32")
            if os.path.exists(f):
                outs[k] = np.fromfile(f, np.float32).reshape(-1, *shape)
        # What each output is compared with: its ONNX Runtime twin (INT8 against ORT's run of the same Q/DQ head).
        twin = {"ort-int8": "ort", "trt-fp32": "ort", "trt-fp16": "ort", "trt-int8": "ort-int8"}
        r = {"frames": int(len(outs["ort"]))}
        for k, v in outs.items():
            if k != "ort":
                r[f"max_abs_diff_{k}_vs_{twin[k]}"] = float(np.abs(v - outs[twin[k]]).max())
        if "trt-int8" in outs and "ort-int8" in outs:
            r["max_abs_diff_trt-int8_vs_ort"] = float(np.abs(outs["trt-int8"] - outs["ort"]).max())
            th = np.fromfile(os.path.join(ev, f"{mid}.trt-int8.head.f32"), np.float32)
            oh = np.fromfile(os.path.join(ev, f"{mid}.ort-int8.head.f32"), np.float32)
            d = np.abs(th - oh)
            r["int8_head_vs_ort-int8"] = {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
                                          "max_abs_value": float(np.abs(oh).max()),
                                          "fraction_of_elements_differing": float((d > 0).mean())}
        if m["task"] == "classification":
            truth = np.array([it["label"] for it in labels["items"]])
            top = {k: v.reshape(len(v), -1).argmax(1) for k, v in outs.items()}
            for k, t in top.items():
                r[f"top1_accuracy_{k}"] = float((t == truth).mean())
            for k in top:
                if k != "ort":
                    r[f"top1_agreement_{k}_vs_{twin[k]}"] = float((top[k] == top[twin[k]]).mean())
            if "trt-int8" in top:
                r["top1_agreement_trt-int8_vs_ort"] = float((top["trt-int8"] == top["ort"]).mean())
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
