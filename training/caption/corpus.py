"""The event-caption corpus: seeded structured events and many phrasings of their captions.

An event is (camera, zone, label, direction, duration_s, time, confidence). The model input is the
prompt that prompt() formats (the Go side, llmgen.Event.Prompt, formats the same string), and the target
text is one caption followed by the end-of-text token.
"""
import random

CAMERAS = ["dock-1", "dock-2", "gate-north", "gate-south", "lobby", "lot-a", "lot-b", "yard", "roof-east",
           "warehouse-3", "entrance", "corridor-2", "garage", "perimeter-west", "office-1", "loading-4"]
ZONES = ["loading bay", "parking lot", "front door", "side entrance", "fence line", "driveway", "corridor",
         "reception", "storage area", "bike rack", "main gate", "back alley", "stairwell", "courtyard",
         "ramp", "walkway"]
LABELS = ["person", "car", "truck", "bicycle", "dog", "cat", "forklift", "van", "motorcycle", "group of people",
          "delivery robot", "bus"]
DIRECTIONS = ["left-to-right", "right-to-left", "toward-camera", "away-from-camera", "stationary", "loitering"]

END = "<|endoftext|>"
SPECIAL = [END, "<|pad|>"]

DIR_PHRASES = {
    "left-to-right": ["from left to right", "left to right", "moving right", "heading right"],
    "right-to-left": ["from right to left", "right to left", "moving left", "heading left"],
    "toward-camera": ["toward the camera", "approaching the camera", "closer to the camera"],
    "away-from-camera": ["away from the camera", "moving away", "into the distance"],
    "stationary": ["without moving", "standing still", "in one place"],
    "loitering": ["loitering", "lingering", "wandering back and forth"],
}
VERBS = {
    "left-to-right": ["crosses", "moves across", "passes through", "walks through"],
    "right-to-left": ["crosses", "moves across", "passes through", "walks through"],
    "toward-camera": ["approaches through", "comes up", "advances through"],
    "away-from-camera": ["leaves", "exits", "moves off from"],
    "stationary": ["waits in", "stays in", "remains in"],
    "loitering": ["lingers in", "loiters in", "hangs around"],
}


def article(label):
    return ("an " if label[0] in "aeiou" else "a ") + label


def duration_phrase(rng, d):
    if d < 60:
        return rng.choice([f"for {d} seconds", f"for {d} s", f"over {d} seconds", f"in {d} seconds"])
    m, s = divmod(d, 60)
    if s == 0:
        return rng.choice([f"for {m} minutes" if m > 1 else "for a minute", f"over {m} min"])
    return rng.choice([f"for {m} min {s} s", f"for about {m + (1 if s >= 30 else 0)} minutes",
                       f"for {d} seconds"])


def confidence_phrase(rng, c):
    if c >= 0.9:
        return rng.choice(["", "", " (high confidence)", " Detection is certain."])
    if c >= 0.7:
        return rng.choice(["", f" (confidence {c:.2f})", " Detection is likely."])
    return rng.choice([" (low confidence)", f" Possibly a false alarm, confidence {c:.2f}.", " Unclear detection."])


def random_event(rng):
    return {
        "camera": rng.choice(CAMERAS),
        "zone": rng.choice(ZONES),
        "label": rng.choice(LABELS),
        "direction": rng.choice(DIRECTIONS),
        "duration_s": rng.choice([rng.randint(1, 59), rng.randint(60, 600)]),
        "time": f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        "confidence": round(rng.uniform(0.5, 0.99), 2),
    }


def prompt(ev):
    """The model input for an event; llmgen.Event.Prompt must produce the same string."""
    return (f"camera: {ev['camera']} | zone: {ev['zone']} | label: {ev['label']} | direction: {ev['direction']}"
            f" | duration: {ev['duration_s']}s | time: {ev['time']} | confidence: {ev['confidence']:.2f}\ncaption:")


def caption(rng, ev):
    a = article(ev["label"])
    A = a[0].upper() + a[1:]
    z, t, cam = ev["zone"], ev["time"], ev["camera"]
    dp = rng.choice(DIR_PHRASES[ev["direction"]])
    vb = rng.choice(VERBS[ev["direction"]])
    dur = duration_phrase(rng, ev["duration_s"])
    templates = [
        f"{A} {vb} the {z} {dp} at {t}.",
        f"{A} {vb} the {z} {dp} at {t}; the camera is steady.",
        f"At {t}, {a} {vb} the {z} {dp}.",
        f"At {t} {a} was seen in the {z}, {dp}, {dur}.",
        f"{A} in the {z} on {cam}, {dp}, {dur}.",
        f"{cam}: {a} {vb} the {z} {dp} at {t}.",
        f"{cam} saw {a} in the {z} at {t}, {dp}.",
        f"Motion in the {z}: {a} {dp}, {dur}, at {t}.",
        f"{A} was detected in the {z} at {t} {dp}.",
        f"{A} {vb} the {z} {dur}, {dp}, at {t}.",
        f"Camera {cam} reports {a} in the {z} at {t}, {dp} {dur}.",
        f"{t}: {a} in the {z}, {dp}.",
    ]
    return rng.choice(templates) + confidence_phrase(rng, ev["confidence"])


def build(n, seed):
    """n (prompt, caption) pairs from a seeded generator."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ev = random_event(rng)
        out.append((ev, prompt(ev), " " + caption(rng, ev)))
    return out


if __name__ == "__main__":
    for ev, p, c in build(5, 1):
        print(p + c + END)
