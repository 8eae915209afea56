"""Builds the MFCD-Net training arrays from the generated videos.

For every video of videos.json:
  * compressed-domain features come from the Go extractor that serves, `mvwatch features INPUT --out
    F.npy --clip-len T --size WxH --stride S` (float32 [N, C, T, H, W] plus F.json with each clip's frame
    range), so training and serving share one implementation;
  * raw RGB frames for the teacher come from the ffmpeg CLI (decoded, scaled to the same size), cut into
    the same frame ranges.
Each window is labelled with dataset.windows_for_video; unusable windows (label -1) are dropped.
Writes <data>/<split>.npz with feat [M,C,T,H,W] float16, rgb [M,3,T,H,W] uint8, y [M], video [M],
start [M].

Usage: training/.venv/bin/python -m training.mfcd features --data training/data/mfcd --mvwatch /tmp/mvwatch [--jobs 2]
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from training.mfcd import dataset

CLIP_LEN = 8
SIZE = 64
STRIDE = 8


def decode_rgb(path, size):
    """Decodes every frame of path with ffmpeg, scaled to size x size, as uint8 [F, size, size, 3]."""
    raw = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-threads", "1", "-i", path, "-vf",
         f"scale={size}:{size}:flags=area", "-fps_mode", "passthrough", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, size, size, 3)


def parse_ranges(meta_json, n):
    """Reads the clip frame ranges [(start, end_exclusive)] from the extractor's .json sidecar."""
    with open(meta_json) as f:
        meta = json.load(f)
    clips = meta["clips"] if isinstance(meta, dict) else meta
    ranges = []
    for c in clips:
        if "first" in c and "last" in c and c.get("frames") and len(c["frames"]) == c["last"] - c["first"] + 1:
            ranges.append((int(c["first"]), int(c["last"]) + 1))
        elif "frames" in c:
            fr = c["frames"]
            ranges.append((int(fr[0]), int(fr[-1]) + 1))
        else:
            raise ValueError(f"{meta_json}: clip without start/end: {c}")
    if len(ranges) != n:
        raise ValueError(f"{meta_json}: {len(ranges)} ranges for {n} clips")
    return ranges


def check_cache(feature_dir, mvwatch):
    """Empties the per-video feature cache when it was made by another extractor build: the cache is
    keyed by the sha256 of the mvwatch binary (build it with -buildvcs=false -trimpath, as `make
    train-mfcd` does, so the hash changes only with the code). Without this, videos that dataset.py
    reused kept features from an older extractor while re-rendered ones got new ones."""
    with open(mvwatch, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(feature_dir, "EXTRACTOR")
    old = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if old != digest:
        stale = [n for n in os.listdir(feature_dir) if n.endswith((".npy", ".json"))]
        for n in stale:
            os.remove(os.path.join(feature_dir, n))
        if stale:
            print(f"extractor changed: removed {len(stale)} cached feature files", file=sys.stderr)
        with open(stamp, "w") as f:
            f.write(digest + "\n")


def extract(mvwatch, video, out_npy):
    """Runs the Go extractor once per video (cached; see check_cache)."""
    if os.path.exists(out_npy) and os.path.exists(out_npy[:-4] + ".json"):
        return
    subprocess.run([mvwatch, "features", video, "--out", out_npy, "--clip-len", str(CLIP_LEN),
                    "--size", f"{SIZE}x{SIZE}", "--stride", str(STRIDE), "--mv-norm", "0.5",
                    "--residual-norm", "128"],
                   check=True, capture_output=True)


def build_video(args):
    """Returns (feat [n,C,T,H,W], rgb [n,3,T,H,W], labels [n], starts [n]) of one video's windows."""
    data, mvwatch, meta = args
    video = os.path.join(data, "videos", meta["file"])
    rgb_all = decode_rgb(video, SIZE)
    if mvwatch:
        out_npy = os.path.join(data, "features", meta["file"][:-4] + ".npy")
        extract(mvwatch, video, out_npy)
        feat = np.load(out_npy)
        ranges = parse_ranges(out_npy[:-4] + ".json", feat.shape[0])
    else:  # teacher-only: fixed windows, no compressed-domain features
        feat = None
        ranges = [(s, s + CLIP_LEN) for s in range(0, len(rgb_all) - CLIP_LEN + 1, STRIDE)]
    labels = dataset.windows_for_video(meta, ranges)
    keep = [i for i, l in enumerate(labels) if l >= 0 and ranges[i][1] <= len(rgb_all)]
    rgb = np.stack([rgb_all[ranges[i][0]:ranges[i][1]] for i in keep]) if keep else \
        np.zeros((0, CLIP_LEN, SIZE, SIZE, 3), np.uint8)
    rgb = rgb.transpose(0, 4, 1, 2, 3)  # [n, 3, T, H, W]
    f = feat[keep].astype(np.float16) if feat is not None else None
    return f, rgb, np.array([labels[i] for i in keep], np.int64), np.array([ranges[i][0] for i in keep])


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mvwatch", default="", help="mvwatch binary; empty builds teacher-only arrays")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--suffix", default="")
    args = ap.parse_args(argv)
    with open(os.path.join(args.data, "videos.json")) as f:
        videos = json.load(f)["videos"]
    os.makedirs(os.path.join(args.data, "features"), exist_ok=True)
    if args.mvwatch:
        check_cache(os.path.join(args.data, "features"), args.mvwatch)
    for split in ("train", "val", "test", "test_iid"):
        metas = [(i, v) for i, v in enumerate(videos) if v["split"] == split]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(build_video, [(args.data, args.mvwatch, v) for _, v in metas]))
        feats, rgbs, ys, vids, starts = [], [], [], [], []
        for (vi, _), (f, r, y, s) in zip(metas, results):
            if f is not None:
                feats.append(f)
            rgbs.append(r)
            ys.append(y)
            vids.append(np.full(len(y), vi))
            starts.append(s)
        out = {"rgb": np.concatenate(rgbs), "y": np.concatenate(ys), "video": np.concatenate(vids),
               "start": np.concatenate(starts)}
        if feats:
            out["feat"] = np.concatenate(feats)
        np.savez(os.path.join(args.data, f"{split}{args.suffix}.npz"), **out)
        counts = np.bincount(out["y"], minlength=len(dataset.LABELS))
        print(f"{split}: {len(out['y'])} windows, per class {counts.tolist()}", file=sys.stderr)

