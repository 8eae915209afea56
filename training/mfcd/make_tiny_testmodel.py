"""Writes inference/testdata/mfcd_tiny/: a tiny, randomly initialised MFCD-Net student exported exactly the
way export.py exports the real one (three ONNX stages with the same tensor names and layout, FP32 and
INT8, manifest.json), plus a fixture that the Go classifier tests compare against:

  inputs.f32     N clips [N, C, T, H, W] as little-endian float32
  fixture.json   shape, and per exit stage the PyTorch logits and softmax probabilities of every clip

The exit thresholds are chosen from the fixture so that its clips leave at all three exits, with a
margin around each threshold so that ONNX Runtime vs PyTorch rounding cannot move a clip.
Run once (the output is committed):

  training/.venv/bin/python training/mfcd/make_tiny_testmodel.py --out inference/testdata/mfcd_tiny
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402
import models  # noqa: E402

LABELS = ["idle", "object_moving", "pan", "tamper"]
C, T, H, W = 3, 4, 8, 8
N = 24


def pick_threshold(conf, target):
    """A threshold between two sorted confidences near the target fraction exiting, at the widest gap."""
    s = np.sort(conf)[::-1]
    best, best_gap = None, -1.0
    for i in range(1, len(s)):
        if abs(i / len(s) - target) > 0.2:
            continue
        gap = s[i - 1] - s[i]
        if gap > best_gap:
            best, best_gap = (s[i - 1] + s[i]) / 2, gap
    if best_gap < 1e-3:
        raise RuntimeError(f"confidences too close for a safe threshold: {s}")
    return float(best), float(best_gap)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    mean, std = [0.0, 0.0, 0.1], [1.0, 1.0, 0.5]
    student = models.Student(C, T, len(LABELS), mean, std, widths=(4, 8, 8, 8))
    # Random BatchNorm statistics and sharper exit heads, so that confidences spread over (1/K, 1).
    with torch.no_grad():
        for m in student.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for head in (student.exit1, student.exit2, student.exit3):
            head.fc.weight.mul_(6.0)
    student.eval()

    # Fixture clips: different scales and offsets per clip so the exits disagree.
    x = rng.standard_normal((N, C, T, H, W)).astype(np.float32)
    x *= rng.uniform(0.2, 3.0, (N, 1, 1, 1, 1)).astype(np.float32)
    x += rng.uniform(-1.0, 1.0, (N, C, 1, 1, 1)).astype(np.float32)
    with torch.no_grad():
        logits = [l.numpy() for l in student(torch.from_numpy(x))]
    probs = [torch.softmax(torch.from_numpy(l), 1).numpy() for l in logits]

    th1, gap1 = pick_threshold(probs[0].max(1), 1 / 3)
    rest = probs[0].max(1) < th1
    th2, gap2 = pick_threshold(probs[1][rest].max(1), 1 / 2)

    # Export through export.py's own stage I/O so the layout is the real model's.
    with torch.no_grad():
        f1 = student.stage1(student.fold(torch.from_numpy(x[:2])))
        f2 = student.stage2(f1)
    feat_shapes = [list(f1.shape[1:]), list(f2.shape[1:])]
    examples = [torch.from_numpy(x[:2]), f1, f2]
    cost = models.stage_flops(student, torch.from_numpy(x[:1]))
    stages = []
    for k in (1, 2, 3):
        inputs, outputs = export.stage_io(k, C, T, H, W, len(LABELS), feat_shapes)
        in_names = [i["name"] for i in inputs]
        out_names = [o["name"] for o in outputs]
        path = os.path.join(args.out, f"stage{k}.onnx")
        torch.onnx.export(models.StudentStage(student, k).eval(), (examples[k - 1],), path, dynamo=False,
                          input_names=in_names, output_names=out_names, opset_version=export.OPSET,
                          dynamic_axes={n: {0: "batch"} for n in in_names + out_names})
        st = {"name": f"stage{k}", "file": f"stage{k}.onnx", "int8_file": f"stage{k}.int8.onnx",
              "inputs": inputs, "outputs": outputs, "logits": out_names[0], "flops": int(cost[k - 1])}
        if k < 3:
            st["threshold"] = [th1, th2][k - 1]
        stages.append(st)

    # ONNX Runtime must agree with PyTorch before the fixture is trusted.
    fp32 = [export.session(os.path.join(args.out, s["file"])) for s in stages]
    onnx_probs = export.run_chain(fp32, x)
    diff = max(float(np.abs(onnx_probs[k] - probs[k]).max()) for k in range(3))
    if diff > 1e-5:
        raise RuntimeError(f"ONNX differs from PyTorch by {diff}")

    calib = rng.standard_normal((32, C, T, H, W)).astype(np.float32)
    h_in = [calib[i:i + 8] for i in range(0, len(calib), 8)]
    for k, s in enumerate(stages):
        export.quantize_static(os.path.join(args.out, s["file"]), os.path.join(args.out, s["int8_file"]),
                               export.Reader(s["inputs"][0]["name"], h_in), quant_format=export.QuantFormat.QDQ,
                               per_channel=True, activation_type=export.QuantType.QUInt8,
                               weight_type=export.QuantType.QInt8)
        if k < 2:
            h_in = [fp32[k].run(None, {s["inputs"][0]["name"]: b})[1] for b in h_in]

    manifest = {
        "schema": export.SCHEMA,
        "name": "mfcd-tiny-test",
        "task": "clip-classification",
        "description": "Randomly initialised tiny MFCD-Net student for the Go classifier tests only; "
                       "its labels mean nothing.",
        "labels": LABELS,
        "input": {
            "name": "features", "dtype": "float32", "layout": "NCTHW", "shape": [-1, C, T, H, W],
            "channels": export.CHANNELS[:C], "clip_len": T, "height": H, "width": W,
            "normalisation": {"mean": mean, "std": std, "in_graph": True},
            "extractor": f"mvwatch features INPUT --out FILE.npy --clip-len {T} --size {W}x{H} --stride {T}",
        },
        "stages": stages,
        "exit_policy": "run stages in order; stop at the first stage whose softmax(max) >= its threshold; "
                       "the last stage always answers",
        "reproduce": "training/.venv/bin/python training/mfcd/make_tiny_testmodel.py --out inference/testdata/mfcd_tiny",
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    x.astype("<f4").tofile(os.path.join(args.out, "inputs.f32"))
    fixture = {
        "shape": [N, C, T, H, W],
        "thresholds": [th1, th2],
        "threshold_margins": [gap1 / 2, gap2 / 2],
        "onnx_max_prob_diff": diff,
        "logits": [l.tolist() for l in logits],
        "probs": [p.tolist() for p in probs],
    }
    with open(os.path.join(args.out, "fixture.json"), "w") as f:
        json.dump(fixture, f)
        f.write("\n")
    exits = np.where(probs[0].max(1) >= th1, 1, np.where(probs[1].max(1) >= th2, 2, 3))
    print("thresholds", th1, th2, "exits per clip", exits.tolist(), "onnx diff", diff)


if __name__ == "__main__":
    main()
