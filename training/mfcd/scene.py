"""Renders the scripted camera scene used by the serve end-to-end test and the built-in test camera:
a fixed view of a held-out (test-split) background with sensor noise and a swaying patch, where
  idle -> an object crosses left to right -> idle -> the camera pans -> idle
happens, encoded with x264 settings from the held-out encoder grid, as raw Annex-B H.264.

It reuses the dataset generator's drawing code (dataset.py), so the scene looks like the held-out split,
and writes the segments' ground truth next to the video.

Usage: python training/mfcd/scene.py --out ingest/clip/scene.264
"""
import argparse
import json
import os
import subprocess

import numpy as np
from PIL import Image

import dataset

W, H, FPS = 448, 256, 15
SEGMENTS = [("idle", 36), ("object_right", 48), ("idle", 36), ("pan", 36), ("idle", 36)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bg = dataset.load_background(dataset.TEST_BGS[0])
    vw = bg.width * 0.55
    vh = vw * H / W
    cx, cy = bg.width * 0.45, bg.height / 2
    px = vw / W
    spr, sw, sh = dataset.make_sprite(rng, dataset.TEST_BGS, H)
    noise_bank = rng.normal(0, 2.0, size=(4, H, W, 1)).astype(np.float32)
    sway = (int(W * 0.7), int(H * 0.1), int(W * 0.2), int(H * 0.25), 0.8, 0.25)

    frames, truth, t0 = [], [], 0
    pan_speed = 4.0 * px
    for label, n in SEGMENTS:
        truth.append({"label": label, "start_frame": t0, "end_frame": t0 + n, "start": t0 / FPS, "end": (t0 + n) / FPS})
        for i in range(n):
            if label == "pan":
                cx += pan_speed
            f = dataset.view(bg, cx, cy, vw, vh, W, H)
            sx, sy, sww, swh, amp, freq = sway
            dx = amp * np.sin(2 * np.pi * freq * (t0 + i))
            patch = Image.fromarray(np.clip(f[sy:sy + swh, sx:sx + sww], 0, 255).astype(np.uint8))
            patch = patch.transform(patch.size, Image.AFFINE, (1, 0, dx, 0, 1, 0), Image.BILINEAR)
            f[sy + 1:sy + swh - 1, sx + 2:sx + sww - 2] = np.asarray(patch, np.float32)[1:-1, 2:-2]
            if label == "object_right":
                x = -sw + (W + sw) * i / (n - 1)
                dataset.paste(f, spr, x, H * 0.45)
            f = f + noise_bank[(t0 + i) % 4]
            frames.append(np.clip(f, 0, 255).astype(np.uint8))
        t0 += n
    video = np.stack(frames)
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}",
           "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "superfast", "-g", "30", "-bf", "0",
           "-crf", "26", "-pix_fmt", "yuv420p", "-threads", "1", "-x264-params", "threads=1",
           "-f", "h264", args.out]
    subprocess.run(cmd, input=video.tobytes(), check=True)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as fh:
        json.dump({"fps": FPS, "width": W, "height": H, "frames": len(frames), "segments": truth,
                   "background": dataset.TEST_BGS[0], "encoder": "x264 superfast gop 30 no B-frames crf 26",
                   "command": "python training/mfcd/scene.py --out " + args.out}, fh, indent=1)
    print(f"{args.out}: {len(frames)} frames, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
