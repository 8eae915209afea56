"""Train the track class model on the teacher-labelled training tracks and export it for Go.

Samples: every labelled track's features at its end and at its prefixes (the features a live event sees
while the track is still going on), all with the track's teacher label. Validation: the tracks that start
in the last VAL_SHARE of their clip's time (all encoder variants alike, so no variant of a validation
track is trained on). Model selection (feature set, hidden width, weight decay) on the leave-one-clip-out
balanced accuracy of the end-of-track features (ties: the time-split validation), since the evaluation set
holds scenes no training clip shows; the chosen configuration is then trained again on all training tracks. Fixed seed;
full-batch Adam; class-balanced cross-entropy. Export: models/trackclass/model.json (feature names and
normalisation, layers, classes, how it was made) and fixture.json (inputs and the probabilities of the
exported weights, for the Go forward-pass test).
"""
import argparse
import json
import os

import numpy as np
import torch

from training.common.cli import command_line

CLASSES = ["person", "vehicle", "other"]
VAL_SHARE = 0.3
SEED = 1
EPOCHS = 600
CONFIGS = [(0, 1e-2), (0, 1e-1), (8, 1e-2), (8, 1e-1), (16, 1e-1)]
# Feature sets tried: all, and without the box's absolute size (in pixels or picture fractions), which
# says more about how far a camera is from its scene than about what the object is. A left-out feature
# is zeroed after standardisation (its first-layer weights are 0 in the export).
SIZE_FEATURES = {"log_w_px", "log_h_px", "w_norm", "h_norm", "log_area_norm"}
# The track's life (detections, seconds, hit rate) says as much about how the tracker fragments a scene.
LIFE_FEATURES = {"log_hits", "log_dwell", "hit_rate"}
FEATURE_SETS = {"all": set(), "no_size": SIZE_FEATURES, "no_life": LIFE_FEATURES, "no_size_life": SIZE_FEATURES | LIFE_FEATURES}


def load(work, manifest):
    with open(manifest) as f:
        dur = {c["name"]: c["duration"] for c in json.load(f)["clips"]}
    labels = {}
    with open(os.path.join(work, "labels.jsonl")) as f:
        for line in f:
            l = json.loads(line)
            labels[(l["clip"], l["variant"], l["id"])] = l["label"]
    # The Go side's input order (`mvwatch tracks -feature-names`, written by dump).
    with open(os.path.join(work, "feature_names.json")) as f:
        names = json.load(f)
    rows = []  # (x, y, is_end, val, key)
    for fn in sorted(os.listdir(os.path.join(work, "tracks"))):
        clip, variant, ext = fn.split(".")
        if ext != "jsonl":
            continue
        with open(os.path.join(work, "tracks", fn)) as f:
            for line in f:
                t = json.loads(line)
                lab = labels.get((clip, variant, t["id"]))
                if lab is None:
                    continue
                val = t["start"] >= (1 - VAL_SHARE) * dur[clip]
                y = CLASSES.index(lab)
                rows.append(([t["features"][n] for n in names], y, True, val, clip))
                for p in t.get("prefixes") or []:
                    rows.append(([p["features"][n] for n in names], y, False, val, clip))
    return names, rows


def build(nin, hidden):
    if hidden == 0:
        return torch.nn.Sequential(torch.nn.Linear(nin, len(CLASSES)))
    return torch.nn.Sequential(torch.nn.Linear(nin, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, len(CLASSES)))


def fit(x, y, hidden, wd, keep=None):
    torch.manual_seed(SEED)
    model = build(x.shape[1], hidden)
    if keep is not None:
        x = x * keep
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    weight = counts.sum() / (len(CLASSES) * counts.clamp(min=1))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=wd)
    for _ in range(EPOCHS):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    if keep is not None:
        with torch.no_grad():
            model[0].weight.mul_(keep)
    return model


def balanced_accuracy(model, x, y):
    with torch.no_grad():
        pred = model(x).argmax(1)
    recalls = [float((pred[y == c] == c).float().mean()) for c in range(len(CLASSES)) if (y == c).any()]
    return float(np.mean(recalls)), pred


def per_class(pred, y):
    out = {}
    for c, name in enumerate(CLASSES):
        tp = int(((pred == c) & (y == c)).sum())
        npred, ntrue = int((pred == c).sum()), int((y == c).sum())
        out[name] = {"truth": ntrue, "predicted": npred, "correct": tp,
                     "precision": tp / npred if npred else None, "recall": tp / ntrue if ntrue else None}
    return out


def export(model, names, mean, std, meta, path):
    layers = []
    mods = [m for m in model if isinstance(m, torch.nn.Linear)]
    for i, m in enumerate(mods):
        layers.append({"weight": m.weight.detach().double().tolist(), "bias": m.bias.detach().double().tolist(),
                       "activation": "relu" if i < len(mods) - 1 else "none"})
    doc = {"schema": "mvwatch.trackclass.v1", "features": names, "classes": CLASSES,
           "mean": mean.tolist(), "std": std.tolist(), "layers": layers, "training": meta}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return doc


