"""MFCD-Net: trains the raw-RGB teacher, distils it into the compressed-domain student with early exits,
calibrates the exit thresholds on the validation split, exports ONNX stages (FP32 and INT8), checks ONNX
against PyTorch, evaluates everything and writes models/mfcd/ (stages, manifest.json, eval.json).

The one entry point for this model (see `make train-mfcd`):
  training/.venv/bin/python -m training.mfcd train --data training/data/mfcd --out models/mfcd [--work training/out/mfcd]
"""

import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from training.mfcd import dataset, export, models

LABELS = dataset.LABELS
# Horizontal flip augmentation: mirrored clips swap these labels, and negate these feature channels
# (motion-vector dx).
FLIP_SWAP = {LABELS.index("object_left"): LABELS.index("object_right"),
             LABELS.index("object_right"): LABELS.index("object_left")}
FLIP_NEGATE = [0]


# Real windows' video ids are offset so they never collide with the synthetic videos' indices.
REAL_VIDEO_OFFSET = 1_000_000


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load(data, split):
    z = np.load(os.path.join(data, f"{split}.npz"))
    return {k: z[k] for k in z.files}


def flip_labels(y):
    y = y.clone()
    out = y.clone()
    for a, b in FLIP_SWAP.items():
        out[y == a] = b
    return out


def flip_feat(x):
    x = torch.flip(x, dims=[4]).clone()
    x[:, FLIP_NEGATE] = -x[:, FLIP_NEGATE]
    return x


def augment_feat(x):
    """Encoder-robustness augmentation of a feature batch [N, C, T, H, W] (channels dx, dy, residual).
    Motion-vector magnitudes depend on the reference distance (a P-frame after 3 B-frames points 4
    frames back; FFmpeg does not export the distance), and residual energy on the rate control, so
    both are rescaled per clip and per frame; a frame's motion is zeroed at random as an I-frame
    would."""
    n, c, t = x.shape[:3]
    mv = torch.exp(torch.randn(n, 1, t, 1, 1) * 0.35) * torch.empty(n, 1, 1, 1, 1).uniform_(0.75, 1.33)
    intra = (torch.rand(n, 1, t, 1, 1) < 0.08).float()
    res = torch.exp(torch.randn(n, 1, t, 1, 1) * 0.25) * torch.empty(n, 1, 1, 1, 1).uniform_(0.6, 1.6)
    x = x.clone()
    x[:, 0:2] = x[:, 0:2] * mv * (1 - intra)
    x[:, 2:3] = x[:, 2:3] * res
    return x


def rgb_tensor(a):
    return torch.from_numpy(a).float().div_(255.0)


def predict(fn, x, batch=256):
    """Runs fn over x in batches without gradients; returns concatenated outputs (tuple-aware)."""
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(fn(x[i:i + batch]))
    if isinstance(outs[0], tuple):
        return tuple(torch.cat([o[k] for o in outs]) for k in range(len(outs[0])))
    return torch.cat(outs)


def train_teacher(tr, va, epochs, grid):
    """Trains the RGB teacher with flip augmentation; keeps the epoch with the best val accuracy."""
    model = models.Teacher(len(LABELS), grid=grid)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * ((len(tr["y"]) + 31) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    x_all = torch.from_numpy(tr["rgb"])
    y_all = torch.from_numpy(tr["y"])
    xv = rgb_tensor(va["rgb"])
    best, best_state = -1, None
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(y_all))
        tot = 0.0
        for i in range(0, len(perm), 32):
            idx = perm[i:i + 32]
            x = x_all[idx].float().div_(255.0)
            y = y_all[idx]
            if random.random() < 0.5:
                x = torch.flip(x, dims=[4])
                y = flip_labels(y)
            loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        model.eval()
        acc = (predict(model, xv).argmax(1).numpy() == va["y"]).mean()
        log(f"teacher epoch {ep + 1}/{epochs} loss {tot / len(perm):.3f} val acc {acc:.4f}")
        if acc >= best:
            best, best_state = acc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    return model


