"""Camera-event dataset generator for MFCD-Net.

Renders short, labelled clips of events a camera-fleet operator cares about over real photographic
backgrounds (Debian packages mate-backgrounds and plasma-workspace-wallpapers), then encodes them
to H.264 with the ffmpeg CLI (libx264) under varied encoder settings. Everything is seeded: the same
--seed and counts give byte-identical rendered frames (x264 output is deterministic with -threads 1).

Splits never share backgrounds or seeds:
  train     backgrounds TRAIN_BGS, encoder settings TRAIN_ENC
  val       backgrounds VAL_BGS,   encoder settings VAL_ENC (model selection and threshold calibration;
            its settings are in neither TRAIN_ENC nor TEST_ENC, so selection favours models that
            generalise to unseen encoders without ever looking at the test split)
  test      backgrounds TEST_BGS,  encoder settings TEST_ENC (held out: neither seen in training)
  test_iid  backgrounds TRAIN_BGS, encoder settings TRAIN_ENC, fresh seeds: the in-distribution
            reference against which the held-out generalisation gap is measured.

Each video carries one label and the frame interval in which the event happens; a feature window
(from `mvwatch features`) is given that label when it overlaps the interval by at least
MIN_OVERLAP frames (see windows_for_video).

Usage: training/.venv/bin/python -m training.mfcd dataset --out training/data/mfcd [--seed 1] [--per-class 40,12,20,12] [--jobs 2]
"""

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageFilter

DATASET_VERSION = "mfcd-events-v3"

LABELS = [
    "idle",
    "object_left",
    "object_right",
    "multi_object",
    "pan",
    "zoom",
    "shake",
    "illumination",
    "tamper",
    "scene_change",
    "defocus",
]

# Frames per video. Three 8-frame windows at stride 8.
NUM_FRAMES = 24
# The largest auto-exposure drift over one idle clip (a gain of 1 +- this): the documented level below
# which exposure adaptation is idle, not illumination.
IDLE_EXPOSURE = 0.10
# A window gets the video's label when it overlaps the event interval by this many frames.
MIN_OVERLAP = 3

_MATE = "/usr/share/backgrounds/mate/nature/"
_PLASMA = "/usr/share/wallpapers/"

TRAIN_BGS = [
    _MATE + "Aqua.jpg", _MATE + "Dune.jpg", _MATE + "Garden.jpg", _MATE + "GreenMeadow.jpg",
    _MATE + "RainDrops.jpg", _MATE + "Storm.jpg", _MATE + "Wood.jpg", _MATE + "LadyBird.jpg",
    _PLASMA + "Autumn", _PLASMA + "BytheWater", _PLASMA + "ColdRipple", _PLASMA + "DarkestHour",
    _PLASMA + "FallenLeaf", _PLASMA + "Kite", _PLASMA + "Path",
]
VAL_BGS = [
    _MATE + "Blinds.jpg", _MATE + "YellowFlower.jpg", _PLASMA + "EveningGlow", _PLASMA + "Grey",
]
TEST_BGS = [
    _MATE + "FreshFlower.jpg", _MATE + "TwoWings.jpg", _PLASMA + "ColorfulCups",
    _PLASMA + "OneStandsOut", _PLASMA + "PastelHills", _PLASMA + "SafeLanding", _PLASMA + "summer_1am",
]

# Encoder settings. TEST_ENC uses values that never occur in TRAIN_ENC or VAL_ENC (resolution, frame
# rate, preset, GOP, B-frame count, CRF and CBR bitrate) so the held-out split measures generalisation;
# VAL_ENC's values occur in neither of the others.
# TRAIN_ENC spans a wide quality range (CRF 20-36, CBR 150k-1000k) the way a fleet of cameras does; the
# rate-control modes occur in training, the test values do not.
TRAIN_ENC = {
    "size": [(320, 240), (384, 216), (416, 240), (480, 272)],
    "fps": [8, 10, 15, 25],
    "preset": ["ultrafast", "veryfast", "fast", "medium", "slower"],
    "gop": [6, 12, 25, 50, 150],
    "bframes": [0, 2, 4],
    "rate": [("crf", 20), ("crf", 23), ("crf", 26), ("crf", 29), ("crf", 34), ("crf", 36),
             ("bitrate", 150), ("bitrate", 400), ("bitrate", 1000)],
}
VAL_ENC = {
    "size": [(368, 208), (512, 288)],
    "fps": [20],
    "preset": ["faster"],
    "gop": [16, 75],
    "bframes": [5],
    "rate": [("crf", 31), ("bitrate", 300), ("bitrate", 700)],
}
TEST_ENC = {
    "size": [(352, 288), (448, 256)],
    "fps": [12, 30],
    "preset": ["superfast", "slow"],
    "gop": [8, 100],
    "bframes": [1, 3],
    "rate": [("crf", 32), ("bitrate", 250), ("bitrate", 600)],
}

