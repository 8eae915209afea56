"""SSIM as scikit-image's structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1) defines it, computed with scipy; the Go diffusion.SSIM equals it
(diffusion/testdata/ssim.json). Gaussian window (truncate 3.5 -> 11 taps), "reflect" borders, K1=0.01,
K2=0.03, mean over the image less a 5-pixel border, then over channels."""
import numpy as np


def ssim(a, b):
    """SSIM of two HWC images in [0, 1]."""
    from scipy.ndimage import gaussian_filter
    vals = []
    for c in range(a.shape[2]):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        f = lambda z: gaussian_filter(z, sigma=1.5, truncate=3.5, mode="reflect")  # noqa: E731
        ux, uy = f(x), f(y)
        vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        vals.append(s[5:-5, 5:-5].mean())
    return float(np.mean(vals))
