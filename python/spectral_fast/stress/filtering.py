"""The radial Fourier-magnitude filter and the resize to a model's input, in the Rust core.

``radial_filter`` is :func:`spectral_fast.stress.filter_oracle.radial_filter`
(same arguments, same maths) computed by ``_core.radial_filter``: images in
pairs packed as one complex image ``a + ib`` (one complex rustfft 2-D transform
serves both; the gain is real and even, so the two do not mix beyond rounding),
in the images' precision, one pair per thread, the GIL released.
tests/stress/test_filtering.py holds it to 1e-9 of the image range for float64
images (measured ~1e-15) and 5e-6 for float32 ones (computed in float32,
measured ~5e-7, a thousandth of an 8-bit grey level). ``resize_images``
resamples a stack with the profile's resampler (docs/method.md#spectral-profile).
See docs/method.md#stress-tests.
"""

from __future__ import annotations

import numpy as np

from spectral_fast import _core
from spectral_fast.errors import InvalidInputError


def _stack(images: np.ndarray, name: str = "images") -> tuple[np.ndarray, bool]:
    """``images`` as a C-contiguous (N, H, W) float32 or float64 stack, and whether it was one (H, W) image."""
    x = np.asarray(images)
    if x.dtype != np.float32:
        try:
            x = x.astype(np.float64, copy=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{name}: expected real numbers, got dtype {x.dtype}") from exc
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise InvalidInputError(f"{name}: expected (N, H, W) or (H, W), got shape {np.shape(images)}")
    return np.ascontiguousarray(x), single


def radial_filter(
    images: np.ndarray, radii: np.ndarray, gains: np.ndarray, *, threads: int | None = None
) -> np.ndarray:
    """Images with their Fourier magnitudes multiplied by a radial gain, phase and mean kept.

    Parameters
    ----------
    images : (N, H, W) or (H, W) real array, sides >= 2
    radii : (m,) strictly increasing radial frequencies, cycles/px, m >= 1
    gains : (m,) one gain curve for all images, or (N, m) one per image; finite, > 0
    threads : int, optional
        Threads of the core; default ``SPECTRAL_FAST_THREADS``, then every core.

    Returns
    -------
    Array of the input's shape: float32 for float32 input (computed in
    float32, twice as fast), float64 otherwise (computed in float64).
    """
    x, single = _stack(images)
    if min(x.shape[1:]) < 2:
        raise InvalidInputError(f"images: expected (N, H, W) or (H, W) with sides >= 2, got shape {np.shape(images)}")
    r = np.ascontiguousarray(radii, dtype=np.float64)
    g = np.ascontiguousarray(gains, dtype=np.float64)
    out = _core.radial_filter(x, r, g, threads=threads)
    return out[0] if single else out


def resize_images(images: np.ndarray, size: tuple[int, int], *, threads: int | None = None) -> np.ndarray:
    """Each image resampled to ``size = (height, width)``, each axis on its own (aspect not kept).

    Area averaging when shrinking and bilinear interpolation at pixel centres
    when enlarging: the resampler of the profile (docs/method.md#spectral-profile), here
    without its centre crop. float32 stays float32, anything else becomes
    float64; an image already of ``size`` is returned unchanged (a copy).
    """
    x, single = _stack(images)
    height, width = size
    out = _core.resize_images(x, height, width, threads=threads)
    return out[0] if single else out
