"""mvwatch's own thumbnail generator: a small text-to-image diffusion model for camera-event illustrations.

Run from the repository root (the shipped model's exact command is in models/thumbnail/README.md and
`make train-thumbnail`):
  training/.venv/bin/python -m training.thumbnail train --out models/thumbnail --grammar events \
      --size 32 --precond --prior --latent-channels 24 ... --device cpu
  training/.venv/bin/python -m training.thumbnail samples --out /tmp/samples --size 32 --grammar events
Sub-commands: train, samples (training images), check (the tokenizer against transformers' CLIPTokenizer),
prompts (the step predictor's prompt sets). The Go test references (diffusion/testdata/thumbnail_refs) are
a fixture: `python -m training.fixtures thumbnail-refs`.

Data: procedural illustrations drawn on a 64x64 canvas and area-downscaled to --size (no downloads).
--grammar events (shipped): street/driveway/park at day/night, empty or 1/2/many people or cars moving
left/right or standing, optionally rain or snow, or a camera problem (lens covered, spray-painted, out of
focus). --grammar simple: the first CPU model's 90 captions. --grammar full: more scenes, objects and
weather, sized for a GPU. The caption is generated from the same attributes.

Model, in the Hugging Face Optimum Stable Diffusion layout so diffusion.OpenPipeline loads it unchanged:
  tokenizer/     CLIP-format byte-level BPE learned from the caption grammar
  text_encoder/  a small transformer (--text-dim, --text-layers), trained from scratch jointly with the UNet
  unet/          a small UNet with cross-attention, v-prediction, optional EDM preconditioning (--precond)
                 optionally centred on a learnt per-caption mean and spread (--prior)
  vae_decoder/   fixed, nothing trained: depth-to-space (PixelShuffle 4) of 4x4x3 pixel patches, after a
                 fixed 1x1 projection from a patch-PCA basis when --latent-channels < 48
  scheduler/     DDIM config with the linear beta schedule the UNet was trained on
Classifier-free guidance is trained by dropping 10% of captions to "".

Plain PyTorch and numpy only (no diffusers/transformers), so it also runs on a bare GPU machine; the
tokenizer is encoded here with CLIP's rules and checked against transformers' CLIPTokenizer by `check`.
"""
import argparse
import json
import math
import os
import shutil
import re
import sys
import time
import unicodedata

import numpy as np
import torch

from training.common.bpe import bytes_to_unicode, learn_bpe
from training.common.cli import command_line




SIZE = 64  # the drawing canvas; images are area-downscaled to OUT (--size) for training
OUT = 64  # image side the model works at (set by --size; 32 for the CPU-sized model)
R = 4  # space-to-depth factor: image 3xOUTxOUT <-> latent 48x(OUT/4)x(OUT/4)

SCENES = ["street", "parking lot", "driveway", "gate", "porch", "park"]
TIMES = ["day", "dusk", "night"]
WEATHER = ["", "rain", "fog", "snow"]
OBJECTS = ["person", "car", "truck", "bicycle", "dog"]
PLURAL = {"person": "people", "car": "cars", "truck": "trucks", "bicycle": "bicycles", "dog": "dogs"}
MOTION = ["left", "right", "still"]
TAMPER = ["lens covered", "defocused", "spray-painted"]
COLORS = {"red": (200, 40, 40), "blue": (40, 70, 200), "white": (230, 230, 230), "black": (25, 25, 25),
          "yellow": (230, 200, 40), "green": (40, 160, 60)}


def sky_ground(t, scene):
    sky = {"day": (120, 180, 235), "dusk": (230, 130, 80), "night": (10, 15, 40)}[t]
    ground = {"street": (90, 90, 95), "parking lot": (110, 110, 110), "driveway": (150, 140, 130),
              "gate": (100, 120, 80), "porch": (140, 110, 80), "park": (60, 140, 60)}[scene]
    if t == "night":
        ground = tuple(int(c * 0.35) for c in ground)
    elif t == "dusk":
        ground = tuple(int(c * 0.7) for c in ground)
    return sky, ground


def rect(img, x0, y0, x1, y1, color):
    x0, x1 = max(0, int(x0)), min(SIZE, int(x1))
    y0, y1 = max(0, int(y0)), min(SIZE, int(y1))
    if x1 > x0 and y1 > y0:
        img[y0:y1, x0:x1] = color


def disc(img, cx, cy, r, color):
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = color


def draw_scene(img, scene, t, rng):
    sky, ground = sky_ground(t, scene)
    horizon = 26
    img[:horizon] = sky
    img[horizon:] = ground
    dim = 0.35 if t == "night" else 1.0
    c = lambda col: tuple(int(v * dim) for v in col)
    if scene == "street":
        rect(img, 0, 40, SIZE, 54, c((60, 60, 65)))
        for x in range(2, SIZE, 12):
            rect(img, x, 46, x + 6, 48, c((230, 230, 230)))
    elif scene == "parking lot":
        for x in range(4, SIZE, 14):
            rect(img, x, 34, x + 1, 60, c((235, 235, 235)))
    elif scene == "driveway":
        rect(img, 36, 10, 62, 30, c((170, 90, 70)))  # house
        rect(img, 44, 18, 52, 30, c((80, 50, 30)))  # garage door
        for y in range(30, SIZE):
            w = 6 + (y - 30) // 2
            rect(img, 48 - w, y, 48 + w, y + 1, c((120, 120, 120)))
    elif scene == "gate":
        for x in range(0, SIZE, 5):
            rect(img, x, 16, x + 2, 40, c((70, 70, 70)))
        rect(img, 0, 18, SIZE, 20, c((70, 70, 70)))
    elif scene == "porch":
        rect(img, 0, 4, SIZE, 38, c((190, 170, 140)))  # wall
        rect(img, 26, 12, 38, 38, c((100, 60, 30)))  # door
        rect(img, 0, 38, SIZE, 42, c((120, 100, 80)))
    elif scene == "park":
        for x in (10, 52):
            rect(img, x - 1, 18, x + 2, 30, c((90, 60, 30)))
            disc(img, x, 16, 7, c((30, 110, 40)))
    if t == "night":
        for x, y in ((8, 6), (30, 10), (50, 4)):
            img[y, x] = (220, 220, 180)
        disc(img, 56, 8, 3, (230, 230, 200))  # moon
    elif t == "day":
        disc(img, 8, 7, 4, (250, 230, 120))  # sun


