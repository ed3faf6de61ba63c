"""Controlled models and images for the stress tests: the cause of every error is known by construction.

* :func:`hf_model` thresholds high-frequency energy (an acquisition-sensitive
  model): positives carry fine texture, a blurred slice loses it and is missed.
* :func:`brightness_model` keys on a patient variable (overall brightness,
  which the radial filter keeps because DC is kept): it is wrong on bright
  patients whatever their spectra.

Both are ``module:function`` entry points (``helpers.stress_models:hf_model``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SIZE = 64
#: Radial frequency (cycles/px) above which :func:`hf_model` measures energy.
HF_CUT = 0.25
#: The HF energy share :func:`hf_model` calls positive above.
HF_THRESHOLD = 0.06
#: Mean grey level above which :func:`brightness_model` turns its decision over.
BRIGHT = 150.0


def hf_share(images: np.ndarray) -> np.ndarray:
    """Share of each image's (mean-removed) power above :data:`HF_CUT` cycles/px."""
    x = np.asarray(images, dtype=np.float64)
    x = x - x.mean(axis=(1, 2), keepdims=True)
    p = np.abs(np.fft.rfft2(x)) ** 2
    fy = np.fft.fftfreq(x.shape[1])[:, None]
    fx = np.fft.rfftfreq(x.shape[2])[None, :]
    high = np.sqrt(fy**2 + fx**2) > HF_CUT
    return p[:, high].sum(axis=1) / np.maximum(p.sum(axis=(1, 2)), 1e-12)


def hf_model(images: np.ndarray) -> np.ndarray:
    """Score in (0, 1): high when the image holds more fine texture than :data:`HF_THRESHOLD`."""
    return 1.0 / (1.0 + np.exp(-80.0 * (hf_share(images) - HF_THRESHOLD)))


def brightness_model(images: np.ndarray) -> np.ndarray:
    """:func:`hf_model`, turned over on bright images (mean above :data:`BRIGHT`): a patient-variable shortcut."""
    s = hf_model(images)
    bright = np.asarray(images, dtype=np.float64).mean(axis=(1, 2)) > BRIGHT
    return np.where(bright, 1.0 - s, s)


def textured_images(n: int, seed: int, *, blurred: np.ndarray | None = None, bright: np.ndarray | None = None):
    """``n`` SIZE x SIZE images (float32, 0..255) and labels: positives carry fine texture.

    ``blurred`` (bool per image) passes those images through a Gaussian blur
    (sigma 1.2 px, an acquisition change); ``bright`` lifts those by 60 grey
    levels (a patient variable, no spectral change).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = np.empty((n, SIZE, SIZE), dtype=np.float32)
    for i in range(n):
        coarse = ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), 4.0) * 120.0
        fine = rng.standard_normal((SIZE, SIZE)) * (9.0 if labels[i] else 2.0)
        img = 100.0 + coarse + fine
        if blurred is not None and blurred[i]:
            img = ndimage.gaussian_filter(img, 1.2)
        if bright is not None and bright[i]:
            img = img + 60.0
        images[i] = img
    return images, labels
