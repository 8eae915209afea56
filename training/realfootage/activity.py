#!/usr/bin/env python3
"""Per-bin activity of a clip, to help draft a hand-made timeline (stdlib only, uses the ffmpeg CLI).

For every bin (0.5 s by default) it prints the fraction of pixels whose grey level moved by more
than a threshold against the frame 2 steps earlier (motion), and the mean grey level (exposure).
It is only an aid: every timeline entry in testdata/realfootage/timelines was checked on contact
sheets of the frames, and the labels (person/vehicle, camera motion, light) are a person's call.

    python3 training/realfootage/activity.py CLIP [--bin 0.5] [--thr 25]
"""
import argparse
import subprocess

W, H, FPS = 80, 60, 10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip")
    ap.add_argument("--bin", type=float, default=0.5)
    ap.add_argument("--thr", type=int, default=25)
    a = ap.parse_args()
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", a.clip, "-vf", f"fps={FPS},scale={W}:{H},format=gray",
         "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    n = W * H
    frames = [raw[i:i + n] for i in range(0, len(raw) - n + 1, n)]
    per_bin = max(1, round(a.bin * FPS))
    for b in range(0, len(frames), per_bin):
        moved, mean = [], []
        for i in range(b, min(b + per_bin, len(frames))):
            f = frames[i]
            mean.append(sum(f) / n)
            if i >= 2:
                g = frames[i - 2]
                moved.append(sum(1 for x, y in zip(f, g) if abs(x - y) > a.thr) / n)
        m = max(moved) if moved else 0.0
        bar = "#" * int(m * 200)
        print(f"{b / FPS:6.1f}s motion {m:6.3f} grey {sum(mean) / len(mean):6.1f} {bar}")


if __name__ == "__main__":
    main()
