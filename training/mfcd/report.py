"""Writes docs/MODELS.md from models/mfcd/manifest.json and eval.json (the figures train measured).

Usage: training/.venv/bin/python -m training.mfcd report --model models/mfcd --out docs/MODELS.md
"""

import argparse
import json
import os
import sys

from training.mfcd import dataset

DESCRIPTIONS = {
    "idle": "static view: sensor noise, often a swaying patch (foliage in wind); in half the clips auto-exposure drifting by 2-10% over the clip",
    "object_left": "one textured object (blob, box or person shape) crossing right to left",
    "object_right": "one object crossing left to right",
    "multi_object": "3-5 objects moving in both directions",
    "pan": "camera pan/tilt at 1.5-6 px/frame in a random direction",
    "zoom": "zoom in or out by 1.25-1.7x over the clip",
    "shake": "camera shake: random 2-7 px jitter every frame",
    "illumination": "lights switched (a step) or dimming/brightening (a ramp), gain 0.35-0.65 or 1.5-2.2",
    "tamper": "lens covered: an occluder sliding in from a side or closing from the centre over 8-16 frames",
    "scene_change": "camera moved to another view: a hard cut to another background",
    "defocus": "focus hunting: Gaussian blur (up to 2.5-6 px at 320 wide) swinging in and out every 6-10 frames",
}


def pct(x):
    return f"{100 * x:.1f}"