def draw_object(img, kind, x, y, color, motion, t):
    """x, y: bottom centre. Motion adds a fading trail behind the object."""
    shapes = {
        "person": [("rect", -2, -12, 2, 0, color), ("disc", 0, -14, 2.5, (230, 190, 160))],
        "car": [("rect", -8, -7, 8, -2, color), ("rect", -5, -10, 5, -7, color),
                ("disc", -5, -1.5, 1.8, (20, 20, 20)), ("disc", 5, -1.5, 1.8, (20, 20, 20))],
        "truck": [("rect", -11, -13, 4, -3, color), ("rect", 4, -9, 11, -3, (70, 70, 80)),
                  ("disc", -7, -1.5, 2, (20, 20, 20)), ("disc", 7, -1.5, 2, (20, 20, 20))],
        "bicycle": [("disc", -4, -3, 3, (30, 30, 30)), ("disc", 4, -3, 3, (30, 30, 30)),
                    ("rect", -4, -6, 4, -5, color), ("rect", -1, -13, 1, -6, (230, 190, 160))],
        "dog": [("rect", -5, -5, 4, -2, (140, 90, 50)), ("disc", 5, -5, 2, (140, 90, 50)),
                ("rect", -4, -2, -3, 0, (140, 90, 50)), ("rect", 2, -2, 3, 0, (140, 90, 50))],
    }[kind]
    if kind in ("car", "truck", "dog", "bicycle") and motion == "left":  # face left: mirror the shapes
        shapes = [("rect", -s[3], s[2], -s[1], s[4], s[5]) if s[0] == "rect" else ("disc", -s[1], s[2], s[3], s[4])
                  for s in shapes]
    if motion in ("left", "right"):
        d = 1 if motion == "left" else -1  # trail is behind: to the right when moving left
        for k, alpha in ((3, 0.25), (2, 0.45), (1, 0.65)):
            ghost = img.copy()
            for s in shapes:
                paint(ghost, s, x + d * k * 5, y)
            img[:] = (img * (1 - alpha) + ghost * alpha).astype(np.uint8)
    for s in shapes:
        paint(img, s, x, y)
    if t == "night" and kind in ("car", "truck"):
        hx = x - 9 if motion == "left" else x + 9
        disc(img, hx, y - 5, 1.5, (255, 250, 200))


def paint(img, s, x, y):
    if s[0] == "rect":
        rect(img, x + s[1], y + s[2], x + s[3], y + s[4], s[5])
    else:
        disc(img, x + s[1], y + s[2], s[3], s[4])


def weather(img, w, rng):
    if w == "rain":
        for _ in range(40):
            x, y = rng.integers(0, SIZE), rng.integers(0, SIZE - 4)
            img[y:y + 4, x] = (170, 180, 200)
    elif w == "snow":
        for _ in range(60):
            img[rng.integers(0, SIZE), rng.integers(0, SIZE)] = (250, 250, 250)
    elif w == "fog":
        img[:] = (img * 0.45 + np.array([200, 200, 205]) * 0.55).astype(np.uint8)


def tamper(img, kind, rng):
    if kind == "lens covered":
        img[:] = (img * 0.08).astype(np.uint8)
        img[:] = np.clip(img + rng.integers(0, 12, img.shape), 0, 255).astype(np.uint8)
    elif kind == "defocused":
        f = img.astype(np.float64)
        for _ in range(3):
            f = (np.roll(f, 1, 0) + np.roll(f, -1, 0) + np.roll(f, 1, 1) + np.roll(f, -1, 1) + f * 2) / 6
        img[:] = f.astype(np.uint8)
    elif kind == "spray-painted":
        for _ in range(4):
            disc(img, rng.integers(8, 56), rng.integers(8, 56), rng.integers(6, 14), (200, 30, 160))


def number(n):
    return ["no", "a", "two", "three"][n]


def render(rng):
    """One (image uint8 HxWx3, caption) pair."""
    scene, t = SCENES[rng.integers(len(SCENES))], TIMES[rng.integers(len(TIMES))]
    w = WEATHER[rng.integers(len(WEATHER))] if rng.random() < 0.4 else ""
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    draw_scene(img, scene, t, rng)
    if rng.random() < 0.12:  # tampered camera
        kind = TAMPER[rng.integers(len(TAMPER))]
        tamper(img, kind, rng)
        return img, f"camera tampered, {kind}, {scene} at {t}"
    n = int(rng.choice([0, 1, 1, 1, 2, 2, 3]))
    kind = OBJECTS[rng.integers(len(OBJECTS))]
    motion = MOTION[rng.integers(len(MOTION))]
    cname = list(COLORS)[rng.integers(len(COLORS))]
    xs = sorted(rng.choice(np.arange(12, 54, 4), size=max(n, 1), replace=False))
    for i in range(n):
        draw_object(img, kind, int(xs[i]), int(rng.integers(44, 60)), COLORS[cname], motion, t)
    if w:
        weather(img, w, rng)
    place = {"street": "on the street", "parking lot": "in the parking lot", "driveway": "in the driveway",
             "gate": "at the gate", "porch": "on the porch", "park": "in the park"}[scene]
    if n == 0:
        cap = f"empty {scene} at {t}"
    else:
        noun = kind if n == 1 else PLURAL[kind]
        col = f"{cname} " if kind in ("car", "truck", "bicycle", "person") and n == 1 else ""
        mv = {"left": "moving left", "right": "moving right", "still": "standing still"}[motion]
        cap = f"{number(n)} {col}{noun} {mv} {place} at {t}"
    if w:
        cap += f", {w}"
    return img, cap


SIMPLE_SCENES = ["street", "driveway", "park"]
SIMPLE_OBJECTS = ["person", "car"]
SIMPLE_TAMPER = ["lens covered", "spray-painted"]