SPLITS = {
    # name: (backgrounds, encoder grid, seed offset)
    "train": (TRAIN_BGS, TRAIN_ENC, 0),
    "val": (VAL_BGS, VAL_ENC, 1_000_000),
    "test": (TEST_BGS, TEST_ENC, 2_000_000),
    "test_iid": (TRAIN_BGS, TRAIN_ENC, 3_000_000),
}

_BG_CACHE = {}


def resolve_background(path):
    """Returns the file of a background: a plain image, or the largest JPEG of a Plasma wallpaper."""
    if os.path.isfile(path):
        return path
    images = os.path.join(path, "contents", "images")
    best, best_px = None, -1
    for name in sorted(os.listdir(images)):
        stem = os.path.splitext(name)[0]
        try:
            w, h = (int(v) for v in stem.split("x"))
        except ValueError:
            continue
        if w >= h and w * h > best_px:
            best, best_px = os.path.join(images, name), w * h
    if best is None:
        raise FileNotFoundError(f"no landscape image in {images}")
    return best


def load_background(path, width=960):
    """Loads a background once per process, downscaled to `width` pixels wide, as float32 RGB."""
    if path not in _BG_CACHE:
        img = Image.open(resolve_background(path)).convert("RGB")
        h = int(round(img.height * width / img.width))
        _BG_CACHE[path] = img.resize((width, h), Image.BILINEAR)
    return _BG_CACHE[path]


def view(bg, cx, cy, vw, vh, out_w, out_h):
    """Crops a vw x vh view centred at (cx, cy) from bg (clamped) and resizes it to out_w x out_h."""
    shrink = min(1.0, bg.width / vw, bg.height / vh)
    vw, vh = vw * shrink, vh * shrink
    cx = min(max(cx, vw / 2), bg.width - vw / 2)
    cy = min(max(cy, vh / 2), bg.height - vh / 2)
    box = (cx - vw / 2, cy - vh / 2, cx + vw / 2, cy + vh / 2)
    return np.asarray(bg.resize((out_w, out_h), Image.BILINEAR, box=box), dtype=np.float32)


def make_sprite(rng, bgs, h):
    """Returns (rgba float32 array, w, h) of a textured object: a blob, box or person-like shape."""
    sh = int(h * rng.uniform(0.18, 0.4))
    kind = rng.integers(3)
    sw = int(sh * (rng.uniform(0.35, 0.55) if kind == 2 else rng.uniform(0.6, 1.6)))
    sw, sh = max(sw, 6), max(sh, 6)
    src = load_background(bgs[rng.integers(len(bgs))])
    x0 = rng.integers(0, src.width - sw)
    y0 = rng.integers(0, src.height - sh)
    tex = np.asarray(src.crop((x0, y0, x0 + sw, y0 + sh)), dtype=np.float32)
    tint = rng.uniform(0.3, 1.2, size=3).astype(np.float32) * 255.0
    tex = 0.5 * tex + 0.5 * tint
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    u, v = (xx + 0.5) / sw * 2 - 1, (yy + 0.5) / sh * 2 - 1
    if kind == 0:
        mask = (u * u + v * v) <= 1.0
    elif kind == 1:
        mask = np.ones((sh, sw), dtype=bool)
    else:  # head + body
        head = (u * u + ((v + 0.78) / 0.22) ** 2) <= 0.45
        body = (np.abs(u) <= 0.85) & (v >= -0.55)
        mask = head | body
    alpha = mask.astype(np.float32)[..., None]
    return np.concatenate([tex, alpha], axis=-1), sw, sh


