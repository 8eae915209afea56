"""Real training footage for MFCD-Net, labelled by a raw-domain teacher.

For every clip of training/realfootage/train_manifest.json (never the evaluation set testdata/realfootage):

1. re-encode it with VARIANTS encoder settings drawn (seeded) from dataset.TRAIN_ENC, the training grid
   (size, fps, preset, GOP, B-frames, rate control), half of them mirrored;
2. extract the compressed-domain windows with the Go extractor that serves (`mvwatch features`, the
   same arguments as features.py) and the teacher's 64x64 RGB frames of the same windows;
3. label every window from the decoded pictures (raw domain, never the compressed-domain features):

   - camera motion, by feature tracking: Shi-Tomasi corners tracked with pyramidal Lucas-Kanade between
     consecutive frames, a similarity transform fitted with RANSAC (cv2.estimateAffinePartial2D); per
     window the median translation (px per frame at LABEL_WIDTH) and scale change;
   - object motion, by background subtraction: |grey - median background| > FG_DIFF (fixed cameras
     only; the background is the per-pixel median of every 4th frame), opened, then connected blobs of
     at least MIN_BLOB of the frame; Farneback optical flow (minus the camera's own motion) inside the
     blobs gives each blob's horizontal direction.

   Rules (thresholds set by looking at the training clips, never at the evaluation set):
   - moving camera (the manifest's `camera`, a person's call per clip): zoom when the scale changes by
     more than ZOOM_SCALE per frame, shake when the translation direction flips from frame to frame
     with a large spread, pan when it moves steadily by more than PAN_PX; windows with little camera
     motion are dropped (the object the camera follows may be what moves);
   - fixed camera: idle when no blob and under IDLE_FG of the frame differs; multi_object when blobs
     move both ways (the minority direction at least a quarter of the blob samples), as the synthetic
     class is defined; otherwise object_left / object_right by the direction of the moving blobs (a
     stream of cars all driving right is object_right); dropped when blobs are present but none moves sideways clearly
     (towards or away from the camera: the label set has no class for it) or when the foreground is
     between idle and a blob (unsure).

The teacher's labels are weak (a crowd's shadow is an object, two cars merged are one blob), which is why
their rules drop what they cannot place. Writes <data>/train_real.npz (feat, rgb, y, video, start in the
layout of features.py) and <data>/real.json (every window's label and why).

Usage: training/.venv/bin/python -m training.mfcd real --data training/data/mfcd --mvwatch bin/mvwatch
"""

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from training.mfcd import dataset, features
from training.trackclass import teacher

MANIFEST = "training/realfootage/train_manifest.json"
VARIANTS = 4
SEED = 7
LABEL_WIDTH = 320
FG_DIFF = 25
MIN_BLOB = 0.0015
IDLE_FG = 0.0005
DIR_PX = 0.35
PAN_PX = 1.0
ZOOM_SCALE = 0.004


def variants(name, seed):
    """Encoder settings for one clip: VARIANTS draws from the training grid, every second one mirrored."""
    rng = np.random.default_rng([seed, sum(name.encode())])
    g = dataset.TRAIN_ENC
    out = []
    for k in range(VARIANTS):
        w, _ = g["size"][rng.integers(len(g["size"]))]
        enc = {key: g[key][rng.integers(len(g[key]))] for key in ("preset", "gop", "bframes", "rate")}
        enc.update(width=int(w), fps=int(g["fps"][rng.integers(len(g["fps"]))]), mirrored=bool(k % 2))
        out.append(enc)
    return out


def encode(src, dst, enc):
    """Re-encodes src with one training-grid setting (ffmpeg CLI, libx264, one thread: reproducible)."""
    rate = dataset.rate_args(enc["rate"])
    vf = f"fps={enc['fps']},scale={enc['width']}:-2,format=yuv420p"
    if enc["mirrored"]:
        vf = "hflip," + vf
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", src, "-an", "-sn", "-vf", vf,
                    "-c:v", "libx264", "-preset", enc["preset"], "-g", str(enc["gop"]),
                    "-bf", str(enc["bframes"]), *rate, "-threads", "1", "-x264-params", "threads=1",
                    dst], check=True)


