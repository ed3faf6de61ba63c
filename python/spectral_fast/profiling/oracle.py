"""Reference implementation of the spectral profile in plain numpy.

This module is the oracle: it is written to be read, not to be fast. The Rust
core (``spectral_fast._core``) must agree with it to 1e-6 relative for every
option, dtype and shape (``tests/profiling/test_parity.py``), and the benchmarks use it
as the baseline.

The maths (``docs/method.md#spectral-profile``)
----------------------------------------------
Given an image ``x`` of shape (H, W):

1. Convert to float64. RGB(A) images, shape (H, W, 3|4), become luma
   ``0.299 R + 0.587 G + 0.114 B``; alpha is dropped. A gray image stored as
   colour (R = G = B exactly in every pixel) is taken as its one channel
   instead, so it keeps its integer values and gets the gray image's profile.
2. ``mean`` and ``std`` (population, ddof=0) of this native float image are
   recorded, together with the native ``height`` and ``width``.
3. Optional resize to ``size`` x ``size``: centre-crop to a square on the
   shorter side (offset ``(H - m) // 2`` with ``m = min(H, W)``), then resample
   separably. Shrinking uses area averaging (each output pixel is the mean of
   its footprint ``[i s, (i + 1) s)`` in input pixels, partial pixels weighted
   by overlap); enlarging uses bilinear interpolation at pixel centres
   (``src = (i + 0.5) / scale - 0.5``, clamped to the edge).
4. Subtract the mean.
5. Window (``window="hann"``): multiply by ``w_y[:, None] * w_x[None, :]`` with
   the periodic Hann window ``w[n] = 0.5 - 0.5 cos(2 pi n / N)``.
6. ``F = rfft2(x)`` (real FFT along the last axis), power ``P = |F|^2``.
7. Radial frequency in cycles per pixel,
   ``r = sqrt((ky / H)^2 + (kx / W)^2)`` with ``ky`` signed as in
   ``numpy.fft.fftfreq`` and ``kx`` in ``[0, W // 2]``. Each half-spectrum
   coefficient stands for itself and its conjugate twin, so it is counted with
   weight 2, except column ``kx = 0`` and, for even W, ``kx = W / 2``
   (weight 1). Band energies then equal full-spectrum sums (Parseval).
8. Band edges ``e_0 .. e_B`` run from ``r_min = 1 / min(H, W)`` to 0.5, log
   (``e_i = r_min * (0.5 / r_min) ** (i / B)``) or linearly
   (``e_i = r_min + i (0.5 - r_min) / B``) spaced, where H, W are the sizes
   of the grid that is transformed (``size`` when resizing). Everything with
   ``r < r_min`` (DC included) is the ``low`` band; ``r > 0.5`` (the corners)
   is dropped; band ``i`` holds ``e_i <= r < e_{i+1}`` and the last band also
   holds ``r = 0.5``.
9. Fractions ``p_b = E_b / T`` with ``T = E_low + sum_b E_b``; the features are
   ``log10(p_b + 1e-12)`` (also for ``low``). An image whose pixels are all
   equal, or whose total ``T`` is zero, has no profile: it is an error row.
10. Scalars:
    ``slope``: least-squares slope of ``log10(E_b / n_b)`` (mean power per
    coefficient, ``n_b`` the weighted count) against ``log10(c_b)``, over the
    bands with ``n_b > 0`` and ``E_b > 0``; ``c_b`` is the band centre,
    ``sqrt(e_i e_{i+1})`` for log spacing and ``(e_i + e_{i+1}) / 2`` for
    linear. NaN when fewer than two bands qualify.
    ``centroid``: ``sum(w P r) / T`` in cycles per pixel.
    ``entropy``: ``-sum q log2 q`` in bits over ``q = (p_low, p_0 .. p_{B-1})``.
    ``hf_ratio``: energy with ``r > 0.25`` divided by ``T``.

Floating-point choices that keep the Rust core bit-identical in its band
assignment: band edges are computed with scalar ``math`` (libm, like Rust's
``f64``), and ``ky / H`` is a true division (``numpy.fft.fftfreq`` multiplies
by ``1 / n``, which can differ in the last bit and move a coefficient sitting
exactly on an edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectral_fast.errors import InvalidInputError, InvalidTypeError

#: dtypes accepted for pixel data, in the order the docs list them.
SUPPORTED_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
#: Smallest side, in pixels, for which a profile is defined.
MIN_SIDE = 8
#: Floor added to fractions before log10, so empty bands stay finite.
LOG_FLOOR = 1e-12
#: Luma weights (ITU-R BT.601) for RGB(A) input.
LUMA = (0.299, 0.587, 0.114)
#: Radial frequency (cycles/pixel) above which energy counts as high frequency.
HF_CUTOFF = 0.25

SCALAR_NAMES = ("low", "slope", "centroid", "entropy", "hf_ratio", "mean", "std")


class ImageError(ValueError):
    """A problem of one image (as opposed to the call): becomes an error row."""


@dataclass(frozen=True)
class Profile:
    """The spectral profile of one image."""

    bands: np.ndarray  # log10(p_b + 1e-12), shape (B,)
    low: float  # log10(p_low + 1e-12)
    slope: float
    centroid: float
    entropy: float
    hf_ratio: float
    mean: float
    std: float
    height: int
    width: int


def band_edges(height: int, width: int, bands: int = 32, spacing: str = "log") -> np.ndarray:
    """Edges ``e_0 .. e_B`` of the radial bands, in cycles per pixel.

    ``height`` and ``width`` are those of the transformed grid. Computed in
    scalar float64 so that the Rust core reproduces them bit for bit.
    """
    _check_bands(bands)
    r_min = 1.0 / min(height, width)
    if spacing == "log":
        ratio = math.log(0.5 / r_min)
        edges = [r_min * math.exp(ratio * i / bands) for i in range(bands + 1)]
    elif spacing == "linear":
        step = (0.5 - r_min) / bands
        edges = [r_min + step * i for i in range(bands + 1)]
    else:
        raise InvalidInputError(f"spacing must be 'log' or 'linear', got {spacing!r}")
    edges[-1] = 0.5  # exactly, whatever the rounding of the last step
    return np.array(edges, dtype=np.float64)


def band_centres(edges: np.ndarray, spacing: str) -> np.ndarray:
    """Centre of each band: geometric for log spacing, arithmetic for linear."""
    if spacing == "log":
        return np.sqrt(edges[:-1] * edges[1:])
    return (edges[:-1] + edges[1:]) / 2.0


def to_float_gray(image: np.ndarray) -> np.ndarray:
    """Convert a 2-D gray or (H, W, 3|4) colour image to a float64 gray image (equal channels: the one channel)."""
    image = np.asarray(image)
    if image.dtype.type not in SUPPORTED_DTYPES:
        raise InvalidTypeError(f"image dtype must be one of uint8, uint16, int16, float32, float64, got {image.dtype}")
    x = image.astype(np.float64)
    if x.ndim == 3 and x.shape[2] in (3, 4):
        r, g, b = x[..., 0], x[..., 1], x[..., 2]
        equal = np.array_equal(r, g) and np.array_equal(r, b)  # gray stored as colour
        x = r.copy() if equal else LUMA[0] * r + LUMA[1] * g + LUMA[2] * b
    elif x.ndim != 2:
        raise InvalidInputError(f"image must be 2-D (H, W) or (H, W, 3|4), got shape {image.shape}")
    return x


def resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``M`` (n_out x n_in) such that ``M @ v`` resamples ``v``.

    Area averaging when shrinking (rows sum to 1, weights are the overlap of
    each input pixel with the output footprint), bilinear at pixel centres
    when enlarging, identity when the sizes match.
    """
    m = np.zeros((n_out, n_in), dtype=np.float64)
    if n_out == n_in:
        np.fill_diagonal(m, 1.0)
    elif n_out < n_in:
        scale = n_in / n_out
        for i in range(n_out):
            start, stop = i * scale, (i + 1) * scale
            for j in range(int(math.floor(start)), min(int(math.ceil(stop)), n_in)):
                overlap = min(stop, j + 1) - max(start, j)
                if overlap > 0:
                    m[i, j] = overlap / scale
    else:
        scale = n_out / n_in
        for i in range(n_out):
            src = min(max((i + 0.5) / scale - 0.5, 0.0), n_in - 1.0)
            j0 = int(math.floor(src))
            j1 = min(j0 + 1, n_in - 1)
            frac = src - j0
            m[i, j0] += 1.0 - frac
            m[i, j1] += frac
    return m