def paste(frame, sprite, x, y):
    """Alpha-blends sprite onto frame with its top-left corner at (x, y), clipped to the frame."""
    h, w = frame.shape[:2]
    sh, sw = sprite.shape[:2]
    x, y = int(round(x)), int(round(y))
    fx0, fy0, fx1, fy1 = max(x, 0), max(y, 0), min(x + sw, w), min(y + sh, h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    s = sprite[fy0 - y:fy1 - y, fx0 - x:fx1 - x]
    a = s[..., 3:4]
    frame[fy0:fy1, fx0:fx1] = frame[fy0:fy1, fx0:fx1] * (1 - a) + s[..., :3] * a


def render(label, rng, bgs, w, h):
    """Renders NUM_FRAMES float32 RGB frames of the event; returns (frames, event_interval)."""
    n = NUM_FRAMES
    bg = load_background(bgs[rng.integers(len(bgs))])
    zoom0 = rng.uniform(0.45, 0.7)  # fraction of the background width the camera sees
    vw = bg.width * zoom0
    vh = vw * h / w
    if vh > bg.height * 0.95:
        vh = bg.height * 0.95
        vw = vh * w / h
    cx = rng.uniform(vw / 2, bg.width - vw / 2)
    cy = rng.uniform(vh / 2, bg.height - vh / 2)
    px = vw / w  # background pixels per output pixel
    interval = (0, n)
    frames = []

    # Per-frame camera geometry.
    cxs = np.full(n, cx)
    cys = np.full(n, cy)
    scale = np.ones(n)
    if label == "pan":
        speed = rng.uniform(1.5, 6.0) * px
        ang = rng.uniform(0, 2 * np.pi)
        t = np.arange(n) - n / 2
        cxs = cx + np.cos(ang) * speed * t
        cys = cy + np.sin(ang) * speed * t * 0.5
    elif label == "zoom":
        z1 = rng.uniform(1.25, 1.7)
        if rng.random() < 0.5:  # zoom out: start from a narrower view so the widest one fits
            z1 = 1.0 / z1
            vw, vh = vw * z1, vh * z1
            cxs = np.full(n, rng.uniform(vw / z1 / 2, bg.width - vw / z1 / 2))
            cys = np.full(n, rng.uniform(vh / z1 / 2, bg.height - vh / z1 / 2))
        scale = np.geomspace(1.0, z1, n)
    elif label == "shake":
        amp = rng.uniform(2.0, 7.0) * px
        cxs = cx + rng.normal(0, amp, n)
        cys = cy + rng.normal(0, amp, n)

    # Scene change: a cut to another view (another background of the split) at one frame.
    cut = None
    if label == "scene_change":
        cut = int(rng.integers(6, n - 6))
        bg2 = load_background(bgs[rng.integers(len(bgs))])
        c2x = rng.uniform(vw / 2, bg2.width - vw / 2)
        c2y = rng.uniform(vh / 2, max(vh / 2 + 1, bg2.height - vh / 2))
        interval = (cut - 1, cut + 1)

    # Objects.
    objects = []
    if label in ("object_left", "object_right", "multi_object"):
        count = 1 if label != "multi_object" else int(rng.integers(3, 6))
        for i in range(count):
            spr, sw, sh = make_sprite(rng, bgs, h)
            speed = w * rng.uniform(0.012, 0.03)
            if label == "object_left":
                direction = -1
            elif label == "object_right":
                direction = 1
            else:
                direction = -1 if i % 2 == 0 else 1
            vx = direction * speed
            vy = rng.uniform(-0.25, 0.25) * speed
            travel = vx * n
            # Start so that the object stays (mostly) in view for the whole clip.
            lo, hi = (-travel, w - sw) if travel < 0 else (0, w - sw - travel)
            if hi < lo:
                lo, hi = hi, lo
            x0 = rng.uniform(lo, hi)
            y0 = rng.uniform(h * 0.2, h - sh)
            objects.append((spr, x0, y0, vx, vy))

    # Idle distractor: a swaying patch (foliage in wind) in any class, always in idle.
    sway = None
    if label == "idle" or rng.random() < 0.3:
        sww, swh = int(w * rng.uniform(0.15, 0.35)), int(h * rng.uniform(0.15, 0.35))
        sway = (int(rng.integers(0, w - sww)), int(rng.integers(0, h - swh)), sww, swh,
                rng.uniform(0.4, 1.2), rng.uniform(0.15, 0.4))

    # Photometric events.
    gains = np.ones(n)
    if label == "illumination":
        g1 = rng.uniform(0.35, 0.65) if rng.random() < 0.5 else rng.uniform(1.5, 2.2)
        if rng.random() < 0.5:  # lights switched: a step
            step = int(rng.integers(6, n - 6))
            gains = np.where(np.arange(n) < step, 1.0, g1)
            interval = (step - 1, step + 1)
        else:  # dimming/brightening ramp
            gains = np.geomspace(1.0, g1, n)
    blur = np.zeros(n)
    if label == "defocus":  # focus hunting: the blur swings in and out every 6-10 frames
        b1 = rng.uniform(2.5, 6.0) * w / 320
        period = rng.uniform(6.0, 10.0)
        phase = rng.uniform(0, period)
        blur = b1 * np.abs(np.sin(np.pi * (np.arange(n) + phase) / period))
    cover = None
    if label == "tamper":
        start = int(rng.integers(0, 8))
        dur = int(rng.integers(8, 16))
        cover = (start, dur, int(rng.integers(4)), rng.uniform(0, 60, size=3))
        interval = (start, min(n, start + dur + 1))

    noise_sigma = rng.uniform(1.0, 4.0)
    noise_bank = rng.normal(0, noise_sigma, size=(4, h, w, 1)).astype(np.float32)
    # Auto-exposure adapting (half the idle clips): a smooth gain drift of at most IDLE_EXPOSURE over
    # the clip (about 3-13 grey levels on a mid-grey scene) is still idle; drawn last so the rest of
    # the clip renders as before.
    if label == "idle" and rng.random() < 0.5:
        drift = rng.uniform(0.02, IDLE_EXPOSURE) * (1 if rng.random() < 0.5 else -1)
        gains = np.geomspace(1.0, 1.0 + drift, n)

    for t in range(n):
        if cut is not None and t >= cut:
            f = view(bg2, c2x, c2y, vw, vh, w, h)
        else:
            f = view(bg, cxs[t], cys[t], vw / scale[t], vh / scale[t], w, h)
        if sway is not None:
            sx, sy, sww, swh, amp, freq = sway
            dx = amp * np.sin(2 * np.pi * freq * t)
            patch = Image.fromarray(np.clip(f[sy:sy + swh, sx:sx + sww], 0, 255).astype(np.uint8))
            patch = patch.transform(patch.size, Image.AFFINE, (1, 0, dx, 0, 1, 0), Image.BILINEAR)
            f[sy + 1:sy + swh - 1, sx + 2:sx + sww - 2] = np.asarray(patch, np.float32)[1:-1, 2:-2]
        for spr, x0, y0, vx, vy in objects:
            paste(f, spr, x0 + vx * t, y0 + vy * t)
        if blur[t] > 0.3:
            img = Image.fromarray(np.clip(f, 0, 255).astype(np.uint8))
            f = np.asarray(img.filter(ImageFilter.GaussianBlur(float(blur[t]))), np.float32)
        if cover is not None:
            start, dur, side, colour = cover
            frac = np.clip((t - start + 1) / dur, 0.0, 1.0)
            if frac > 0:
                if side == 0:
                    f[:, : int(frac * w)] = colour
                elif side == 1:
                    f[:, w - int(frac * w):] = colour
                elif side == 2:
                    f[: int(frac * h)] = colour
                else:  # a hand closing in from the centre
                    r = frac * 0.8 * np.hypot(w, h)
                    yy, xx = np.ogrid[0:h, 0:w]
                    f[((xx - w / 2) ** 2 + (yy - h / 2) ** 2) <= r * r] = colour
        f = f * gains[t] + noise_bank[t % 4]
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames), interval


