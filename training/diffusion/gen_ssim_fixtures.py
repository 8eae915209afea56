"""SSIM fixtures for the Go package diffusion (scikit-image's Gaussian SSIM, computed here with scipy).

Run from the repository root:  training/.venv/bin/python training/diffusion/gen_ssim_fixtures.py
Writes diffusion/testdata/ssim.json: image pairs (HWC, [0,1]) and their SSIM as
skimage.metrics.structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1) defines it: Gaussian window (truncate 3.5 -> 11 taps), "reflect"
borders, K1=0.01, K2=0.03, mean over the image less a 5-pixel border, then over channels.
"""
import json

import numpy as np
from scipy.ndimage import gaussian_filter


def ssim(a, b):
    vals = []
    for c in range(a.shape[2]):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        f = lambda z: gaussian_filter(z, sigma=1.5, truncate=3.5, mode="reflect")
        ux, uy = f(x), f(y)
        vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        vals.append(s[5:-5, 5:-5].mean())
    return float(np.mean(vals))


def main():
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[0:16, 0:20] / 16.0
    base = np.stack([np.sin(3 * xx + yy), np.cos(2 * yy), xx * yy], axis=2) * 0.5 + 0.5
    pairs = [
        ("identical", base, base),
        ("noise", base, np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)),
        ("heavy noise", base, np.clip(base + rng.normal(0, 0.3, base.shape), 0, 1)),
        ("shifted", base, np.roll(base, 2, axis=1)),
        ("brighter", base, np.clip(base * 0.8 + 0.15, 0, 1)),
        ("random", rng.random(base.shape), rng.random(base.shape)),
        ("gray", base[..., :1], np.clip(base[..., :1] + 0.1, 0, 1)),
    ]
    cases = []
    for name, a, b in pairs:
        # 4 decimals keep the file small; Go reads the same rounded values.
        a32, b32 = np.round(a, 4).astype(np.float32), np.round(b, 4).astype(np.float32)
        cases.append({"name": name, "height": a.shape[0], "width": a.shape[1], "channels": a.shape[2],
                      "a": [round(float(v), 4) for v in a32.reshape(-1)],
                      "b": [round(float(v), 4) for v in b32.reshape(-1)],
                      "ssim": ssim(a32, b32)})
        print(name, cases[-1]["ssim"])
    with open("diffusion/testdata/ssim.json", "w") as f:
        json.dump({"generator": "training/diffusion/gen_ssim_fixtures.py", "cases": cases}, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
