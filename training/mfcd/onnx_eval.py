"""Accuracy of an exported MFCD-Net (its three FP32 ONNX stages, all stages run) on this dataset's splits.

Used to measure an older model on newer arrays (e.g. the synthetic-only model on dataset v3):
  training/.venv/bin/python -m training.mfcd onnx-eval --model models/mfcd --data training/data/mfcd
"""
import argparse
import os

import numpy as np
import onnxruntime as ort


def run(model, feat, batch=128):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s1, s2, s3 = (ort.InferenceSession(os.path.join(model, f"stage{i}.onnx"), so) for i in (1, 2, 3))
    preds = []
    for i in range(0, len(feat), batch):
        o1 = dict(zip([o.name for o in s1.get_outputs()], s1.run(None, {s1.get_inputs()[0].name: feat[i:i + batch]})))
        o2 = dict(zip([o.name for o in s2.get_outputs()], s2.run(None, {s2.get_inputs()[0].name: o1["feat1"]})))
        preds.append(s3.run(None, {s3.get_inputs()[0].name: o2["feat2"]})[0].argmax(1))
    return np.concatenate(preds)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    a = ap.parse_args(argv)
    for split in ("val", "test", "test_iid"):
        z = np.load(os.path.join(a.data, f"{split}.npz"))
        p, y = run(a.model, z["feat"].astype(np.float32)), z["y"]
        print(f"{split}: accuracy {(p == y).mean():.4f}, idle recall {(p[y == 0] == 0).mean():.3f}, {len(y)} windows")
    return 0