def render_simple(rng):
    """The CPU-sized vocabulary: scene x day/night, 0-2 people or cars moving left/right or standing, or a
    tampered camera. Fixed object colours (person blue, car red) keep it learnable in minutes on a CPU."""
    scene, t = SIMPLE_SCENES[rng.integers(3)], TIMES[[0, 2][rng.integers(2)]]
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    draw_scene(img, scene, t, rng)
    if rng.random() < 0.15:
        kind = SIMPLE_TAMPER[rng.integers(2)]
        tamper(img, kind, rng)
        return img, f"camera tampered, {kind}, {scene} at {t}"
    n = int(rng.choice([0, 1, 1, 2]))
    kind = SIMPLE_OBJECTS[rng.integers(2)]
    motion = MOTION[rng.integers(3)]
    color = {"person": COLORS["blue"], "car": COLORS["red"]}[kind]
    xs = sorted(rng.choice(np.arange(14, 52, 6), size=max(n, 1), replace=False))
    for i in range(n):
        draw_object(img, kind, int(xs[i]), int(rng.integers(50, 60)), color, motion, t)
    place = {"street": "on the street", "driveway": "in the driveway", "park": "in the park"}[scene]
    if n == 0:
        return img, f"empty {scene} at {t}"
    noun = kind if n == 1 else PLURAL[kind]
    mv = {"left": "moving left", "right": "moving right", "still": "standing still"}[motion]
    return img, f"{number(n)} {noun} {mv} {place} at {t}"


EVENT_KINDS = ["lens covered", "spray-painted", "out of focus"]
EVENT_COUNTS = ["0", "1", "2", "many"]
EVENT_WEATHER = ["", "rain", "snow"]


