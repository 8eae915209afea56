"""The event-caption corpus: seeded events of the service's event model and many phrasings of their captions.

An event is (camera, zone, label, direction, duration_s, time, confidence). Labels are MFCD-Net's event
labels (models/mfcd/manifest.json, without "idle", which never becomes an event); the direction is
derived from the label (llmgen.LabelDirection: object_left -> right-to-left, object_right ->
left-to-right, multi_object -> mixed, camera and image events -> none). The zone is free text that the
operator configures per camera ("loading bay") and may be empty: the caption then names no place.
Camera names and zones are composed from parts so that the models learn to copy them rather than
memorise a short list.

The model input is the prompt that prompt() formats (the Go side, llmgen.Event.Prompt, formats the same
string), and the target text is one caption followed by the end-of-text token. Phrasings are drawn with
Zipf-like weights (the first phrasing of a list is the most common, as in captions that people write),
so a caption has a usual wording and many less usual ones.
"""
import random

LABELS = ["object_left", "object_right", "multi_object", "pan", "zoom", "shake", "illumination", "tamper",
          "scene_change", "defocus"]
DIRECTION = {"object_left": "right-to-left", "object_right": "left-to-right", "multi_object": "mixed"}

CAMERA_BASES = ["dock", "gate-north", "gate-south", "lobby", "lot-a", "lot-b", "yard", "roof-east", "warehouse",
                "entrance", "corridor", "garage", "perimeter-west", "office", "loading", "cam", "platform",
                "store", "street", "hall"]
ZONE_BASES = ["loading bay", "parking lot", "front door", "side entrance", "fence line", "driveway", "corridor",
              "reception", "storage area", "bike rack", "main gate", "back alley", "stairwell", "courtyard",
              "ramp", "walkway", "platform", "cash desk", "server room", "car park exit", "delivery door",
              "staff room", "garden", "roof", "yard", "hallway", "shop floor", "entrance hall", "gate",
              "lift lobby"]
ZONE_PREFIXES = ["north", "south", "east", "west", "rear", "upper", "lower", "main", "old", "new"]

END = "<|endoftext|>"
SPECIAL = [END, "<|pad|>"]


def pick(rng, items):
    """One item, the i-th (from 0) with weight 1/(i+1)."""
    return rng.choices(items, weights=[1.0 / (i + 1) for i in range(len(items))])[0]


def direction(label):
    return DIRECTION.get(label, "none")


def random_camera(rng):
    base = rng.choice(CAMERA_BASES)
    r = rng.random()
    if r < 0.55:
        return f"{base}-{rng.randint(1, 12)}"
    if r < 0.7:
        return f"{base}-{rng.randint(1, 99):02d}"
    return base


def random_zone(rng):
    r = rng.random()
    if r < 0.2:
        return ""
    z = rng.choice(ZONE_BASES)
    if rng.random() < 0.25:
        z = rng.choice(ZONE_PREFIXES) + " " + z
    if rng.random() < 0.15:
        z = f"{z} {rng.randint(1, 9)}"
    return z


def random_event(rng):
    label = rng.choice(LABELS)
    if label in DIRECTION:
        d = rng.choice([rng.randint(1, 20), rng.randint(1, 59), rng.randint(60, 300)])
    else:
        d = rng.choice([rng.randint(1, 59), rng.randint(60, 600)])
    return {
        "camera": random_camera(rng),
        "zone": random_zone(rng),
        "label": label,
        "direction": direction(label),
        "duration_s": d,
        "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        "confidence": round(rng.uniform(0.5, 0.99), 2),
    }


def prompt(ev):
    """The model input for an event; llmgen.Event.Prompt must produce the same string."""
    return (f"camera: {ev['camera']} | zone: {ev['zone']} | label: {ev['label']} | direction: {ev['direction']}"
            f" | duration: {ev['duration_s']}s | time: {ev['time']} | confidence: {ev['confidence']:.2f}\ncaption:")