def rate_args(rate):
    """The x264 rate-control arguments of a grid's ("crf", n) or ("bitrate", kbit/s) entry."""
    mode, value = rate
    if mode == "crf":
        return ["-crf", str(value)]
    return ["-b:v", f"{value}k", "-maxrate", f"{value}k", "-bufsize", f"{2 * value}k"]


def encode(frames, path, fps, enc):
    """Encodes uint8 RGB frames [T,H,W,3] to an H.264 MP4 with the ffmpeg CLI (libx264)."""
    t, h, w, _ = frames.shape
    rate = rate_args(enc["rate"])
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", enc["preset"],
           "-g", str(enc["gop"]), "-bf", str(enc["bframes"]), *rate, "-pix_fmt", "yuv420p",
           "-threads", "1", "-x264-params", "threads=1", "-an", path]
    subprocess.run(cmd, input=frames.tobytes(), check=True)


def make_one(args):
    """Renders and encodes one video; returns its metadata record. When `old` (the record of an earlier
    run with the same file name) has the same seed and settings and the file exists, the video is
    reused as is (rendering is deterministic); otherwise it is rendered again and the extractor's
    cached features of that file are removed."""
    split, index, label, seed, out_dir, old = args
    bgs, grid, _ = SPLITS[split]
    rng = np.random.default_rng(seed)
    w, h = grid["size"][rng.integers(len(grid["size"]))]
    enc = {k: grid[k][rng.integers(len(grid[k]))] for k in ("preset", "gop", "bframes", "rate")}
    fps = grid["fps"][rng.integers(len(grid["fps"]))]
    name = f"{split}_{index:05d}_{label}.mp4"
    record = {
        "file": name, "split": split, "label": label, "label_id": LABELS.index(label), "seed": seed,
        "width": w, "height": h, "fps": fps, "frames": NUM_FRAMES,
        "preset": enc["preset"], "gop": enc["gop"], "bframes": enc["bframes"],
        "rate": f"{enc['rate'][0]}={enc['rate'][1]}",
    }
    path = os.path.join(out_dir, name)
    if old is not None and os.path.exists(path) and all(old.get(k) == v for k, v in record.items()):
        return old
    features = os.path.join(os.path.dirname(out_dir), "features", name[:-4])
    for ext in (".npy", ".json"):
        if os.path.exists(features + ext):
            os.remove(features + ext)
    frames, interval = render(label, rng, bgs, w, h)
    encode(frames, path, fps, enc)
    record["event"] = list(interval)
    return record


