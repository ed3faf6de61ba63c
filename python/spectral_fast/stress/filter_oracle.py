"""The radial Fourier-magnitude filter, in plain numpy: the oracle the Rust core must match.

``radial_filter`` multiplies each image's Fourier coefficients by a real, positive
gain that depends only on radial frequency (cycles per pixel, as in the profile:
r = sqrt((ky/H)^2 + (kx/W)^2)), so phase, and with it anatomy and geometry, is
kept. The gain at r is the linear interpolation of ``(radii, gains)``, held
constant beyond both ends; the DC coefficient is never changed, so each image
keeps its mean. See docs/method.md#stress-tests.
"""

from __future__ import annotations

import numpy as np

from spectral_fast.errors import InvalidInputError


def radial_frequency(height: int, width: int) -> np.ndarray:
    """Radial frequency (cycles/px) of each coefficient of an ``rfft2`` of an H x W image."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fy * fy + fx * fx)


def radial_filter(images: np.ndarray, radii: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Images with their Fourier magnitudes multiplied by a radial gain, phase kept.

    Parameters
    ----------
    images : (N, H, W) or (H, W) real array
    radii : (m,) strictly increasing radial frequencies, cycles/px, m >= 1
    gains : (m,) one gain curve for all images, or (N, m) one per image; finite, > 0

    Returns
    -------
    float64 array of the input's shape.
    """
    x = np.asarray(images, dtype=np.float64)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3 or min(x.shape[1:], default=0) < 2:
        raise InvalidInputError(f"images: expected (N, H, W) or (H, W) with sides >= 2, got shape {np.shape(images)}")
    radii = np.asarray(radii, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    if radii.ndim != 1 or radii.size < 1 or not np.all(np.isfinite(radii)) or np.any(np.diff(radii) <= 0):
        raise InvalidInputError("radii: expected a 1-D, finite, strictly increasing array")
    if gains.ndim == 1:
        gains = np.broadcast_to(gains, (x.shape[0], gains.size))
    if gains.shape != (x.shape[0], radii.size) or not np.all(np.isfinite(gains)) or np.any(gains <= 0):
        raise InvalidInputError(
            f"gains: expected finite positive values of shape ({radii.size},) or ({x.shape[0]}, {radii.size})"
        )
    n, h, w = x.shape
    r = radial_frequency(h, w).ravel()
    spectrum = np.fft.rfft2(x, axes=(1, 2))
    out = np.empty_like(x)
    for i in range(n):
        g = np.interp(r, radii, gains[i]).reshape(h, w // 2 + 1)
        g[0, 0] = 1.0
        out[i] = np.fft.irfft2(spectrum[i] * g, s=(h, w))
    return out[0] if single else out