def cores(label, zone):
    """Weighted phrasings (most usual first) of what happened, lower case, with the place when there is one."""
    the = f"the {zone}" if zone else ""
    in_z = f" in the {zone}" if zone else ""
    at_z = f" at the {zone}" if zone else ""
    over_z = f" over the {zone}" if zone else ""
    across = the or "the view"
    if label in ("object_left", "object_right"):
        a, b = ("right", "left") if label == "object_left" else ("left", "right")
        return [f"an object moves across {across} from {a} to {b}",
                f"something crosses {across} from {a} to {b}",
                f"a moving object passes {a} to {b}{in_z}",
                f"movement from {a} to {b}{in_z}",
                f"an object crosses {across}, heading {b}"]
    if label == "multi_object":
        return [f"several objects move{in_z}",
                f"multiple objects are moving{in_z}",
                f"several things move at once{in_z}",
                f"there is movement of several objects{in_z}"]
    if label == "pan":
        return [f"the camera pans{over_z}",
                f"the camera is panning{over_z}",
                f"the view pans sideways{at_z}",
                f"a camera pan{over_z}"]
    if label == "zoom":
        return [f"the camera zooms{at_z}",
                f"the camera zooms in or out{at_z}",
                f"the view zooms{over_z}",
                f"a zoom{at_z}"]
    if label == "shake":
        return [f"the camera shakes{at_z}",
                f"the camera is vibrating{at_z}",
                f"the image shakes{at_z}",
                f"camera shake{at_z}"]
    if label == "illumination":
        return [f"the lights change{in_z}",
                f"the lighting changes{in_z}",
                f"the brightness changes suddenly{in_z}",
                f"lights go on or off{in_z}"]
    if label == "tamper":
        return [f"the lens is covered or sprayed{at_z}",
                f"possible tampering: the camera{at_z} is blocked",
                f"someone covers the lens{at_z}",
                f"the camera view is blocked{at_z}"]
    if label == "scene_change":
        return [f"the camera was moved to a new view{at_z}",
                f"the camera{at_z} now points at a new scene",
                f"the scene changes: the camera was turned{at_z}",
                f"the camera view changed{at_z}"]
    if label == "defocus":
        return [f"the image goes out of focus{at_z}",
                f"the camera loses focus{at_z}",
                f"the picture blurs{at_z}",
                f"the view is out of focus{at_z}"]
    raise ValueError(f"unknown label {label!r}")


def duration_clause(rng, d):
    if d < 60:
        return pick(rng, [f" for {d} seconds", f", lasting {d} s", f" for {d} s", ""])
    m, s = divmod(d, 60)
    if s == 0:
        return pick(rng, [f" for {m} minutes" if m > 1 else " for a minute", f", lasting {m} min", ""])
    return pick(rng, [f" for {m} min {s} s", f" for about {m + (1 if s >= 30 else 0)} minutes",
                      f" for {d} seconds", ""])


def confidence_phrase(rng, c):
    if c >= 0.9:
        return pick(rng, ["", " (high confidence)", " Detection is certain."])
    if c >= 0.7:
        return pick(rng, ["", f" (confidence {c:.2f})", " Detection is likely."])
    return pick(rng, [" (low confidence)", f" Possibly a false alarm, confidence {c:.2f}.", " Unclear detection."])


def cap(s):
    return s[0].upper() + s[1:]


def caption(rng, ev):
    core = pick(rng, cores(ev["label"], ev["zone"]))
    t, cam = ev["time"], ev["camera"]
    dur = duration_clause(rng, ev["duration_s"])
    frames = [
        f"{cam}: {core} at {t}{dur}",
        f"{cap(core)} at {t}{dur}, camera {cam}",
        f"At {t}, {core}{dur} on {cam}",
        f"Camera {cam} at {t}: {core}{dur}",
        f"{cap(core)}{dur}, seen by {cam} at {t}",
        f"{t} on {cam}: {core}{dur}",
    ]
    body, conf = pick(rng, frames), confidence_phrase(rng, ev["confidence"])
    # A parenthesised confidence ends the sentence; a sentence about it follows it.
    return body + conf + "." if conf.startswith(" (") else body + "." + conf


def build(n, seed):
    """n (event, prompt, caption) triples from a seeded generator."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ev = random_event(rng)
        out.append((ev, prompt(ev), " " + caption(rng, ev)))
    return out



def main(argv=None, prog=None):
    """Prints a few seeded prompt + caption pairs of the corpus."""
    import argparse
    ap = argparse.ArgumentParser(prog=prog, description="Prints seeded prompt + caption pairs of the corpus.")
    ap.add_argument("-n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    for _, p, c in build(a.n, a.seed):
        print(p + c + END)