def mflops(x):
    return f"{x / 1e6:.2f}"


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/mfcd")
    ap.add_argument("--out", default="docs/MODELS.md")
    args = ap.parse_args(argv)
    with open(os.path.join(args.model, "manifest.json")) as f:
        man = json.load(f)
    with open(os.path.join(args.model, "eval.json")) as f:
        ev = json.load(f)
    labels = man["labels"]
    ds = man["dataset"]
    comp = ev["compute"]
    th = ev["threshold"]
    te, st, ee, i8 = ev["teacher"], ev["student"], ev["early_exit"], ev["int8"]
    L = []
    w = L.append
    w("# Models")
    w("")
    w("## MFCD-Net: camera events from the compressed domain")
    w("")
    w("`models/mfcd/` holds MFCD-Net, a compact classifier of what happens in front of a camera, computed")
    w("from H.264 motion vectors and motion-compensated luma residuals alone (no RGB decode on the serving")
    w("side beyond what the extractor does). It was trained by knowledge distillation from a teacher that")
    w("sees raw RGB frames, has early exits, and ships as three ONNX stages in FP32 and INT8 with a")
    w("`manifest.json` that `inference.LoadModel` validates.")
    w("")
    w("Reproduce everything (dataset, features, teacher, student, export, this page) with one command on")
    w("the 2-core CPU machine: `make train-mfcd` (it needs `make train-setup` and builds `mvwatch`).")
    w("Measured times of a from-scratch run, and a run without distillation, are in the section")
    w("\"MFCD-Net: reproduction and ablation\" below. `train.py --reuse-student` re-exports and")
    w("re-evaluates a trained student in about a minute.")
    w("")
    w("### Headline (held-out test split: backgrounds and encoder settings never seen in training)")
    w("")
    w("| | accuracy | FLOPs / clip | params |")
    w("|---|---|---|---|")
    w(f"| teacher (2D CNN on raw RGB frames and their differences) | {pct(te['test']['accuracy'])}% | {mflops(comp['teacher_flops'])} M | {comp['teacher_params']:,} |")
    w(f"| student MFCD-Net, all stages (FP32) | {pct(st['test']['accuracy'])}% | {mflops(comp['student_flops'])} M | {comp['student_params']:,} |")
    w(f"| student, early exit at threshold {th} (FP32) | {pct(ee['test']['accuracy'])}% | {mflops(ee['test']['mean_flops'])} M (mean) | |")
    w(f"| student, all stages, INT8 (ONNX Runtime) | {pct(i8['test']['accuracy'])}% | | |")
    w(f"| student, early exit, INT8 (ONNX Runtime) | {pct(i8['test']['early_exit_accuracy'])}% | {mflops(i8['test']['early_exit_mean_flops'])} M (mean) | |")
    w("")
    w(f"The student needs {comp['flops_ratio']:.1f}x fewer FLOPs than the teacher "
      f"({comp['teacher_params'] / comp['student_params']:.1f}x fewer parameters); early exit saves "
      f"{pct(1 - ee['test']['mean_flops'] / comp['student_flops'])}% of the student's FLOPs on the test split.")
    w("FLOPs are 2 x multiply-accumulates of every convolution and linear layer, counted with forward hooks")
    w("(`training/mfcd/models.py: count_flops`); batch norm (folded into the convolutions on export), ReLU")
    w("and pooling are not counted. The extractor's own cost (decoding, motion field, residual) is not in")
    w("these figures, nor is the teacher's RGB decode.")
    w("")
    w("### Targets of issue 3")
    w("")
    full, early = st["test"]["accuracy"], ee["test"]["accuracy"]
    saving = 1 - ee["test"]["mean_flops"] / comp["student_flops"]
    rows = [
        ("student held-out accuracy >= 90%", f"{pct(full)}%", full >= 0.90),
        ("student within 3 points of the teacher", f"{100 * (full - te['test']['accuracy']):+.1f} points",
         full >= te["test"]["accuracy"] - 0.03),
        (">= 5x fewer FLOPs than the teacher", f"{comp['flops_ratio']:.1f}x", comp["flops_ratio"] >= 5),
        ("early exit >= 30% FLOPs saving", f"{pct(saving)}%", saving >= 0.30),
        ("early exit within 1 point", f"{100 * (early - full):+.1f} points", early >= full - 0.01),
        ("INT8 within 1 point of FP32", f"{100 * (i8['test']['accuracy'] - ev['fp32_onnx']['test']['accuracy']):+.1f} points",
         i8["test"]["accuracy"] >= ev["fp32_onnx"]["test"]["accuracy"] - 0.01),
        ("unseen backgrounds/encoder within 5 points", f"{100 * (full - st['test_iid']['accuracy']):+.1f} points",
         full >= st["test_iid"]["accuracy"] - 0.05),
    ]
    w("| target (test split) | measured | met |")
    w("|---|---|---|")
    for name, val, ok in rows:
        w(f"| {name} | {val} | {'yes' if ok else '**no**'} |")
    w("")
    w("The RGB teacher is the weaker model on this data: at 64x64 pixels and 15 CPU epochs it sees")
    w("sub-pixel shake, slow pans and blur changes less well than the encoder's motion vectors and")
    w("residuals show them, so the student beats it (how much its soft labels still help: see the")
    w("ablation below).")
    w("")
    w("### Accuracy on every split")
    w("")
    w("| split | windows | teacher | student | student exit 1 / 2 / 3 | early exit | INT8 | INT8 early exit |")
    w("|---|---|---|---|---|---|---|---|")
    for s in ("val", "test_iid", "test"):
        ex = " / ".join(pct(a) for a in st[s]["exit_accuracy"])
        w(f"| {s} | {st[s]['n']} | {pct(te[s]['accuracy'])} | {pct(st[s]['accuracy'])} | {ex} | "
          f"{pct(ee[s]['accuracy'])} | {pct(i8[s]['accuracy'])} | {pct(i8[s]['early_exit_accuracy'])} |")
    w("")
    gap = st["test_iid"]["accuracy"] - st["test"]["accuracy"]
    w(f"**Generalisation.** `test_iid` uses the training backgrounds and encoder settings with fresh seeds;")
    w(f"`test` uses unseen backgrounds and unseen encoder settings. The student loses {100 * gap:.1f} points")
    w(f"between them (teacher: {100 * (te['test_iid']['accuracy'] - te['test']['accuracy']):.1f}).")
    w("`val` (unseen backgrounds and a third encoder grid shared with neither training nor test) picks the")
    w("best epoch and calibrates the exit threshold; the test split is used for nothing but these figures.")
    w("")
    w("### Early exit: compute against accuracy (test split; threshold chosen on val)")
    w("")
    w(f"Stage FLOPs (each including its exit head): {', '.join(mflops(c) + ' M' for c in comp['stage_flops'])}.")
    w("A clip stops at the first exit whose softmax maximum reaches the threshold; the last exit always")
    w(f"answers. The threshold {th} is the cheapest one on the validation split whose accuracy stays within")
    w("0.5 points of the full student.")
    w("")
    w("| threshold | val accuracy | test accuracy | test mean MFLOPs | saving | exits at 1 / 2 / 3 |")
    w("|---|---|---|---|---|---|")
    for v, t in zip(ev["threshold_sweep"]["val"], ev["threshold_sweep"]["test"]):
        mark = " (chosen)" if abs(t["threshold"] - th) < 1e-9 else ""
        fr = " / ".join(pct(x) for x in t["exit_fraction"])
        w(f"| {t['threshold']}{mark} | {pct(v['accuracy'])} | {pct(t['accuracy'])} | {mflops(t['mean_flops'])} | "
          f"{pct(1 - t['mean_flops'] / comp['student_flops'])}% | {fr} |")
    w(f"| (no early exit) | {pct(st['val']['accuracy'])} | {pct(st['test']['accuracy'])} | {mflops(comp['student_flops'])} | 0% | 0 / 0 / 100 |")
    w("")
    w("### Confusion matrix (student, all stages, FP32, test split; rows: truth, columns: prediction)")
    w("")
    w("| | " + " | ".join(str(i) for i in range(len(labels))) + " | recall |")
    w("|---|" + "---|" * (len(labels) + 1))
    cm = st["test"]["confusion"]
    for i, row in enumerate(cm):
        w(f"| {i} {labels[i]} | " + " | ".join(str(v) for v in row) + f" | {pct(st['test']['recall'][i])} |")
    w("")
    w("| class | precision | recall | early-exit precision | early-exit recall |")
    w("|---|---|---|---|---|")
    for i, l in enumerate(labels):
        w(f"| {l} | {pct(st['test']['precision'][i])} | {pct(st['test']['recall'][i])} | "
          f"{pct(ee['test']['precision'][i])} | {pct(ee['test']['recall'][i])} |")
    w("")
    w("### FP32 against INT8")
    w("")
    lat = ev["latency_ms"]
    w("INT8 is ONNX Runtime static quantisation (QDQ, per-channel int8 weights, uint8 activations)")
    w("calibrated on 256 training clips, stage by stage, with 99.999-percentile activation ranges; only")
    w("convolutions and linear layers are quantised (the signed-log input stays float).")
    w("")
    w("| | test accuracy | test early-exit accuracy | latency stage 1 | stages 1-2 | stages 1-3 | files |")
    w("|---|---|---|---|---|---|---|")
    fb = ev["file_bytes"]
    fp_bytes = sum(v for k, v in fb.items() if ".int8." not in k)
    i8_bytes = sum(v for k, v in fb.items() if ".int8." in k)
    fo = ev["fp32_onnx"]
    w(f"| FP32 | {pct(fo['test']['accuracy'])} | {pct(fo['test']['early_exit_accuracy'])} | "
      + " | ".join(f"{x:.3f} ms" for x in lat["fp32"]) + f" | {fp_bytes / 1024:.0f} KiB |")
    w(f"| INT8 | {pct(i8['test']['accuracy'])} | {pct(i8['test']['early_exit_accuracy'])} | "
      + " | ".join(f"{x:.3f} ms" for x in lat["int8"]) + f" | {i8_bytes / 1024:.0f} KiB |")
    w("")
    w(f"Latency: {lat['note']} (measured by `training/mfcd/export.py`, Python onnxruntime). ONNX against")
    w(f"PyTorch on 64 validation clips: max |probability difference| {ev['onnx_max_prob_diff']:.1e}.")
    w("")
    w("### Dataset (`training/mfcd/dataset.py`, version " + ds["version"] + f", seed {ds['seed']})")
    w("")
    w(f"Synthetic {dataset.NUM_FRAMES}-frame clips rendered with numpy/PIL over real photographs from the Debian")
    w("packages `mate-backgrounds` and `plasma-workspace-wallpapers` (installed with apt-get), encoded to")
    w("H.264 with the ffmpeg CLI (libx264, `-threads 1`, so the files are reproducible). Every frame gets")
    w("Gaussian sensor noise (sigma 1-4); x264 adds its own compression artefacts. Features are computed by")
    w("the Go extractor that serves (`" + man["input"]["extractor"] + "`), so there is no train/serve skew;")
    w("each video gives three 8-frame windows. A window is labelled with its video's event when it overlaps")
    w(f"the event's frames by at least {dataset.MIN_OVERLAP} frames (2 for a cut or a light switch, which")
    w("must fall inside the window); other windows of transient events are dropped.")
    w("")
    w("| # | class | what is rendered |")
    w("|---|---|---|")
    for i, l in enumerate(labels):
        w(f"| {i} | {l} | {DESCRIPTIONS.get(l, '')} |")
    w("")
    w("| split | videos | windows | backgrounds | encoder settings |")
    w("|---|---|---|---|---|")
    enc = {"train": "training grid", "val": "validation grid", "test_iid": "training grid", "test": "held-out grid"}
    for s in ("train", "val", "test_iid", "test"):
        w(f"| {s} | {ds['videos'][s]} | {ds['windows'][s]} | {', '.join(ds['backgrounds'][s])} | {enc[s]} |")
    w("")
    te_, tt_ = ds["train_encoder"], ds["test_encoder"]

    def grid(g):
        return "; ".join([
            "sizes " + ", ".join(f"{a}x{b}" for a, b in g["size"]),
            "fps " + ", ".join(str(v) for v in g["fps"]),
            "presets " + ", ".join(g["preset"]),
            "GOP " + ", ".join(str(v) for v in g["gop"]),
            "B-frames " + ", ".join(str(v) for v in g["bframes"]),
            "rate " + ", ".join(f"{m} {v}" + ("k" if m == "bitrate" else "") for m, v in g["rate"]),
        ])
    w(f"- training grid: {grid(te_)}.")
    if "val_encoder" in ds:
        w(f"- validation grid (no value shared with training or test): {grid(ds['val_encoder'])}.")
    w(f"- held-out grid (no value shared with training or validation): {grid(tt_)}.")
    real = ds.get("real_train_windows") or 0
    if real:
        w("")
        w(f"**Real training footage** (`training/mfcd/real.py`): {real} more training windows from the 7 public clips of")
        w("`training/realfootage/train_manifest.json` (licence and commit per clip; fetched by")
        w("`scripts/fetch-trainfootage.sh`, disjoint from the evaluation set `testdata/realfootage`), each clip")
        w("re-encoded 4 times with settings drawn from the training grid (2 mirrored), and labelled by a")
        w("raw-domain teacher that sees the decoded pictures: feature tracking (Lucas-Kanade + a RANSAC similarity)")
        w("for pan/zoom/shake on the moving-camera clips, background subtraction and Farneback flow inside the")
        w("foreground blobs for object_left/object_right/multi_object on the fixed ones; windows its rules cannot")
        w("place are dropped. The RGB teacher trains on these labels too, so its soft labels carry the real")
        w("footage into the student. No validation or test window is real: the synthetic splits above stay as")
        w("they were, and the real-footage evaluation (section \"Real-footage evaluation\") is separate.")
    w("")
    w("### Input and manifest")
    w("")
    inp = man["input"]
    w(f"Input `{inp['name']}`: float32 {inp['layout']} {inp['shape']} (batch dynamic), channels "
      f"{', '.join(inp['channels'])}, exactly as `mvwatch features` writes them; the per-channel")
    w("normalisation (signed log, sign(x) * log1p(|x|), then mean/std from the training split, all in the")
    w("manifest) is applied inside stage 1. Stage 1")
    w("outputs `exit1_logits` and `feat1`; stage 2 takes `feat1` and gives `exit2_logits` and `feat2`; stage 3")
    w("takes `feat2` and gives `exit3_logits`. `inference.LoadModel(dir)` refuses a directory whose manifest")
    w("or graphs disagree (names, dtypes, shapes, labels, thresholds, files), so a model trained with the")
    w("same recipe on other data (e.g. UCF101 clips run through `mvwatch features`) drops in.")
    w("")
    w("Student architecture: the clip [C, T, 64, 64] is folded to C*T channels (early fusion of residual and")
    w("motion over time, one clip unit) and run through 2D conv-BN-ReLU stages: 24->16 (s2), 16->32 (s2) |")
    w("32->64 (s2), 64->64 | 64->128, 128->128 (s2), each stage ending in average pooling to a 2x2 grid")
    w("and a linear exit (the grid keeps which quadrant moved: a zoom's motion points outwards in every")
    w("quadrant, a pan's the same way in all). Chosen over global pooling on the validation split (same")
    w("data and recipe: student 97.7% vs 97.3%, its first exit 83.6% vs 75.0%, teacher 88.2% vs 86.3%).")
    w("Teacher: a wider 2D CNN (64-96-96-192-192 channels, the same 2x2 head) on the 8 RGB frames and their")
    w("temporal differences folded into 48 channels (a 3D CNN of the same FLOPs trained about 5x slower on")
    w("the CPU). Loss for each student exit (weights 0.6, 0.8, 1.0): 0.7 * cross-entropy + 0.3 * T^2 *")
    w("KL(teacher || student) at temperature T = 4, with the teacher's logits on the same (and on mirrored)")
    w("windows. Augmentation: horizontal flips for both (dx negated, left/right swapped); for the student,")
    w("per-clip and per-frame rescaling of motion vectors and residuals and randomly zeroed frame motion,")
    w("because FFmpeg exports vectors without their reference distance (a P-frame after 3 B-frames points")
    w("4 frames back) and residual energy follows the rate control.")
    w("")
    w("### What the model cannot do")
    w("")
    if real:
        w("- Its real training footage is 7 clips (about 2 minutes), all busy: crowds, traffic, a forward-moving")
        w("  and a handheld camera. No real idle, light, tamper or defocus window was in training (the teacher")
        w("  labels only object and camera motion), and the teacher's labels are weak (a crowd's shadow is an")
        w("  object, two cars merged are one).")
    else:
        w("- It has only seen synthetic events over still photographs: real scenes have moving backgrounds")
        w("  (traffic, water, crowds), people that deform, shadows and night-time IR. Expect lower accuracy on")
        w("  real cameras until it is retrained on labelled real clips with the same recipe.")
    w("- One label per 8-frame window (about 0.3-0.8 s): it cannot say where in the frame something happens,")
    w("  count objects, or track them; overlapping events (a pan while an object moves) get one label.")
    w("- A covered lens that stays covered looks like an idle scene in the compressed domain (no motion, no")
    w("  residual): it detects the act of covering, not the covered state; likewise a scene change only in")
    w("  the window that contains the cut.")
    w("- Defocus is its weakest class (recall in the confusion matrix above): at low bitrates (the")
    w("  held-out grid's 250 kbit/s, CRF 32) the residual of a blur change is quantised away and the window")
    w("  reads as idle. 'defocus' means focus changing (hunting) within the window; a blurred but stable")
    w("  view is idle to this model. (A first version rendered slow focus drifts, which the compressed")
    w("  domain barely sees in 8 frames: 31% recall and 86.6% overall on test; the class was redefined.)")
    w("- Lights switched on or off are sometimes taken for a scene change (both are one abrupt frame).")
    w("- H.264 only was trained on (the extractor also reads H.265, untested with this model).")
    w("- Directions other than left/right are not separate classes (vertical motion folds into the nearest).")
    w("")
    # The file's other sections (other models, hand-written notes) follow this one: keep them.
    rest = ""
    if os.path.exists(args.out):
        with open(args.out) as f:
            old = f.read()
        i = old.find("\n## ", old.find("## MFCD-Net: camera events") + 1)
        if i >= 0:
            rest = old[i:]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(L).rstrip("\n") + "\n" + rest)
    print(f"wrote {args.out}", file=sys.stderr)