def rain_or_snow(img, w, rng):
    """Weather drawn on even 2x2 cells of the canvas so each streak or flake stays a sharp full pixel at
    32x32: random fine detail that a caption cannot pin down (what makes these prompts need more steps)."""
    if w == "rain":
        img[:] = (img * 0.8).astype(np.uint8)  # overcast
        for _ in range(45):
            x, y = 2 * rng.integers(0, SIZE // 2), 2 * rng.integers(0, SIZE // 2 - 4)
            img[y:y + 8, x:x + 2] = (200, 210, 235)
    elif w == "snow":
        img[SIZE // 2:] = (img[SIZE // 2:] * 0.5 + 120).astype(np.uint8)  # snow on the ground
        for _ in range(70):
            x, y = 2 * rng.integers(0, SIZE // 2), 2 * rng.integers(0, SIZE // 2)
            img[y:y + 2, x:x + 2] = (250, 250, 250)


def events_caption(scene, t, kind="", n="0", obj="car", motion="still", w=""):
    """The canonical caption of the events grammar (events_captions lists every one)."""
    if kind == "out of focus":
        return f"camera out of focus, {scene} at {t}"
    if kind:
        return f"camera tampered, {kind}, {scene} at {t}"
    place = {"street": "on the street", "driveway": "in the driveway", "park": "in the park"}[scene]
    if n == "0":
        cap = f"empty {scene} at {t}"
    else:
        noun = obj if n == "1" else PLURAL[obj]
        num = {"1": "a", "2": "two", "many": "many"}[n]
        mv = {"left": "moving left", "right": "moving right", "still": "standing still"}[motion]
        cap = f"{num} {noun} {mv} {place} at {t}"
    return cap + (f" in the {w}" if w else "")


def sample_event(rng):
    """The attributes of one events-grammar picture, with the grammar's frequencies: 20% camera problems,
    otherwise 0/1/2/many objects at 25/30/25/20%, and rain or snow on 40% of those."""
    scene, t = SIMPLE_SCENES[rng.integers(3)], TIMES[[0, 2][rng.integers(2)]]
    if rng.random() < 0.2:
        return dict(scene=scene, t=t, kind=EVENT_KINDS[rng.integers(3)])
    n = EVENT_COUNTS[rng.choice(4, p=[0.25, 0.3, 0.25, 0.2])]
    obj, motion = SIMPLE_OBJECTS[rng.integers(2)], MOTION[rng.integers(3)]
    w = EVENT_WEATHER[rng.choice(3, p=[0.6, 0.2, 0.2])]
    if n == "0":  # an empty scene has no object or motion: one caption, not six
        obj, motion = "car", "still"
    return dict(scene=scene, t=t, n=n, obj=obj, motion=motion, w=w)


def render_events(rng, reword=0.3):
    """The events grammar (the shipped CPU-sized model): the simple grammar plus crowds ("many people",
    4-6 of them), rain and snow, and three camera problems (lens covered, spray-painted, out of focus).
    Captions differ in how much of the image they leave to chance: an empty scene, a covered lens or a
    defocused view is fixed by its caption; crowds, spray paint and weather are random detail. Each
    caption is reworded (PARAPHRASES) with probability reword per phrase, so the model knows the synonyms
    the step predictor's prompts use."""
    e = sample_event(rng)
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    draw_scene(img, e["scene"], e["t"], rng)
    kind = e.get("kind")
    if kind == "lens covered":
        img[:] = (img * 0.08).astype(np.uint8)
    elif kind:
        tamper(img, "defocused" if kind == "out of focus" else kind, rng)
    else:
        color = {"person": COLORS["blue"], "car": COLORS["red"]}[e["obj"]]
        k = {"0": 0, "1": 1, "2": 2, "many": int(rng.integers(4, 7))}[e["n"]]
        xs = sorted(rng.choice(np.arange(8, 58, 7 if e["obj"] == "person" else 9), size=max(k, 1), replace=False))
        for i in range(k):
            draw_object(img, e["obj"], int(xs[i]), int(rng.integers(46, 62)), color, e["motion"], e["t"])
        rain_or_snow(img, e["w"], rng)
    return img, paraphrase(events_caption(**e), rng, reword)


def downscale(img):
    """Area-average the SIZE canvas to OUT pixels."""
    f = SIZE // OUT
    if f == 1:
        return img
    return img.reshape(OUT, f, OUT, f, 3).astype(np.float32).mean((1, 3)).round().astype(np.uint8)


# ---------------------------------------------------------------- tokenizer


def learn_captions_bpe(captions):
    """The caption grammar's BPE: commas are words of their own."""
    return learn_bpe(captions, 400, words_of=lambda line: line.lower().replace(",", " ,").split())


class BPETokenizer:
    """CLIP's tokenizer rules for the lowercase ASCII caption grammar: split, byte map, "</w>" BPE, framing."""

    SPLIT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+")

    def __init__(self, vocab, merges):
        self.vocab, self.ranks = vocab, {m: i for i, m in enumerate(merges)}
        self.bos, self.eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
        self.byte_enc = bytes_to_unicode()

    def bpe(self, piece):
        syms = [self.byte_enc[b] for b in piece.encode("utf-8")]
        syms[-1] += "</w>"
        while len(syms) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            a, b = next((syms[i], syms[i + 1]) for r, i in pairs if r == rank)
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            syms = out
        return [self.vocab[t] for t in syms]

    def __call__(self, text, length=77):
        text = " ".join(unicodedata.normalize("NFC", text).split()).lower()
        ids = [t for p in self.SPLIT.findall(text) for t in self.bpe(p)][:length - 2]
        ids = [self.bos] + ids + [self.eos]
        return ids + [self.eos] * (length - len(ids))


def write_tokenizer(path, captions):
    os.makedirs(path, exist_ok=True)
    vocab, merges = learn_captions_bpe(captions)
    json.dump(vocab, open(os.path.join(path, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
    open(os.path.join(path, "merges.txt"), "w", encoding="utf-8").write(
        "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    json.dump(special, open(os.path.join(path, "special_tokens_map.json"), "w"), indent=1)
    json.dump(dict(special, model_max_length=77, tokenizer_class="CLIPTokenizer"),
              open(os.path.join(path, "tokenizer_config.json"), "w"), indent=1)
    return BPETokenizer(vocab, merges)


# ---------------------------------------------------------------- model

# clip_sample: the latent is the image itself ([-1,1]); clamping DDIM's predicted x0 keeps early steps, where
# x0 = (x_t - sqrt(1-a) eps) / sqrt(a) magnifies the noise error ~150x, from blowing up.
SCHED_CFG = {"_class_name": "DDIMScheduler", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02,
             "num_train_timesteps": 1000, "clip_sample": True, "set_alpha_to_one": False, "steps_offset": 1,
             "timestep_spacing": "leading", "prediction_type": "epsilon"}


class Attention(torch.nn.Module):
    """Multi-head attention from x (queries) to ctx (keys/values), written out for a plain ONNX export."""

    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.heads = heads
        self.q = torch.nn.Linear(dim, dim, bias=False)
        self.kv = torch.nn.Linear(ctx_dim, 2 * dim, bias=False)
        self.out = torch.nn.Linear(dim, dim)

    def forward(self, x, ctx):
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(ctx).view(b, ctx.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        return self.out((w @ v).transpose(1, 2).reshape(b, n, d))


class TextEncoder(torch.nn.Module):
    """Token + position embeddings, pre-norm transformer layers, final LayerNorm (CLIP-text shaped)."""

    def __init__(self, vocab_size, dim=64, layers=2, heads=4, length=77):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab_size, dim)
        self.pos = torch.nn.Parameter(torch.randn(1, length, dim) * 0.02)
        self.blocks = torch.nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(torch.nn.ModuleDict({
                "n1": torch.nn.LayerNorm(dim), "att": Attention(dim, dim, heads), "n2": torch.nn.LayerNorm(dim),
                "ff": torch.nn.Sequential(torch.nn.Linear(dim, 2 * dim), torch.nn.GELU(), torch.nn.Linear(2 * dim, dim))}))
        self.norm = torch.nn.LayerNorm(dim)

    def forward(self, ids):
        x = self.tok(ids.long()) + self.pos[:, :ids.shape[1]]
        for b in self.blocks:
            y = b["n1"](x)
            x = x + b["att"](y, y)
            x = x + b["ff"](b["n2"](x))
        return self.norm(x)


class ResBlock(torch.nn.Module):
    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.n1, self.c1 = torch.nn.GroupNorm(8, cin), torch.nn.Conv2d(cin, cout, 3, padding=1)
        self.t = torch.nn.Linear(tdim, cout)
        self.n2, self.c2 = torch.nn.GroupNorm(8, cout), torch.nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = torch.nn.Conv2d(cin, cout, 1) if cin != cout else torch.nn.Identity()

    def forward(self, x, temb):
        h = self.c1(torch.nn.functional.silu(self.n1(x)))
        h = h + self.t(temb)[:, :, None, None]
        h = self.c2(torch.nn.functional.silu(self.n2(h)))
        return self.skip(x) + h


class CrossAttnBlock(torch.nn.Module):
    def __init__(self, ch, ctx_dim, heads=4):
        super().__init__()
        self.norm = torch.nn.GroupNorm(8, ch)
        self.att = Attention(ch, ctx_dim, heads)
        self.n2 = torch.nn.LayerNorm(ch)
        self.ff = torch.nn.Sequential(torch.nn.Linear(ch, 2 * ch), torch.nn.GELU(), torch.nn.Linear(2 * ch, ch))

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        t = self.norm(x).flatten(2).transpose(1, 2)
        t = t + self.att(t, ctx)
        t = t + self.ff(self.n2(t))
        return x + t.transpose(1, 2).reshape(b, c, hh, ww)


SIGMA_DATA = 0.5  # standard deviation of the training images in [-1, 1], for the preconditioning


def alphas_cumprod():
    """The cumulative alpha products of SCHED_CFG's linear beta schedule (1000 training timesteps)."""
    betas = torch.linspace(SCHED_CFG["beta_start"], SCHED_CFG["beta_end"], 1000, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0).float()


class UNet(torch.nn.Module):
    """Two resolutions (the latent side and half of it) with cross-attention to the text at both; predicts
    v (or epsilon with --prediction epsilon)."""

    def __init__(self, cin=3 * R * R, ch=(48, 96), ctx_dim=64, skip=False, precond=False, prior_side=0):
        # ch: channels at the latent resolution and at half of it
        super().__init__()
        # precond: EDM-style preconditioning (Karras et al. 2022) built into the graph. The network F sees the
        # input scaled to unit variance and predicts a correction to the t-dependent linear estimate of x0,
        # x0 = c_skip(t) y + c_out(t) F; the output is converted to v, so the exported UNet stays a plain
        # v-prediction model for diffusers and diffusion.Pipeline. Without it the per-pixel noise must be
        # cancelled by the network itself, which this small one does poorly (visible noise in every image).
        self.precond = precond
        # prior_side > 0 (with precond): a caption prior. An MLP maps the mean text embedding to the caption's
        # expected latent image m and a per-element spread s (how much the caption leaves to chance there), and
        # the preconditioning treats x0 ~ m + s * (something of unit scale): x0 = m + c_skip (y - m) + c_out F
        # with c_skip = s^2 / (sigma^2 + s^2), c_out = sigma s / sqrt(sigma^2 + s^2) (EDM's, per element, with
        # s for sigma_data), F seeing (y - m) / sqrt(sigma^2 + s^2) and m. Where a caption fixes the picture
        # (s -> 0) x0 = m at every noise level and the sampling trajectory is straight; where it leaves
        # detail to chance F still adds it late. Without it every caption's layout is rendered late from
        # the noisy input and all captions converge alike (the step predictor then has nothing to predict).
        self.prior = None
        if prior_side:
            self.prior_shape = (cin, prior_side, prior_side)
            self.prior = torch.nn.Sequential(torch.nn.Linear(ctx_dim, 256), torch.nn.SiLU(),
                                             torch.nn.Linear(256, 2 * cin * prior_side * prior_side))
            with torch.no_grad():  # start near plain preconditioning: m ~ 0, s = SIGMA_DATA
                self.prior[2].weight.mul_(0.1)
                self.prior[2].bias.zero_()
                self.prior[2].bias[cin * prior_side * prior_side:] = math.log(SIGMA_DATA)
        if precond:
            self.register_buffer("acp", alphas_cumprod())
        c0, c1 = ch
        self.tdim = c0 * 4
        self.temb = torch.nn.Sequential(torch.nn.Linear(c0, self.tdim), torch.nn.SiLU(),
                                        torch.nn.Linear(self.tdim, self.tdim))
        self.inp = torch.nn.Conv2d(cin * (2 if prior_side else 1), c0, 3, padding=1)
        self.d0, self.a0 = ResBlock(c0, c0, self.tdim), CrossAttnBlock(c0, ctx_dim)
        self.down = torch.nn.Conv2d(c0, c1, 3, stride=2, padding=1)
        self.d1, self.a1 = ResBlock(c1, c1, self.tdim), CrossAttnBlock(c1, ctx_dim)
        self.m0, self.am, self.m1 = ResBlock(c1, c1, self.tdim), CrossAttnBlock(c1, ctx_dim), ResBlock(c1, c1, self.tdim)
        self.u1, self.ua1 = ResBlock(2 * c1, c1, self.tdim), CrossAttnBlock(c1, ctx_dim)
        self.up = torch.nn.Conv2d(c1, c0, 3, padding=1)
        self.u0, self.ua0 = ResBlock(2 * c0, c0, self.tdim), CrossAttnBlock(c0, ctx_dim)
        self.out = torch.nn.Sequential(torch.nn.GroupNorm(8, c0), torch.nn.SiLU(), torch.nn.Conv2d(c0, cin, 3, padding=1))
        self.c0 = c0
        # A 1x1 path from input to output: near t=0 the target (v ~ noise) is close to the input itself, which
        # a first layer narrower than the 48 latent channels cannot pass through (it left per-pixel noise).
        self.skip = torch.nn.Conv2d(cin, cin, 1) if skip else None
        if skip:
            torch.nn.init.zeros_(self.skip.weight)
            torch.nn.init.zeros_(self.skip.bias)

    def forward(self, x, t, ctx):
        if not self.precond:
            return self.net(x, t, ctx)
        ab = self.acp[t.long().clamp(0, 999)].reshape(-1, 1, 1, 1)
        a, s = ab.sqrt(), (1 - ab).sqrt()
        sd, sigma = SIGMA_DATA, s / a
        y = x / a  # x_t = a (x0 + sigma n)
        m, spread = 0.0, sd  # plain EDM: the data's mean 0 and spread sigma_data
        if self.prior is not None:  # the caption's mean image and per-element spread (see __init__)
            m, log_s = self.prior(ctx.mean(1)).view(-1, 2, *self.prior_shape).unbind(1)
            m, spread = m.expand(x.shape[0], -1, -1, -1), log_s.clamp(-5, 1).exp().expand(x.shape[0], -1, -1, -1)
        norm = (sigma * sigma + spread * spread).sqrt()
        inp = (y - m) / norm if self.prior is None else torch.cat([(y - m) / norm, m], 1)
        x0 = m + (spread * spread / (norm * norm)) * (y - m) + (sigma * spread / norm) * self.net(inp, t, ctx)
        return (a * x - x0) / s  # v = a n - s x0 = (a x_t - x0) / s

    def net(self, x, t, ctx):
        half = self.c0 // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
        ang = t.float().reshape(-1, 1) * freqs[None]
        temb = self.temb(torch.cat([torch.cos(ang), torch.sin(ang)], dim=1)).expand(x.shape[0], -1)
        h0 = self.a0(self.d0(self.inp(x), temb), ctx)
        h1 = self.a1(self.d1(self.down(h0), temb), ctx)
        m = self.m1(self.am(self.m0(h1, temb), ctx), temb)
        u = self.ua1(self.u1(torch.cat([m, h1], 1), temb), ctx)
        u = self.up(torch.nn.functional.interpolate(u, scale_factor=2.0, mode="nearest"))
        u = self.ua0(self.u0(torch.cat([u, h0], 1), temb), ctx)
        return self.out(u) + (self.skip(x[:, :self.skip.in_channels]) if self.skip is not None else 0)


# --latent-channels K < 48: the latent keeps the K leading components of an (uncentred) PCA of the 4x4x3
# pixel patches, scaled to standard deviation SIGMA_DATA; the decoder is the fixed inverse (a 1x1
# convolution back to the patch, then PixelShuffle). Set by fit_patch_basis; None: the plain space-to-depth.
BASIS, SCALE = None, 1.0


def fit_patch_basis(imgs, k):
    """The K-component patch basis of the training images (48 x K, orthonormal) and the latent scale."""
    global BASIS, SCALE
    t = torch.as_tensor(imgs[:4000]).permute(0, 3, 1, 2).float() / 127.5 - 1
    p = torch.nn.functional.pixel_unshuffle(t, R).permute(0, 2, 3, 1).reshape(-1, 3 * R * R).double()
    _, sv, vt = torch.linalg.svd(p, full_matrices=False)
    BASIS = vt[:k].T.float().contiguous()  # 48 x K
    kept = float((sv[:k] ** 2).sum() / (sv ** 2).sum())
    SCALE = float(SIGMA_DATA / (p.float() @ BASIS).std())
    return kept


def to_latent(x):
    """uint8 NHWC -> the latent: [-1,1] space-to-depth N x 48 x H/4 x W/4 (inverse of the PixelShuffle
    decoder), projected on BASIS and scaled when a patch basis is set."""
    t = torch.as_tensor(x).permute(0, 3, 1, 2).float() / 127.5 - 1
    z = torch.nn.functional.pixel_unshuffle(t, R)
    if BASIS is None:
        return z
    return torch.einsum("nchw,ck->nkhw", z, BASIS) * SCALE


def latent_channels():
    return 3 * R * R if BASIS is None else BASIS.shape[1]


GRAMMAR = "full"  # set by --grammar


def make_dataset(n, seed):
    rng = np.random.default_rng(seed)
    imgs, caps = np.zeros((n, OUT, OUT, 3), np.uint8), []
    draw = {"simple": render_simple, "events": render_events}.get(GRAMMAR, render)
    for i in range(n):
        img, c = draw(rng)
        imgs[i] = downscale(img)
        caps.append(c)
    return imgs, caps


def cmd_samples(a):
    configure(a)
    from PIL import Image
    os.makedirs(a.out, exist_ok=True)
    imgs, caps = make_dataset(32, 1)
    grid = np.concatenate([np.concatenate(list(imgs[r * 8:(r + 1) * 8]), axis=1) for r in range(4)], axis=0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(
        os.path.join(a.out, "grid.png"))
    open(os.path.join(a.out, "captions.txt"), "w").write("\n".join(caps) + "\n")
    print(os.path.join(a.out, "grid.png"))


class TextExport(torch.nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        h = self.te(input_ids)
        return h, h[:, 0]


class DepthToSpace(torch.nn.Module):
    """The fixed decoder: the patch basis back to 4x4x3 patches (when set), then depth-to-space."""

    def __init__(self):
        super().__init__()
        self.proj = None
        if BASIS is not None:
            self.proj = torch.nn.Conv2d(BASIS.shape[1], 3 * R * R, 1, bias=False)
            self.proj.weight.data = BASIS[:, :, None, None].clone()

    def forward(self, latent_sample):
        z = self.proj(latent_sample) if self.proj is not None else latent_sample
        return torch.nn.functional.pixel_shuffle(z, R)


def export_all(out, te, unet, tok_dir):
    te, unet = te.float().cpu().eval(), unet.float().cpu().eval()
    ex = lambda m, args, p, i, o, d: torch.onnx.export(m, args, os.path.join(out, p), input_names=i,
                                                       output_names=o, dynamic_axes=d, opset_version=17,
                                                       dynamo=False)
    for d in ("text_encoder", "unet", "vae_decoder", "scheduler"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    ex(TextExport(te), (torch.zeros((1, 77), dtype=torch.int32),), "text_encoder/model.onnx", ["input_ids"],
       ["last_hidden_state", "pooler_output"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"},
                                                "pooler_output": {0: "batch"}})
    lat = OUT // R
    ex(unet, (torch.randn(2, latent_channels(), lat, lat), torch.tensor([10, 10]), torch.randn(2, 77, te.tok.embedding_dim)),
       "unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
       {"sample": {0: "batch"}, "timestep": {0: "steps"}, "encoder_hidden_states": {0: "batch"},
        "out_sample": {0: "batch"}})
    ex(DepthToSpace(), (torch.randn(1, latent_channels(), lat, lat),), "vae_decoder/model.onnx", ["latent_sample"],
       ["sample"], {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "h", 3: "w"}})
    json.dump({"_class_name": "PixelShuffleDecoder", "block_out_channels": [1] * (int(math.log2(R)) + 1),
               "latent_channels": latent_channels(), "scaling_factor": SCALE, "sample_size": OUT},
              open(os.path.join(out, "vae_decoder/config.json"), "w"), indent=1)
    json.dump({"_class_name": "mvwatch.UNet", "sample_size": lat, "in_channels": latent_channels(),
               "cross_attention_dim": te.tok.embedding_dim}, open(os.path.join(out, "unet/config.json"), "w"), indent=1)
    json.dump(SCHED_CFG, open(os.path.join(out, "scheduler/scheduler_config.json"), "w"), indent=1)
    if os.path.abspath(tok_dir) != os.path.abspath(os.path.join(out, "tokenizer")):
        shutil.copytree(tok_dir, os.path.join(out, "tokenizer"), dirs_exist_ok=True)
    json.dump({"_class_name": "OnnxStableDiffusionPipeline", "text_encoder": ["diffusers", "OnnxRuntimeModel"],
               "unet": ["diffusers", "OnnxRuntimeModel"], "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
               "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "DDIMScheduler"]},
              open(os.path.join(out, "model_index.json"), "w"), indent=1)


def configure(a):
    global OUT, GRAMMAR
    if SIZE % a.size or (a.size // R) % 2:
        sys.exit(f"--size {a.size}: must divide {SIZE} and give an even latent side")
    OUT, GRAMMAR = a.size, a.grammar


def cmd_train(a):
    configure(a)
    torch.set_num_threads(a.threads) if a.threads else None
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    t0 = time.time()
    imgs, caps = make_dataset(a.images, a.seed)
    print(f"rendered {len(caps)} images in {time.time() - t0:.0f}s", flush=True)
    kept = 1.0
    if a.latent_channels < 3 * R * R:
        kept = fit_patch_basis(imgs, a.latent_channels)
        SCHED_CFG["clip_sample"] = False  # latents are PCA coefficients, not pixels in [-1, 1]
        print(f"patch basis: {a.latent_channels} components keep {kept:.4f} of the energy, scale {SCALE:.4f}",
              flush=True)
    os.makedirs(a.out, exist_ok=True)
    tok = write_tokenizer(os.path.join(a.out, "tokenizer"), caps)
    cache = {}
    ids = torch.tensor([cache.setdefault(c, tok(c)) for c in caps])
    empty = torch.tensor(tok(""))
    te = TextEncoder(len(tok.vocab), dim=a.text_dim, layers=a.text_layers).to(dev)
    if a.prior and not a.precond:
        sys.exit("--prior needs --precond (it centres the preconditioning on the caption's prior image)")
    unet = UNet(cin=latent_channels(), ch=tuple(int(c) for c in a.channels.split(",")), ctx_dim=a.text_dim, skip=a.skip,
                precond=a.precond, prior_side=OUT // R if a.prior else 0).to(dev)
    if a.init:  # continue from an earlier run's EMA weights (same grammar, size, latent and --seed: the
        # patch basis is fit on the rendered images, so other images give another basis)
        ck = torch.load(a.init, map_location=dev)
        te.load_state_dict(ck["ema_te"])
        unet.load_state_dict(ck["ema_unet"])
    params = list(te.parameters()) + list(unet.parameters())
    print("params: text", sum(p.numel() for p in te.parameters()), "unet", sum(p.numel() for p in unet.parameters()),
          flush=True)
    acp = alphas_cumprod().to(dev)
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    lat_all = to_latent(imgs).to(dev)
    print(f"latent {tuple(lat_all.shape[1:])}, std {float(lat_all.std()):.3f}", flush=True)
    ids = ids.to(dev)
    empty = empty.to(dev)
    n, step, t_start = len(caps), 0, time.time()
    t_end = t_start + a.minutes * 60
    losses = []
    # EMA of the weights (what is exported): removes most of the per-pixel noise a short run leaves.
    import copy
    ema_te, ema_unet = copy.deepcopy(te).eval(), copy.deepcopy(unet).eval()
    ema_params = list(ema_te.parameters()) + list(ema_unet.parameters())
    while time.time() < t_end and (a.max_steps == 0 or step < a.max_steps):
        idx = torch.randint(0, n, (a.batch,), device=dev)
        x0 = lat_all[idx]
        cid = ids[idx].clone()
        drop = torch.rand(a.batch, device=dev) < 0.1
        cid[drop] = empty
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (a.batch,), device=dev)
        ab = acp[t].view(-1, 1, 1, 1)
        xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            pred = unet(xt, t, te(cid))
        # v-prediction keeps the implied x0 = sqrt(a) x_t - sqrt(1-a) v bounded at high noise, where an
        # epsilon model's x0 = (x_t - sqrt(1-a) eps) / sqrt(a) magnifies small errors ~150x.
        target = noise if a.prediction == "epsilon" else ab.sqrt() * noise - (1 - ab).sqrt() * x0
        loss = torch.nn.functional.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        # Warm-up, then cosine decay to 5% over the time budget (or max_steps).
        frac = (step / a.max_steps) if a.max_steps else (time.time() - t_start) / (t_end - t_start)
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 300) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
        opt.step()
        with torch.no_grad():
            d = min(a.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema_params, params):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
        losses.append(float(loss.detach()))
        step += 1
        if step % 200 == 0:
            print(f"step {step} loss {np.mean(losses[-200:]):.4f} {time.time() - t0:.0f}s", flush=True)
    final = float(np.mean(losses[-200:]))
    print(f"trained {step} steps, final loss {final:.4f}", flush=True)
    SCHED_CFG["prediction_type"] = a.prediction
    if a.checkpoint:
        torch.save({"te": te.state_dict(), "unet": unet.state_dict(), "ema_te": ema_te.state_dict(),
                    "ema_unet": ema_unet.state_dict()}, a.checkpoint)
    export_all(a.out, ema_te, ema_unet, os.path.join(a.out, "tokenizer"))
    manifest = {"schema": "mvwatch.thumbnail.v1", "layout": "optimum-stable-diffusion", "image_size": OUT,
                "latent": [latent_channels(), OUT // R, OUT // R], "grammar": a.grammar, "channels": a.channels,
                "text_dim": a.text_dim, "text_layers": a.text_layers, "lr": a.lr,
                "params": sum(p.numel() for p in params),
                "command": command_line(), "train_steps": step, "batch": a.batch,
                "images": a.images, "final_loss": final, "seed": a.seed, "device": str(dev),
                "minutes": a.minutes, "prediction_type": a.prediction, "ema": a.ema, "skip": a.skip,
                "precond": a.precond, "prior": a.prior, "init": a.init, "latent_channels": latent_channels(), "patch_energy_kept": kept,
                "latent_scale": SCALE,
                "generator": "training/thumbnail/model.py"}
    json.dump(manifest, open(os.path.join(a.out, "manifest.json"), "w"), indent=1)
    if a.grammar == "events":  # the canonical captions, for diffusion.EventPrompt's vocabulary test
        open(os.path.join(a.out, "captions.txt"), "w").write("\n".join(events_captions()) + "\n")
    print(json.dumps(manifest))
    if a.tar:  # one file: the device machine returns only a few files from $OUT
        import tarfile
        with tarfile.open(a.tar, "w:gz") as tf:
            tf.add(a.out, arcname=os.path.basename(os.path.normpath(a.out)))


def cmd_check(a):
    """The pure-Python tokenizer equals transformers' CLIPTokenizer on the tokenizer/ folder it wrote."""
    configure(a)
    from transformers import CLIPTokenizer
    vocab = json.load(open(os.path.join(a.model, "tokenizer", "vocab.json")))
    merges = [tuple(l.split()) for l in open(os.path.join(a.model, "tokenizer", "merges.txt")).read().split("\n")[1:] if l]
    mine, ref = BPETokenizer(vocab, merges), CLIPTokenizer.from_pretrained(os.path.join(a.model, "tokenizer"))
    _, caps = make_dataset(2000, 99)
    caps += ["", "A Red CAR, moving-left!!", "camera tampered, lens covered, porch at night"]
    bad = [c for c in caps if mine(c) != ref(c, padding="max_length", max_length=77, truncation=True).input_ids]
    print(len(caps), "captions,", len(bad), "differ", bad[:3])
    sys.exit(1 if bad else 0)


def simple_captions():
    """Every caption of the simple grammar (90), in a fixed order."""
    out = []
    for scene in SIMPLE_SCENES:
        place = {"street": "on the street", "driveway": "in the driveway", "park": "in the park"}[scene]
        for t in ("day", "night"):
            out += [f"camera tampered, {k}, {scene} at {t}" for k in SIMPLE_TAMPER]
            out.append(f"empty {scene} at {t}")
            for kind in SIMPLE_OBJECTS:
                for n in (1, 2):
                    noun = kind if n == 1 else PLURAL[kind]
                    for mv in ("moving left", "moving right", "standing still"):
                        out.append(f"{number(n)} {noun} {mv} {place} at {t}")
    return out


PARAPHRASES = [("moving left", ["heading left", "going left"]), ("moving right", ["heading right", "going right"]),
               ("standing still", ["not moving", "waiting"]), ("at night", ["at nighttime", "in the dark"]),
               ("at day", ["in daylight", "during the day"]), ("a person", ["one person", "someone"]),
               ("two people", ["2 people", "a pair of people"]), ("a car", ["one car", "a vehicle"]),
               ("two cars", ["2 cars", "a pair of cars"]), ("empty ", ["quiet ", "deserted "]),
               ("camera tampered, ", ["tamper alert: ", "camera sabotaged, "]),
               ("many people", ["a crowd of people", "lots of people"]), ("many cars", ["a line of cars", "lots of cars"]),
               ("in the rain", ["while raining", "in heavy rain"]), ("in the snow", ["while snowing", "in snowfall"]),
               ("camera out of focus", ["camera defocused", "blurry camera"])]


def paraphrase(cap, rng, p=0.6):
    """A reworded caption: each known phrase is replaced by a synonym with probability p."""
    for phrase, alts in PARAPHRASES:
        if phrase in cap and rng.random() < p:
            cap = cap.replace(phrase, alts[rng.integers(len(alts))])
    return cap


def events_captions():
    """Every canonical caption of the events grammar (360), in a fixed order."""
    out = []
    for scene in SIMPLE_SCENES:
        for t in ("day", "night"):
            out += [events_caption(scene, t, kind=k) for k in EVENT_KINDS]
            for w in EVENT_WEATHER:
                out.append(events_caption(scene, t, w=w))
                for obj in SIMPLE_OBJECTS:
                    for n in ("1", "2", "many"):
                        for mv in MOTION:
                            out.append(events_caption(scene, t, n=n, obj=obj, motion=mv, w=w))
    return out


def cmd_prompts(a):
    """Step-predictor prompt sets, split by caption so that held-out prompts share no caption (and no
    rewording of one) with training. events: a random 20% of the grammar's 360 captions are held out, and
    prompts are drawn with the grammar's own frequencies (sample_event) and rewording (until 288 training
    and 72 held-out distinct prompts). simple: the 90 captions split 80/20, each with reworded variants."""
    rng = np.random.default_rng(a.seed)
    caps = events_captions() if a.grammar == "events" else simple_captions()
    held = set(rng.choice(len(caps), size=len(caps) // 5, replace=False).tolist())
    sets = {"train": [], "heldout": []}
    if a.grammar == "events":
        held_caps, want = {caps[i] for i in held}, {"train": a.train, "heldout": a.heldout}
        while any(len(sets[k]) < want[k] for k in sets):
            e = sample_event(rng)
            cap = events_caption(**e)
            k = "heldout" if cap in held_caps else "train"
            p = paraphrase(cap, rng, 0.3)
            if len(sets[k]) < want[k] and p not in sets[k]:
                sets[k].append(p)
    else:
        for i, c in enumerate(caps):
            variants = {c}
            for _ in range(20):
                if len(variants) > a.variants:
                    break
                variants.add(paraphrase(c, rng))
            sets["heldout" if i in held else "train"] += sorted(variants)
    os.makedirs(a.out, exist_ok=True)
    for name, ps in sets.items():
        open(os.path.join(a.out, name + ".txt"), "w").write("\n".join(ps) + "\n")
        print(name, len(ps))


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("samples")
    s.add_argument("--out", required=True)
    t = sub.add_parser("train")
    t.add_argument("--channels", default="48,96", help="UNet channels at the latent side and half of it")
    t.add_argument("--text-dim", type=int, default=64)
    t.add_argument("--text-layers", type=int, default=2)
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    t.add_argument("--skip", action="store_true", help="1x1 input-to-output path in the UNet")
    t.add_argument("--precond", action="store_true", help="EDM preconditioning inside the UNet (see UNet)")
    t.add_argument("--prior", action="store_true", help="a caption prior image the preconditioning centres on (see UNet)")
    t.add_argument("--latent-channels", type=int, default=48,
                   help="PCA components of the 4x4x3 patches kept in the latent (48: plain space-to-depth)")
    t.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights")
    t.add_argument("--checkpoint", default="", help="also save the torch weights here (not committed)")
    t.add_argument("--init", default="", help="start from this --checkpoint's EMA weights")
    t.add_argument("--out", required=True)
    t.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    t.add_argument("--minutes", type=float, default=5)
    t.add_argument("--max-steps", type=int, default=0)
    t.add_argument("--images", type=int, default=20000)
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--prediction", choices=["v_prediction", "epsilon"], default="v_prediction")
    t.add_argument("--tar", default="", help="also pack the model directory into this .tgz")
    c = sub.add_parser("check")
    c.add_argument("--model", required=True)
    for p in (s, t, c):
        p.add_argument("--size", type=int, default=64, help="image side: 64, or 32 for the CPU-sized model")
        p.add_argument("--grammar", choices=["full", "simple", "events"], default="full",
                       help="caption vocabulary: full, simple, or events (the shipped CPU-sized model)")
    pr = sub.add_parser("prompts")
    pr.add_argument("--out", required=True)
    pr.add_argument("--variants", type=int, default=3, help="reworded variants per caption")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--grammar", choices=["simple", "events"], default="events")
    pr.add_argument("--train", type=int, default=288, help="events: training prompts")
    pr.add_argument("--heldout", type=int, default=72, help="events: held-out prompts")
    a = ap.parse_args(argv)
    {"samples": cmd_samples, "train": cmd_train, "check": cmd_check, "prompts": cmd_prompts}[a.cmd](a)

