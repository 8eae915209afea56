"""The raw-domain teacher of training/mfcd/real.py on rendered scenes whose truth is known."""
import subprocess

import numpy as np
import pytest

from training.mfcd import dataset, real

W, H, N = 320, 180, 24


def texture(seed, w, h):
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (h // 8 + 1, w // 8 + 1), dtype=np.uint8)
    return np.kron(small, np.ones((8, 8), np.uint8))[:h, :w]


def write(path, frames):
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{W}x{H}",
                    "-r", "15", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-bf", "0",
                    "-pix_fmt", "yuv420p", path], input=np.stack(frames).tobytes(), check=True)


def scene(movers, pan=0):
    """N frames of a textured background (shifted by pan px per frame) with boxes (x0, dx, y, size)."""
    wide = texture(1, W + abs(pan) * N + 8, H)
    rng = np.random.default_rng(2)
    out = []
    for t in range(N):
        off = pan * t if pan > 0 else abs(pan) * (N - t)
        f = wide[:, off:off + W].astype(np.int16).copy()
        for x0, dx, y, size in movers:
            x = int(x0 + dx * t)
            f[y:y + size, max(x, 0):max(x + size, 0)] = 250 if dx > 0 else 10
        f += rng.normal(0, 1.5, f.shape).round().astype(np.int16)
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


def labels(tmp_path, frames, camera):
    path = str(tmp_path / "v.mp4")
    write(path, frames)
    return [dataset.LABELS[lbl] if lbl >= 0 else None for lbl, _ in real.label_windows(path, camera, [(8, 16)])]


@pytest.mark.parametrize("movers, want", [
    ([], "idle"),
    ([(20, 6, 60, 40)], "object_right"),
    ([(280, -6, 60, 40)], "object_left"),
    ([(20, 6, 20, 36), (280, -6, 110, 36)], "multi_object"),
])
def test_fixed_camera_labels(tmp_path, movers, want):
    assert labels(tmp_path, scene(movers), "fixed") == [want]


def test_moving_camera_pans_and_a_still_one_is_dropped(tmp_path):
    assert labels(tmp_path, scene([], pan=4), "moving") == ["pan"]
    assert labels(tmp_path, scene([]), "moving") == [None]


def test_variants_are_seeded_from_the_training_grid():
    a, b = real.variants("clip", 7), real.variants("clip", 7)
    assert a == b and len(a) == real.VARIANTS
    assert real.variants("other", 7) != a
    for v in a:
        assert v["fps"] in dataset.TRAIN_ENC["fps"] and v["gop"] in dataset.TRAIN_ENC["gop"]
        assert v["width"] in [w for w, _ in dataset.TRAIN_ENC["size"]]