def forward_np(doc, x):
    """The exported model's forward pass in float64, as the Go side computes it."""
    a = (np.asarray(x, dtype=np.float64) - np.asarray(doc["mean"])) / np.asarray(doc["std"])
    for l in doc["layers"]:
        a = a @ np.asarray(l["weight"]).T + np.asarray(l["bias"])
        if l["activation"] == "relu":
            a = np.maximum(a, 0)
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main(argv, prog):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="training/out/trackclass")
    ap.add_argument("--manifest", default="training/realfootage/train_manifest.json")
    ap.add_argument("--out", default="models/trackclass")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    names, rows = load(a.work, a.manifest)
    X = np.array([r[0] for r in rows], dtype=np.float64)
    Y = np.array([r[1] for r in rows])
    end = np.array([r[2] for r in rows])
    val = np.array([r[3] for r in rows])
    tr = ~val

    def tensors(mask, mean, std):
        return torch.tensor((X[mask] - mean) / std, dtype=torch.float32), torch.tensor(Y[mask])

    mean = X[tr].mean(0)
    std = X[tr].std(0)
    std[std < 1e-6] = 1.0
    xt, yt = tensors(tr, mean, std)
    xv, yv = tensors(val & end, mean, std)
    clips = np.array([r[4] for r in rows])
    results = []
    for fs_name, drop in FEATURE_SETS.items():
        keep = torch.tensor([0.0 if n in drop else 1.0 for n in names])
        for hidden, wd in CONFIGS:
            m = fit(xt, yt, hidden, wd, keep)
            bacc, _ = balanced_accuracy(m, xv, yv)
            # Leave one clip out: trained on the other clips' tracks, scored on this clip's (end features),
            # pooled: how well it carries over to scenes it has not seen, which the evaluation set is.
            preds, truth = [], []
            for c in sorted(set(clips)):
                inn = clips != c
                mu, sd = X[inn].mean(0), X[inn].std(0)
                sd[sd < 1e-6] = 1.0
                xi, yi = tensors(inn, mu, sd)
                xo, yo = tensors((clips == c) & end, mu, sd)
                mc = fit(xi, yi, hidden, wd, keep)
                with torch.no_grad():
                    preds.append(mc(xo).argmax(1))
                truth.append(yo)
            pl, tl = torch.cat(preds), torch.cat(truth)
            loco = float(np.mean([float((pl[tl == k] == k).float().mean()) for k in range(len(CLASSES)) if (tl == k).any()]))
            results.append({"features": fs_name, "hidden": hidden, "weight_decay": wd,
                            "val_balanced_accuracy": round(bacc, 4), "loco_balanced_accuracy": round(loco, 4)})
            print(f"{fs_name:8s} hidden {hidden:2d} wd {wd:g}: val balanced accuracy {bacc:.3f}, leave-one-clip-out {loco:.3f}", flush=True)
    best = max(results, key=lambda r: (r["loco_balanced_accuracy"], r["val_balanced_accuracy"], -r["hidden"]))
    keep = torch.tensor([0.0 if n in FEATURE_SETS[best["features"]] else 1.0 for n in names])
    m = fit(xt, yt, best["hidden"], best["weight_decay"], keep)
    _, pv = balanced_accuracy(m, xv, yv)
    val_scores = per_class(pv, yv)
    # The chosen configuration, trained again on every training track (validation ones included).
    mean_all = X.mean(0)
    std_all = X.std(0)
    std_all[std_all < 1e-6] = 1.0
    xa, ya = tensors(np.ones(len(Y), bool), mean_all, std_all)
    final = fit(xa, ya, best["hidden"], best["weight_decay"], keep)
    tracks_end = {c: int(((Y == i) & end).sum()) for i, c in enumerate(CLASSES)}
    meta = {"command": command_line(), "seed": SEED, "epochs": EPOCHS, "chosen": best, "selection": results,
            "samples": len(Y), "tracks_by_class": tracks_end,
            "validation": {"share_of_clip_time": VAL_SHARE, "tracks": int((val & end).sum()), "per_class": val_scores},
            "data": "teacher-labelled tracks of training/realfootage/train_manifest.json (6 encoder variants each); "
                    "see training/trackclass/teacher.py"}
    os.makedirs(a.out, exist_ok=True)
    doc = export(final, names, mean_all, std_all, meta, os.path.join(a.out, "model.json"))
    # Fixture: a few tracks' features and the exported model's probabilities (float64, as Go computes).
    pick = np.linspace(0, len(Y) - 1, 8).round().astype(int)
    probs = forward_np(doc, X[pick])
    with torch.no_grad():
        tp = torch.softmax(final(torch.tensor((X[pick] - mean_all) / std_all, dtype=torch.float32)), 1).numpy()
    assert np.abs(probs - tp).max() < 1e-4, "exported weights disagree with the trained model"
    with open(os.path.join(a.out, "fixture.json"), "w") as f:
        json.dump({"inputs": X[pick].tolist(), "probabilities": probs.tolist()}, f, indent=1)
        f.write("\n")
    print(json.dumps({"chosen": best, "tracks_by_class": tracks_end, "validation": val_scores}, indent=1))
    return 0
