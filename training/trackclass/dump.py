"""Re-encode every training clip to the evaluation set's camera profile and dump its tracks.

The profile is testdata/realfootage/manifest.json's `encode` (448 px wide, libx264 veryfast CRF 26, no
B-frames, a keyframe every 2 s), with the same ffmpeg arguments as internal/evaluate (EncodeSpec.Args), so
the tracker sees training clips as it sees the evaluation clips and a camera. Only the profile is read from
that manifest, none of its clips.
"""
import argparse
import json
import os
import subprocess

MANIFEST = "training/realfootage/train_manifest.json"

# Encoder variants of every training clip (augmentation: the evaluation's profile, other rate factors,
# mirrored pictures, other widths so that box sizes in pixels vary): (suffix, width, crf, mirrored).
VARIANTS = [
    ("w448", 448, None, False),
    ("w448f", 448, None, True),
    ("w448q30", 448, 30, False),
    ("w448q22f", 448, 22, True),
    ("w384", 384, None, False),
    ("w512f", 512, None, True),
]
EVAL_MANIFEST = "testdata/realfootage/manifest.json"


def encode_args(enc, src, dst, mirrored=False):
    """The ffmpeg arguments of internal/evaluate's EncodeSpec.Args (plus an optional mirror)."""
    vf = f"scale={enc['width']}:-2,format=yuv420p"
    if mirrored:
        vf = "hflip," + vf
    return ["ffmpeg", "-v", "error", "-y", "-i", src, "-an", "-sn",
            "-vf", vf,
            "-c:v", "libx264", "-preset", enc["preset"], "-crf", str(enc["crf"]),
            "-bf", str(enc["bframes"]),
            "-force_key_frames", f"expr:gte(t,n_forced*{enc['gop_seconds']:g})",
            "-x264-params", "scenecut=0:threads=1", "-threads", "1", "-movflags", "+faststart", dst]


def main(argv, prog):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__)
    ap.add_argument("--manifest", default=MANIFEST)
    ap.add_argument("--work", default="training/out/trackclass")
    ap.add_argument("--mvwatch", default="bin/mvwatch")
    a = ap.parse_args(argv)
    with open(EVAL_MANIFEST) as f:
        enc = json.load(f)["encode"]
    with open(a.manifest) as f:
        clips = json.load(f)["clips"]
    os.makedirs(os.path.join(a.work, "h264"), exist_ok=True)
    os.makedirs(os.path.join(a.work, "tracks"), exist_ok=True)
    names = subprocess.run([a.mvwatch, "tracks", "-feature-names"], check=True, capture_output=True, text=True).stdout
    with open(os.path.join(a.work, "feature_names.json"), "w") as f:
        f.write(names)
    for c in clips:
        for suffix, width, crf, mirrored in VARIANTS:
            e = dict(enc, width=width, crf=crf if crf is not None else enc["crf"])
            base = f"{c['name']}.{suffix}"
            h264 = os.path.join(a.work, "h264", base + ".mp4")
            if not os.path.exists(h264) or os.path.getmtime(h264) < os.path.getmtime(c["source"]):
                subprocess.run(encode_args(e, c["source"], h264 + ".tmp.mp4", mirrored), check=True)
                os.replace(h264 + ".tmp.mp4", h264)
            out = os.path.join(a.work, "tracks", base + ".jsonl")
            subprocess.run([a.mvwatch, "tracks", "-no-class", "-o", out, h264], check=True,
                           stderr=subprocess.DEVNULL)
            n = sum(1 for _ in open(out))
            print(f"{base}: {n} tracks", flush=True)
    return 0