def grey_frames(path):
    """Decodes path (frames in output order, as the extractor numbers them) to grey at LABEL_WIDTH."""
    out = []
    for f in teacher.read_frames(path):
        h = int(round(f.shape[0] * LABEL_WIDTH / f.shape[1] / 2)) * 2
        out.append(cv2.cvtColor(cv2.resize(f, (LABEL_WIDTH, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY))
    return out


def camera_motion(a, b):
    """(dx, dy, scale) of the similarity transform from grey frame a to b, or None without enough tracks."""
    pts = cv2.goodFeaturesToTrack(a, maxCorners=300, qualityLevel=0.01, minDistance=7)
    if pts is None or len(pts) < 12:
        return None
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(a, b, pts, None, winSize=(21, 21), maxLevel=3)
    ok = st.ravel() == 1
    if ok.sum() < 12:
        return None
    m, inl = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=1.5)
    if m is None or inl is None or inl.sum() < 10:
        return None
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    # Translation of the frame centre (a zoom about the centre moves it by nothing).
    cx, cy = a.shape[1] / 2, a.shape[0] / 2
    dx = float(m[0, 0] * cx + m[0, 1] * cy + m[0, 2] - cx)
    dy = float(m[1, 0] * cx + m[1, 1] * cy + m[1, 2] - cy)
    return dx, dy, scale


def label_moving(motions):
    """The label of a moving-camera window from its per-frame camera motions, or (-1, why)."""
    ms = [m for m in motions if m is not None]
    if len(ms) < len(motions) // 2 + 1:
        return -1, "too few tracked frames"
    dx, dy, sc = (np.array(v) for v in zip(*ms))
    speed = float(np.median(np.hypot(dx, dy)))
    zoom = float(np.median(np.abs(sc - 1)))
    if zoom > ZOOM_SCALE and zoom * LABEL_WIDTH / 2 > speed:
        return dataset.LABELS.index("zoom"), f"scale {zoom:.4f}/frame, centre {speed:.2f} px/frame"
    if speed < PAN_PX:
        return -1, f"camera {speed:.2f} px/frame: too little to call"
    # Steady motion keeps its direction; shake flips it.
    mean = float(np.hypot(dx.mean(), dy.mean()))
    if mean < 0.4 * speed:
        return dataset.LABELS.index("shake"), f"{speed:.2f} px/frame, net {mean:.2f}"
    return dataset.LABELS.index("pan"), f"{speed:.2f} px/frame, net {mean:.2f}"


def blobs(mask):
    """Connected foreground blobs of at least MIN_BLOB of the frame: list of (label image id, pixels)."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    minpx = MIN_BLOB * mask.size
    return lab, [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= minpx]


def label_fixed(frames, s, e, bg, kernel):
    """The label of a fixed-camera window [s, e) from background subtraction and flow, or (-1, why)."""
    fg_frac, moving = [], []
    for i in range(s, min(e, len(frames))):
        diff = np.abs(frames[i].astype(np.int16) - bg) > FG_DIFF
        mask = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, kernel)
        fg_frac.append(float(mask.mean()))
        if i + 1 >= min(e, len(frames)) or (i - s) % 2:
            continue
        lab, ids = blobs(mask)
        if not ids:
            continue
        flow = cv2.calcOpticalFlowFarneback(frames[i], frames[i + 1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
        for b in ids:
            sel = lab == b
            moving.append(float(np.median(flow[..., 0][sel])))
    fg = max(fg_frac) if fg_frac else 0.0
    if not moving:
        if fg < IDLE_FG:
            return dataset.LABELS.index("idle"), f"foreground {fg:.4f}"
        return -1, f"foreground {fg:.4f} but no blob: unsure"
    right = sum(1 for v in moving if v > DIR_PX)
    left = sum(1 for v in moving if v < -DIR_PX)
    per_frame = len(moving) / max(1, (min(e, len(frames)) - s) // 2)
    if right and left and min(right, left) >= 0.25 * (right + left):
        return dataset.LABELS.index("multi_object"), f"{per_frame:.1f} blobs/frame, {left} left {right} right"
    if right + left < 0.5 * len(moving):
        return -1, f"{len(moving)} blob samples, {left} left {right} right: not sideways"
    lbl = "object_right" if right > left else "object_left"
    return dataset.LABELS.index(lbl), f"{per_frame:.1f} blobs/frame, {left} left {right} right"


def label_windows(video, camera, ranges):
    """Teacher labels [(label, why)] for the windows [(start, end)] of one encoded video."""
    frames = grey_frames(video)
    if camera == "fixed":
        bg = np.median(np.stack(frames[::4]), axis=0).astype(np.int16)
        kernel = np.ones((3, 3), np.uint8)
        return [label_fixed(frames, s, e, bg, kernel) for s, e in ranges]
    motions = [camera_motion(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]
    return [label_moving(motions[s:max(s, min(e, len(frames)) - 1)]) for s, e in ranges]


def build(args):
    """One clip variant: encode, extract, label; returns (feat, rgb, y, start, records)."""
    data, mvwatch, clip, k, enc = args
    name = f"{clip['name']}.v{k}"
    vdir = os.path.join(data, "real")
    video = os.path.join(vdir, name + ".mp4")
    if not os.path.exists(video):
        encode(clip["source"], video + ".tmp.mp4", enc)
        os.replace(video + ".tmp.mp4", video)
    out_npy = os.path.join(vdir, name + ".npy")
    features.extract(mvwatch, video, out_npy)
    feat = np.load(out_npy)
    ranges = features.parse_ranges(out_npy[:-4] + ".json", feat.shape[0])
    rgb_all = features.decode_rgb(video, features.SIZE)
    labels = label_windows(video, clip["camera"], ranges)
    keep = [i for i, (lbl, _) in enumerate(labels) if lbl >= 0 and ranges[i][1] <= len(rgb_all)]
    records = [{"video": name, "start": ranges[i][0], "end": ranges[i][1],
                "label": dataset.LABELS[labels[i][0]] if labels[i][0] >= 0 else None, "why": labels[i][1]}
               for i in range(len(ranges))]
    rgb = np.stack([rgb_all[ranges[i][0]:ranges[i][1]] for i in keep]).transpose(0, 4, 1, 2, 3) if keep else \
        np.zeros((0, 3, features.CLIP_LEN, features.SIZE, features.SIZE), np.uint8)
    return (feat[keep].astype(np.float16), rgb, np.array([labels[i][0] for i in keep], np.int64),
            np.array([ranges[i][0] for i in keep], np.int64), records)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mvwatch", required=True)
    ap.add_argument("--manifest", default=MANIFEST)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    cv2.setNumThreads(1)
    with open(a.manifest) as f:
        clips = json.load(f)["clips"]
    for c in clips:
        if not os.path.exists(c["source"]):
            print(f"{c['source']} is missing: run scripts/fetch-trainfootage.sh first", file=sys.stderr)
            return 2
    vdir = os.path.join(a.data, "real")
    os.makedirs(vdir, exist_ok=True)
    features.check_cache(vdir, a.mvwatch)
    jobs = [(a.data, a.mvwatch, c, k, enc) for c in clips for k, enc in enumerate(variants(c["name"], a.seed))]
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        results = list(pool.map(build, jobs))
    feats, rgbs, ys, vids, starts, records = [], [], [], [], [], []
    for vi, ((_, _, c, k, enc), (f, r, y, s, rec)) in enumerate(zip(jobs, results)):
        feats.append(f)
        rgbs.append(r)
        ys.append(y)
        vids.append(np.full(len(y), vi))
        starts.append(s)
        counts = {dataset.LABELS[i]: int(n) for i, n in enumerate(np.bincount(y, minlength=len(dataset.LABELS))) if n}
        print(f"{c['name']}.v{k} ({enc['width']} px, {enc['fps']} fps, {enc['preset']}, GOP {enc['gop']}, "
              f"B {enc['bframes']}, {enc['rate'][0]} {enc['rate'][1]}{', mirrored' if enc['mirrored'] else ''}): "
              f"{len(rec)} windows, kept {len(y)} {counts}", file=sys.stderr)
        for r_ in rec:
            r_["encoder"] = {key: (list(v) if isinstance(v, tuple) else v) for key, v in enc.items()}
        records += rec
    y = np.concatenate(ys)
    np.savez(os.path.join(a.data, "train_real.npz"), feat=np.concatenate(feats), rgb=np.concatenate(rgbs), y=y,
             video=np.concatenate(vids), start=np.concatenate(starts))
    with open(os.path.join(a.data, "real.json"), "w") as f:
        json.dump({"manifest": a.manifest, "seed": a.seed, "variants": VARIANTS, "windows": records}, f, indent=1)
    print(f"train_real: {len(y)} windows, per class {np.bincount(y, minlength=len(dataset.LABELS)).tolist()}",
          file=sys.stderr)
    return 0