def train_student(tr, va, teacher_logits, mean, std, epochs, temperature, alpha, grid):
    """Trains the student on all three exits with CE + KD from the teacher's logits (original and
    mirrored clips); keeps the epoch with the best val accuracy of the final exit."""
    c, t = tr["feat"].shape[1], tr["feat"].shape[2]
    model = models.Student(c, t, len(LABELS), mean, std, grid=grid)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = epochs * ((len(tr["y"]) + 63) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    x_all = torch.from_numpy(tr["feat"])
    y_all = torch.from_numpy(tr["y"])
    t_plain, t_flip = teacher_logits
    xv = torch.from_numpy(va["feat"]).float()
    weights = (0.6, 0.8, 1.0)
    best, best_state = -1, None
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(y_all))
        tot = 0.0
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            x = x_all[idx].float()
            y = y_all[idx]
            tl = t_plain[idx] if t_plain is not None else None
            if random.random() < 0.5:
                x, y = flip_feat(x), flip_labels(y)
                tl = t_flip[idx] if t_flip is not None else None
            outs = model(augment_feat(x))
            loss = sum(w * models.kd_loss(o, tl, y, temperature, alpha) for w, o in zip(weights, outs))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        model.eval()
        accs = [(o.argmax(1).numpy() == va["y"]).mean() for o in predict(model, xv)]
        log(f"student epoch {ep + 1}/{epochs} loss {tot / len(perm):.3f} val acc exits "
            + " ".join(f"{a:.4f}" for a in accs))
        score = accs[2] + 0.1 * (accs[0] + accs[1])
        if score >= best:
            best, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    return model


def early_exit(probs, thresholds, stage_cost):
    """Applies the exit policy: stop at the first exit whose max probability >= its threshold (the last
    exit always answers). Returns (predictions, exit index per clip, FLOPs per clip)."""
    n = len(probs[0])
    pred = np.zeros(n, np.int64)
    where = np.full(n, len(probs) - 1)
    done = np.zeros(n, bool)
    for k, p in enumerate(probs):
        take = ~done if k == len(probs) - 1 else (~done) & (p.max(1) >= thresholds[k])
        pred[take] = p[take].argmax(1)
        where[take] = k
        done |= take
    cum = np.cumsum(stage_cost)
    return pred, where, cum[where]


def calibrate(probs, y, stage_cost, tolerance):
    """Chooses one threshold for exits 1 and 2 on the validation split: the lowest-compute threshold
    whose accuracy is within `tolerance` of the full student's. Returns (threshold, table)."""
    full = (probs[-1].argmax(1) == y).mean()
    grid = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999]
    table, chosen = [], None
    for th in grid:
        pred, _, flops = early_exit(probs, [th, th], stage_cost)
        acc = (pred == y).mean()
        table.append((th, acc, flops.mean()))
        if acc >= full - tolerance and (chosen is None or flops.mean() < chosen[2]):
            chosen = (th, acc, flops.mean())
    return (chosen[0] if chosen else 0.999), table