def windows_for_video(meta, ranges):
    """Labels feature windows [(start, end_exclusive)] of a video: label_id or -1 (unusable)."""
    a, b = meta["event"]
    out = []
    for s, e in ranges:
        overlap = min(e, b) - max(s, a)
        out.append(meta["label_id"] if overlap >= min(MIN_OVERLAP, b - a) else -1)
    return out


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-class", default="40,12,20,12",
                    help="videos per class for train,val,test,test_iid")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="", help="re-render only this class into an existing dataset")
    args = ap.parse_args(argv)
    counts = dict(zip(["train", "val", "test", "test_iid"], (int(v) for v in args.per_class.split(","))))
    # Transient classes give one or two labelled windows per video instead of three: make more.
    repeat = {"scene_change": 3.0, "illumination": 1.5, "tamper": 1.5}
    video_dir = os.path.join(args.out, "videos")
    os.makedirs(video_dir, exist_ok=True)
    previous = {}
    if os.path.exists(os.path.join(args.out, "videos.json")):
        with open(os.path.join(args.out, "videos.json")) as f:
            previous = {r["file"]: r for r in json.load(f)["videos"]}
    jobs = []
    for split, count in counts.items():
        offset = SPLITS[split][2]
        index = 0
        for li, label in enumerate(LABELS):
            for k in range(int(round(count * repeat.get(label, 1.0)))):
                seed = args.seed * 10_000_000 + offset + li * 10_000 + k
                name = f"{split}_{index:05d}_{label}.mp4"
                jobs.append((split, index, label, seed, video_dir, previous.get(name)))
                index += 1
    if args.only:  # re-render one class, keep the other records (their files are unchanged)
        with open(os.path.join(args.out, "videos.json")) as f:
            records = json.load(f)["videos"]
        redo = [j[:5] + (None,) for j in jobs if j[2] == args.only]  # None: render again
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            fresh = {r["file"]: r for r in pool.map(make_one, redo, chunksize=4)}
        records = [fresh.get(r["file"], r) for r in records]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            records = list(pool.map(make_one, jobs, chunksize=4))
    with open(os.path.join(args.out, "videos.json"), "w") as f:
        json.dump({"version": DATASET_VERSION, "seed": args.seed, "labels": LABELS,
                   "num_frames": NUM_FRAMES, "min_overlap": MIN_OVERLAP,
                   "backgrounds": {s: SPLITS[s][0] for s in SPLITS},
                   "videos": records}, f, indent=1)
    print(f"wrote {len(records)} videos to {video_dir}", file=sys.stderr)