def resize(x: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``x`` to a square on its shorter side, then resample to ``size``."""
    h, w = x.shape
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    square = x[top : top + m, left : left + m]
    rs = resample_matrix(m, size)
    return rs @ square @ rs.T


def hann(n: int) -> np.ndarray:
    """Periodic Hann window of length ``n``: ``0.5 - 0.5 cos(2 pi k / n)``."""
    k = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)


def radial_frequency(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Radial frequency ``r`` and Hermitian weight of each rfft2 coefficient."""
    ky = np.arange(height, dtype=np.float64)
    ky[ky >= (height + 1) // 2] -= height  # signed, as numpy.fft.fftfreq
    kx = np.arange(width // 2 + 1, dtype=np.float64)
    fy = ky / height
    fx = kx / width
    r = np.sqrt(fy[:, None] * fy[:, None] + fx[None, :] * fx[None, :])
    weight = np.full(width // 2 + 1, 2.0)
    weight[0] = 1.0
    if width % 2 == 0:
        weight[-1] = 1.0
    return r, np.broadcast_to(weight, r.shape)


def band_index(r: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band of each coefficient: 0 = low, 1..B = bands, B + 1 = dropped corner."""
    bands = len(edges) - 1
    idx = np.searchsorted(edges, r, side="right")  # 0 below r_min, i + 1 in band i
    idx = np.where(r == edges[-1], bands, idx)  # the last band holds r = 0.5
    return np.where(r > edges[-1], bands + 1, idx)


def profile_image(
    image: np.ndarray,
    *,
    size: int | None = None,
    bands: int = 32,
    spacing: str = "log",
    window: str = "hann",
) -> Profile:
    """Spectral profile of one image; raises :class:`ImageError` for a bad image."""
    _check_options(size, bands, spacing, window)
    x = to_float_gray(image)
    height, width = x.shape
    if min(height, width) < MIN_SIDE:
        raise ImageError(f"image is {height}x{width}; both sides must be at least {MIN_SIDE} px")
    if not np.isfinite(x).all():
        raise ImageError("image contains NaN or infinite values")
    if x.min() == x.max():
        raise ImageError("image has no variation (all pixels equal)")
    mean, std = float(x.mean()), float(x.std())

    if size is not None:
        x = resize(x, size)
    x = x - x.mean()
    if window == "hann":
        x = x * (hann(x.shape[0])[:, None] * hann(x.shape[1])[None, :])

    power = np.abs(np.fft.rfft2(x)) ** 2
    gh, gw = x.shape
    r, weight = radial_frequency(gh, gw)
    edges = band_edges(gh, gw, bands, spacing)
    idx = band_index(r, edges)
    energy = np.bincount(idx.ravel(), weights=(weight * power).ravel(), minlength=bands + 2)
    count = np.bincount(idx.ravel(), weights=weight.ravel(), minlength=bands + 2)
    energy, count = energy[: bands + 1], count[: bands + 1]  # drop the corners
    total = energy.sum()
    if not total > 0.0 or not np.isfinite(total):
        raise ImageError("image has no spectral energy after mean removal and windowing")

    p = energy / total
    kept = idx <= bands
    centroid = float((weight * power * r)[kept].sum() / total)
    hf_ratio = float((weight * power)[kept & (r > HF_CUTOFF)].sum() / total)
    nonzero = p[p > 0]
    entropy = float(-(nonzero * np.log2(nonzero)).sum())
    return Profile(
        bands=np.log10(p[1:] + LOG_FLOOR),
        low=float(np.log10(p[0] + LOG_FLOOR)),
        slope=_spectral_slope(energy[1:], count[1:], band_centres(edges, spacing)),
        centroid=centroid,
        entropy=entropy,
        hf_ratio=hf_ratio,
        mean=mean,
        std=std,
        height=height,
        width=width,
    )


def _spectral_slope(energy: np.ndarray, count: np.ndarray, centres: np.ndarray) -> float:
    ok = (count > 0) & (energy > 0)
    if ok.sum() < 2:
        return float("nan")
    xs = np.log10(centres[ok])
    ys = np.log10(energy[ok] / count[ok])
    xc = xs - xs.mean()
    return float((xc * (ys - ys.mean())).sum() / (xc * xc).sum())


def _check_bands(bands: int) -> None:
    if isinstance(bands, bool) or not isinstance(bands, (int, np.integer)) or not 1 <= bands <= 254:
        raise InvalidInputError(f"bands must be an integer in [1, 254], got {bands!r}")


def _check_options(size: int | None, bands: int, spacing: str, window: str) -> None:
    _check_bands(bands)
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIDE <= size <= 16384
    ):
        raise InvalidInputError(f"size must be None or an integer in [{MIN_SIDE}, 16384], got {size!r}")
    if spacing not in ("log", "linear"):
        raise InvalidInputError(f"spacing must be 'log' or 'linear', got {spacing!r}")
    if window not in ("hann", "none"):
        raise InvalidInputError(f"window must be 'hann' or 'none', got {window!r}")