def metrics(pred, y):
    k = len(LABELS)
    cm = np.zeros((k, k), np.int64)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    prec = [float(cm[i, i] / cm[:, i].sum()) if cm[:, i].sum() else 0.0 for i in range(k)]
    rec = [float(cm[i, i] / cm[i].sum()) if cm[i].sum() else 0.0 for i in range(k)]
    return {"accuracy": float((pred == y).mean()), "n": int(len(y)), "confusion": cm.tolist(),
            "precision": prec, "recall": rec}


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="training/out/mfcd")
    ap.add_argument("--teacher-epochs", type=int, default=15)
    ap.add_argument("--student-epochs", type=int, default=30)
    ap.add_argument("--temperature", type=float, default=4.0)
    ap.add_argument("--alpha", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--teacher-only", action="store_true")
    ap.add_argument("--head-grid", type=int, default=2,
                    help="exit heads pool to a grid x grid map (1: global average pooling)")
    ap.add_argument("--real", default="",
                    help="teacher-labelled real training windows (default <data>/train_real.npz, made by `real`)")
    ap.add_argument("--no-real", action="store_true",
                    help="train on the synthetic renders alone (the ablation of the real footage)")
    ap.add_argument("--reuse-student", action="store_true",
                    help="load <work>/student.pt instead of training (re-export and re-evaluate only)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_all(args.seed)
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    splits = {s: load(args.data, s) for s in ("train", "val", "test", "test_iid")}
    real_windows = 0
    if not args.no_real:
        path = args.real or os.path.join(args.data, "train_real.npz")
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run `python -m training.mfcd real` first, or pass --no-real")
        z = np.load(path)
        real = {k: z[k] for k in z.files}
        real["video"] = real["video"] + REAL_VIDEO_OFFSET
        real_windows = len(real["y"])
        splits["train"] = {k: np.concatenate([splits["train"][k], real[k]]) for k in splits["train"]}
        log(f"real training windows from {path}: {real_windows}, per class "
            f"{np.bincount(real['y'], minlength=len(LABELS)).tolist()}")
    for s, d in splits.items():
        log(s, {k: v.shape for k, v in d.items()})

    teacher_path = os.path.join(args.work, "teacher.pt")
    teacher_loaded = os.path.exists(teacher_path)
    if teacher_loaded:
        teacher = models.Teacher(len(LABELS), grid=args.head_grid)
        teacher.load_state_dict(torch.load(teacher_path))
        teacher.eval()
        log("loaded", teacher_path)
    else:
        teacher = train_teacher(splits["train"], splits["val"], args.teacher_epochs, args.head_grid)
        torch.save(teacher.state_dict(), teacher_path)
    t_teacher = time.time() - t0
    teacher_eval = {}
    for s, d in splits.items():
        pred = predict(teacher, rgb_tensor(d["rgb"])).argmax(1).numpy()
        teacher_eval[s] = metrics(pred, d["y"])
        log(f"teacher {s} acc {teacher_eval[s]['accuracy']:.4f}")
    if args.teacher_only:
        return

    tr = splits["train"]
    xt = rgb_tensor(tr["rgb"])
    t_plain = predict(teacher, xt)
    t_flip = predict(teacher, torch.flip(xt, dims=[4]))
    del xt
    feat = models.signed_log(torch.from_numpy(tr["feat"].astype(np.float32))).numpy()
    mean = feat.mean(axis=(0, 2, 3, 4)).tolist()
    std = (feat.std(axis=(0, 2, 3, 4)) + 1e-3).tolist()
    del feat
    log("feature mean", mean, "std", std)
    seed_all(args.seed)
    student_path = os.path.join(args.work, "student.pt")
    if args.reuse_student and os.path.exists(student_path):
        student = models.Student(tr["feat"].shape[1], tr["feat"].shape[2], len(LABELS), mean, std,
                                 grid=args.head_grid)
        student.load_state_dict(torch.load(student_path))
        student.eval()
        log("loaded", student_path)
    else:
        student = train_student(tr, splits["val"], (t_plain, t_flip), mean, std, args.student_epochs,
                                args.temperature, args.alpha, args.head_grid)
        torch.save(student.state_dict(), student_path)
    t_train = time.time() - t0
    # Training times are kept beside the weights, so a --reuse-student run reports the training that
    # made them rather than its own (near-zero) time.
    times_path = os.path.join(args.work, "train_seconds.json")
    if args.reuse_student and os.path.exists(times_path):
        with open(times_path) as f:
            times = json.load(f)
    else:
        times = {"teacher_and_student": t_train, "teacher": t_teacher, "threads": args.threads}
        if args.reuse_student or teacher_loaded:
            times["note"] = "teacher or student loaded from an earlier run: times are partial"
        with open(times_path, "w") as f:
            json.dump(times, f)

    c, t, h, w = tr["feat"].shape[1:]
    example = torch.zeros(1, c, t, h, w)
    cost = models.stage_flops(student, example)
    teacher_flops = models.count_flops(teacher, torch.zeros(1, 3, t, h, w))
    student_flops = sum(cost)

    probs = {}
    for s, d in splits.items():
        outs = predict(student, torch.from_numpy(d["feat"]).float())
        probs[s] = [F.softmax(o, 1).numpy() for o in outs]
    threshold, val_table = calibrate(probs["val"], splits["val"]["y"], cost, tolerance=0.005)
    log("calibrated threshold", threshold)

    ev = {"teacher": teacher_eval, "student": {}, "early_exit": {}, "threshold_sweep": {}}
    for s, d in splits.items():
        ev["student"][s] = metrics(probs[s][-1].argmax(1), d["y"])
        ev["student"][s]["exit_accuracy"] = [float((p.argmax(1) == d["y"]).mean()) for p in probs[s]]
        pred, where, flops = early_exit(probs[s], [threshold, threshold], cost)
        ev["early_exit"][s] = metrics(pred, d["y"])
        ev["early_exit"][s]["mean_flops"] = float(flops.mean())
        ev["early_exit"][s]["exit_fraction"] = [float((where == k).mean()) for k in range(3)]
        sweep = []
        for th, _, _ in val_table:
            p2, wh2, fl2 = early_exit(probs[s], [th, th], cost)
            sweep.append({"threshold": th, "accuracy": float((p2 == d["y"]).mean()),
                          "mean_flops": float(fl2.mean()),
                          "exit_fraction": [float((wh2 == k).mean()) for k in range(3)]})
        ev["threshold_sweep"][s] = sweep
        log(f"student {s}: full {ev['student'][s]['accuracy']:.4f} exits {ev['student'][s]['exit_accuracy']}"
            f" early-exit {ev['early_exit'][s]['accuracy']:.4f} mean MFLOPs {flops.mean() / 1e6:.2f}")

    ev["compute"] = {"teacher_flops": teacher_flops, "teacher_params": models.params(teacher),
                     "student_flops": student_flops, "student_params": models.params(student),
                     "stage_flops": cost, "flops_ratio": teacher_flops / student_flops}
    ev["threshold"] = threshold
    ev["train_seconds"] = times

    export_info = export.export_all(student, splits, args.out, threshold, LABELS, cost, log)
    ev.update(export_info["eval"])
    ev["total_seconds"] = time.time() - t0
    manifest = export_info["manifest"]
    with open(os.path.join(args.data, "videos.json")) as f:
        vj = json.load(f)
    manifest["dataset"] = {
        "version": vj["version"], "seed": vj["seed"], "generator": "training/mfcd/dataset.py",
        "windows": {s: int(len(d["y"])) for s, d in splits.items()},
        "videos": {s: sum(1 for v in vj["videos"] if v["split"] == s) for s in splits},
        "backgrounds": {s: [os.path.basename(b.rstrip("/")) for b in bs] for s, bs in vj["backgrounds"].items()},
        "real_train_windows": real_windows,
        "real_train_manifest": "training/realfootage/train_manifest.json" if real_windows else None,
        "train_encoder": dataset.TRAIN_ENC, "val_encoder": dataset.VAL_ENC, "test_encoder": dataset.TEST_ENC,
    }
    manifest["eval"] = {
        "split": "test (held-out backgrounds and encoder settings)",
        "teacher_accuracy": teacher_eval["test"]["accuracy"],
        "student_accuracy": ev["student"]["test"]["accuracy"],
        "early_exit_accuracy": ev["early_exit"]["test"]["accuracy"],
        "early_exit_mean_flops": ev["early_exit"]["test"]["mean_flops"],
        "student_flops": student_flops, "teacher_flops": teacher_flops,
        "int8_accuracy": ev["int8"]["test"]["accuracy"],
        "in_distribution_accuracy": ev["student"]["test_iid"]["accuracy"],
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(ev, f, indent=1)
    log(f"done in {time.time() - t0:.0f}s")

