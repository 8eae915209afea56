"""The raw-RGB teacher: a class, or no label, for every dumped training track.

It decodes the same H.264 re-encode the tracker saw (OpenCV, frames in output order, so a box's `frame`
indexes the decoded frame) and looks at the track's boxes in up to SAMPLES frames spread over its life:

- fg: for fixed cameras, the share of the box's pixels that differ from the clip's background (the
  per-pixel median of every 4th frame's grey picture) by more than FG_DIFF grey levels;
- hog: the share of sampled frames in which OpenCV's HOG people detector (the default Dalal-Triggs SVM,
  no download) finds a person in the box's crop (the crop widened by a fifth, scaled so its height is
  HOG_HEIGHT px).

Rules, per clip (the clip's scene comes from the training manifest, read by a person from the footage):
- fixed camera, fg < FG_OTHER: other (the box holds no change against the background: encoder noise, a
  shadow edge, exposure);
- single-class scenes (crowd_overhead, street_pedestrians: people; motorway_near, motorway_overpass:
  vehicles): that class;
- intersection_cctv (cars, cyclists, pedestrians): person when hog >= HOG_PERSON; vehicle when the box's
  foreground blob is large (>= VEHICLE_PX pixels on average at 448 px) and hog == 0; otherwise no label;
- corridor_walk (moving camera, one distant person): person when hog >= HOG_PERSON, else other (the
  corridor's own flow);
- bird_handheld (moving camera following a bird): other.

How weak it is: the scene label is right for the clip, not for each track: a track on a crowd's shadow, or
two cars merged into one, keeps the scene's class; HOG misses people seen from above, small or partly
hidden, and fires on some upright clutter; the background is a median, so a long-parked object is
background. Cyclists count as person (as in the evaluation timelines). No label is better than a guess:
tracks the rules cannot place are left out of training.
"""
import argparse
import json
import os

import cv2
import numpy as np

from training.trackclass.dump import VARIANTS

SAMPLES = 8
FG_DIFF = 25
FG_OTHER = 0.12
HOG_HEIGHT = 160
HOG_PERSON = 0.25
VEHICLE_PX = 900

SCENE = {
    "crowd_overhead": "person",
    "street_pedestrians": "person",
    "motorway_near": "vehicle",
    "motorway_overpass": "vehicle",
    "intersection_cctv": "mixed",
    "corridor_walk": "hog_or_other",
    "bird_handheld": "other",
}


def read_frames(path):
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def background(frames):
    grey = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames[::4]])
    return np.median(grey, axis=0).astype(np.int16)


def pixel_box(box, w, h, grow=0.0):
    x0, y0, x1, y1 = box
    gw, gh = (x1 - x0) * grow, (y1 - y0) * grow
    x0, x1 = max(int((x0 - gw) * w), 0), min(int(np.ceil((x1 + gw) * w)), w)
    y0, y1 = max(int((y0 - gh) * h), 0), min(int(np.ceil((y1 + gh) * h)), h)
    return x0, y0, x1, y1


def hog_person(hog, frame, box):
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = pixel_box(box, w, h, grow=0.2)
    if x1 - x0 < 4 or y1 - y0 < 8:
        return False
    crop = frame[y0:y1, x0:x1]
    s = HOG_HEIGHT / crop.shape[0]
    crop = cv2.resize(crop, (max(int(crop.shape[1] * s), 72), HOG_HEIGHT))
    rects, weights = hog.detectMultiScale(crop, winStride=(8, 8), padding=(16, 16), scale=1.1)
    return len(rects) > 0 and float(np.max(weights)) > 0.3


def label_clip(name, camera, h264, tracks):
    frames = read_frames(h264)
    bg = background(frames) if camera == "fixed" else None
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    rule = SCENE[name]
    out = []
    for t in tracks:
        boxes = [b for b in t["boxes"] if b["frame"] < len(frames)]
        if not boxes:
            out.append({"clip": name, "id": t["id"], "label": None, "why": "no boxes"})
            continue
        pick = np.linspace(0, len(boxes) - 1, min(SAMPLES, len(boxes))).round().astype(int)
        fg, fgpx, hogs = [], [], []
        for i in pick:
            b = boxes[i]
            f = frames[b["frame"]]
            fh, fw = f.shape[:2]
            x0, y0, x1, y1 = pixel_box(b["box"], fw, fh)
            if x1 <= x0 or y1 <= y0:
                continue
            if bg is not None:
                g = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[y0:y1, x0:x1].astype(np.int16)
                m = np.abs(g - bg[y0:y1, x0:x1]) > FG_DIFF
                fg.append(float(m.mean()))
                fgpx.append(float(m.sum()))
            if rule in ("mixed", "hog_or_other"):
                hogs.append(hog_person(hog, f, b["box"]))
        fgm = float(np.mean(fg)) if fg else None
        fgp = float(np.mean(fgpx)) if fgpx else None
        hr = float(np.mean(hogs)) if hogs else None
        label, why = None, ""
        if fgm is not None and fgm < FG_OTHER:
            label, why = "other", f"fg {fgm:.2f} < {FG_OTHER}"
        elif rule in ("person", "vehicle", "other"):
            label, why = rule, "scene"
        elif rule == "hog_or_other":
            label, why = ("person", f"hog {hr:.2f}") if hr is not None and hr >= HOG_PERSON else ("other", f"hog {hr}")
        elif rule == "mixed":
            if hr is not None and hr >= HOG_PERSON:
                label, why = "person", f"hog {hr:.2f}"
            elif fgp is not None and fgp >= VEHICLE_PX and not hr:
                label, why = "vehicle", f"fg blob {fgp:.0f} px, no hog"
            else:
                why = f"unsure: hog {hr}, fg blob {fgp}"
        out.append({"clip": name, "id": t["id"], "label": label, "why": why, "fg": fgm, "fg_px": fgp, "hog": hr})
    return out


def main(argv, prog):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", default="training/realfootage/train_manifest.json")
    ap.add_argument("--work", default="training/out/trackclass")
    a = ap.parse_args(argv)
    cv2.setNumThreads(1)
    with open(a.manifest) as f:
        clips = json.load(f)["clips"]
    labels = []
    for c in clips:
        for suffix, *_ in VARIANTS:
            base = f"{c['name']}.{suffix}"
            with open(os.path.join(a.work, "tracks", base + ".jsonl")) as f:
                tracks = [json.loads(line) for line in f]
            got = label_clip(c["name"], c["camera"], os.path.join(a.work, "h264", base + ".mp4"), tracks)
            for g in got:
                g["variant"] = suffix
            labels += got
            counts = {}
            for g in got:
                counts[g["label"]] = counts.get(g["label"], 0) + 1
            print(f"{base}: {len(got)} tracks, labels {counts}", flush=True)
    with open(os.path.join(a.work, "labels.jsonl"), "w") as f:
        for l in labels:
            f.write(json.dumps(l) + "\n")
    return 0
