"""Acquisition simulator: the changes a chest X-ray goes through between photons and PNG.

Each function takes one 2-D grayscale image (synthetic or real) and returns a
new image of the **same shape and dtype**, rounded (integer dtypes) and clipped
to the valid range of its bit depth. The planted-slice benchmark, the tests
and the demo use these to make acquisition shifts whose ground truth is known.

Valid range of each dtype
-------------------------
``uint8``
    0 .. 255.
``uint16``
    Radiographs are stored in 16-bit containers with 12 (most often) or 16
    significant bits. An image whose maximum is at most 4095 is treated as
    12-bit (0 .. 4095), any other as 16-bit (0 .. 65535). The bit depth is
    inferred because the container does not record it; a 16-bit image that
    happens to stay below 4096 is treated as 12-bit.
``int16``
    0 .. 4095 when all values lie there (signed DICOM storage of a 12-bit
    detector), else the full -32768 .. 32767.
``float32`` / ``float64``
    0 .. 1 when all values lie there (the usual normalised convention); any
    other float image is scaled by its own minimum and maximum and is not
    clipped.

Strengths that are grey levels (``noise``) are given at 8-bit scale, so the
same number means the same visual change at any bit depth: ``noise(img16,
6.0)`` adds 6 / 255 of the full range, like ``noise(img8, 6.0)``.
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse

from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.profiling.oracle import resample_matrix

#: The acquisition changes, in the order reports list them.
CHANGES: tuple[str, ...] = ("blur", "noise", "sharpen", "jpeg", "resample", "grid", "gamma", "bit_depth")

#: Default strength of each change (the first parameter of its function):
#: blur: Gaussian MTF sigma in px; noise: quantum-noise sigma in 8-bit grey
#: levels at mid-grey; sharpen: unsharp-mask amount; jpeg: quality (1..95);
#: resample: down-and-up factor; grid: line period in px; gamma: exponent;
#: bit_depth: bits kept.
DEFAULT_STRENGTH: dict[str, float] = {
    "blur": 1.5,
    "noise": 6.0,
    "sharpen": 1.0,
    "jpeg": 30,
    "resample": 2.0,
    "grid": 3.3,
    "gamma": 0.7,
    "bit_depth": 5,
}

_SUPPORTED = (np.uint8, np.uint16, np.int16, np.float32, np.float64)

#: Ratio of photon fluence behind the least and the most attenuating parts of
#: a chest (lung versus spine/mediastinum/abdomen) that the display range spans:
#: about four stops. Sets how much noisier bright pixels are than dark ones.
NOISE_DYNAMIC_RANGE = 16.0

#: Fraction of the grid period taken by a lead strip (typical grids: 36-50 um
#: lead in a 200-300 um period).
GRID_DUTY = 0.15
#: Harmonics of the strip pattern that are rendered (higher ones are below
#: 1e-3 of the fundamental after the pixel aperture at periods above 2 px).
GRID_HARMONICS = 8


@dataclass(frozen=True)
class _Range:
    """Valid value range of an image and how results are stored back."""

    lo: float
    hi: float
    clip: bool
    dtype: np.dtype

    @property
    def span(self) -> float:
        return self.hi - self.lo

    @property
    def integer(self) -> bool:
        return np.issubdtype(self.dtype, np.integer)

    @property
    def levels(self) -> int | None:
        """Number of storable grey levels, ``None`` for floats."""
        return int(self.span) + 1 if self.integer else None


def _prepare(image: np.ndarray) -> tuple[np.ndarray, _Range]:
    """Validate ``image`` and return it as float64 with its valid range."""
    if not isinstance(image, np.ndarray):
        raise InvalidTypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype.type not in _SUPPORTED:
        raise InvalidTypeError(f"image dtype must be one of uint8, uint16, int16, float32, float64, got {image.dtype}")
    if image.ndim != 2:
        raise InvalidInputError(
            f"image must be 2-D (H, W) grayscale, got shape {image.shape}; convert colour images to gray first"
        )
    if min(image.shape) < 2:
        raise InvalidInputError(f"image must be at least 2x2 px, got shape {image.shape}")
    x = image.astype(np.float64)
    kind = image.dtype.type
    if kind is np.uint8:
        rng = _Range(0.0, 255.0, True, image.dtype)
    elif kind is np.uint16:
        rng = _Range(0.0, 4095.0 if x.max() <= 4095 else 65535.0, True, image.dtype)
    elif kind is np.int16:
        if x.min() >= 0 and x.max() <= 4095:
            rng = _Range(0.0, 4095.0, True, image.dtype)
        else:
            rng = _Range(-32768.0, 32767.0, True, image.dtype)
    else:
        if not np.isfinite(x).all():
            raise InvalidInputError("image contains NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0.0 and hi <= 1.0:
            rng = _Range(0.0, 1.0, True, image.dtype)
        else:
            # No convention to rely on: use the image's own extent, never clip.
            rng = _Range(lo, hi if hi > lo else lo + 1.0, False, image.dtype)
    return x, rng


def _finish(y: np.ndarray, rng: _Range) -> np.ndarray:
    """Round (integer dtypes), clip to the valid range and cast back."""
    if rng.integer:
        y = np.rint(y)
    if rng.clip or rng.integer:
        y = np.clip(y, rng.lo, rng.hi)
    return y.astype(rng.dtype)


@dataclass(frozen=True)
class _Bounds:
    """Valid values of one parameter: a finite number in an interval, optionally an integer."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def holds(self, v: float) -> bool:
        if not math.isfinite(v) or (self.integer and not v.is_integer()):
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return self.high is None or (v < self.high or (not self.high_open and v == self.high))

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            return (
                f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            )
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        return kind


#: Valid values of every parameter of the changes, by name (each name means one
#: thing in every change that has it, so one table serves them all).
_VALID: dict[str, _Bounds] = {
    "sigma": _Bounds(0.0),
    "amount": _Bounds(0.0),
    "radius": _Bounds(0.0, low_open=True),
    "quality": _Bounds(1, 95, integer=True),
    "factor": _Bounds(1.0),
    "period": _Bounds(0.0, low_open=True),
    "amplitude": _Bounds(0.0, 1.0, high_open=True),
    "angle": _Bounds(),
    "gamma": _Bounds(0.0, low_open=True),
    "bits": _Bounds(1, 16, integer=True),
}


def _valid(name: str, value: object) -> float:
    """``value`` as a float (integral floats such as 30.0 pass for integers), checked against ``_VALID[name]``.

    Raises InvalidTypeError when it is not a real number, InvalidInputError
    when it is outside its bounds; both messages name the parameter and say
    what is valid.
    """
    bounds = _VALID[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be {bounds.describe()}, got {type(value).__name__}")
    v = float(value)
    if not bounds.holds(v):
        raise InvalidInputError(f"{name} must be {bounds.describe()}, got {value!r}")
    return v


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Turn ``rng`` (Generator, integer seed or None) into a numpy Generator.

    ``None`` gives fresh OS entropy (not reproducible); an integer seed or a
    Generator makes the result deterministic.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise InvalidInputError(f"rng seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise InvalidTypeError(f"rng must be a numpy Generator, an integer seed or None, got {type(rng).__name__}")


def blur(image: np.ndarray, sigma: float = DEFAULT_STRENGTH["blur"]) -> np.ndarray:
    """Detector blur: convolve with a Gaussian point-spread function.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    sigma : float, default 1.5
        Standard deviation of the Gaussian PSF in pixels, >= 0 (0 returns a copy).

    Returns
    -------
    numpy.ndarray
        Blurred image, same shape and dtype.

    Notes
    -----
    The modulation transfer function of a detector (scintillator light spread,
    pixel aperture) is close to Gaussian: ``MTF(f) = exp(-2 pi^2 sigma^2 f^2)``
    with ``f`` in cycles per pixel. At the default sigma = 1.5 px the MTF is
    0.64 at 0.1, 0.17 at 0.2 and 0.004 at 0.35 cycles/px: the look of a thick
    CsI/GOS screen or of an image upsampled from a lower-resolution source.
    Edges are handled by reflection, so no border artefact adds energy.
    """
    sigma = _valid("sigma", sigma)
    x, rng = _prepare(image)
    if sigma == 0.0:
        return image.copy()
    return _finish(ndimage.gaussian_filter(x, sigma, mode="reflect"), rng)


def noise(
    image: np.ndarray,
    sigma: float = DEFAULT_STRENGTH["noise"],
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Quantum (photon) noise of a lower dose, signal dependent as after log processing.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    sigma : float, default 6.0
        Noise standard deviation at mid-grey, in grey levels at 8-bit scale
        (``sigma / 255`` of the valid range at any bit depth), >= 0. Halving
        the dose multiplies it by sqrt(2).
    rng : numpy.random.Generator, int or None
        Random source; an integer seed or a Generator makes the result
        deterministic, None draws fresh entropy.

    Returns
    -------
    numpy.ndarray
        Noisy image, same shape and dtype.

    Notes
    -----
    A detector pixel behind a region of attenuation ``mu t`` counts
    ``N = N0 exp(-mu t)`` photons, Poisson distributed. Radiographs are
    displayed after a log transform, bright meaning more attenuation, so
    the displayed value ``u`` (0 = black, 1 = white) is linear in ``mu t``
    and ``N(u) = N_half * R**(0.5 - u)`` with ``R = NOISE_DYNAMIC_RANGE``
    (16: four stops between lung and spine). By error propagation the
    standard deviation of ``log N`` is ``1 / sqrt(N)``, so the noise in the
    display grows with brightness: ``s(u) = sigma * R**((u - 0.5) / 2)``, from
    ``sigma / 2`` at ``u = 0`` (black) to ``2 sigma`` at ``u = 1`` (white).
    It is drawn as Gaussian with that
    standard deviation (the Poisson distribution is close to Gaussian at the
    tens to hundreds of photons per pixel these levels mean) and is white,
    as quantum noise sampled by pixel-sized apertures is. ``sigma`` relates
    to the mid-grey count by ``N_half = (255 / (ln(R) sigma))**2``: 235
    photons per pixel at the default 6 grey levels.
    """
    sigma = _valid("sigma", sigma)
    gen = as_generator(rng)
    x, vr = _prepare(image)
    if sigma == 0.0:
        return image.copy()
    u = np.clip((x - vr.lo) / vr.span, 0.0, 1.0)
    local = (sigma / 255.0) * vr.span * NOISE_DYNAMIC_RANGE ** ((u - 0.5) / 2.0)
    return _finish(x + local * gen.standard_normal(x.shape), vr)


def sharpen(image: np.ndarray, amount: float = DEFAULT_STRENGTH["sharpen"], radius: float = 2.0) -> np.ndarray:
    """Edge enhancement by unsharp masking, as in vendors' image processing.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    amount : float, default 1.0
        Gain of the added detail layer, >= 0 (0 returns a copy). 1.0 doubles
        the contrast of detail finer than ``radius``.
    radius : float, default 2.0
        Standard deviation in pixels of the Gaussian that defines "detail", > 0.

    Returns
    -------
    numpy.ndarray
        Sharpened image, same shape and dtype (overshoot is clipped).

    Notes
    -----
    ``y = x + amount * (x - G_radius * x)``. Its transfer function is
    ``1 + amount * (1 - exp(-2 pi^2 radius^2 f^2))``: 1 at DC, rising to
    ``1 + amount`` above about ``0.3 / radius`` cycles/px. With radius 2 px the
    boost is half-way at 0.09 cycles/px and complete by 0.2, so the
    high-middle bands gain energy (by up to ``(1 + amount)^2`` = 4x at the
    defaults) while the lowest bands keep theirs. It is the single-scale
    cousin of the multi-frequency processing (MUSICA, UNIQUE, ...) applied
    by CR/DR consoles.
    """
    amount = _valid("amount", amount)
    radius = _valid("radius", radius)
    x, vr = _prepare(image)
    if amount == 0.0:
        return image.copy()
    detail = x - ndimage.gaussian_filter(x, radius, mode="reflect")
    return _finish(x + amount * detail, vr)


def jpeg(image: np.ndarray, quality: int = int(DEFAULT_STRENGTH["jpeg"])) -> np.ndarray:
    """Lossy JPEG re-compression with Pillow's (libjpeg's) baseline encoder.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    quality : int, default 30
        libjpeg quality, 1 (worst) .. 95 (Pillow advises against above 95,
        where quantisation is switched off in places).

    Returns
    -------
    numpy.ndarray
        Decoded image, same shape and dtype.

    Notes
    -----
    Baseline JPEG codes 8x8 pixel blocks: a DCT per block, then each
    coefficient is divided by a quality-scaled quantisation step and rounded.
    Fine detail is lost (high bands lose energy) and the block grid leaves
    steps every 8 px. Their signs vary from block to block, so in the linear
    power spectrum of a radiograph the peaks at multiples of 1/8 cycle/pixel
    on the axes are weak and image dependent (often lost under the anatomy's
    own axis energy); the step *magnitudes* are periodic, so the spectrum of
    the gradient magnitude averaged along rows or columns shows them 100-500x
    above its median (``tests/simulate/test_acquire.py`` measures this). Radial bands
    alone therefore see JPEG mainly as lost high-frequency energy. Baseline JPEG stores 8 bits per
    sample, so uint16, int16 and float images are mapped linearly from their
    valid range to 0..255, compressed, decoded and mapped back: the result
    is also quantised to 256 levels of that range, as happens when a 12-bit
    radiograph is exported as an 8-bit JPEG and read back.
    """
    quality = int(_valid("quality", quality))
    from PIL import (
        Image,  # Pillow is a runtime dependency; imported here to keep import light
    )

    x, vr = _prepare(image)
    if image.dtype == np.uint8:
        u8 = image
    else:
        u8 = np.clip(np.rint((x - vr.lo) / vr.span * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8, mode="L").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        out = np.asarray(decoded.convert("L"), dtype=np.float64)
    if image.dtype == np.uint8:
        return out.astype(np.uint8)
    return _finish(vr.lo + out / 255.0 * vr.span, vr)


def _resample_operator(n: int, factor: float) -> sparse.csr_matrix:
    """``n x n`` sparse matrix: area-average down by ``factor``, then bilinear back up."""
    m = int(round(n / factor))
    if m < 2:
        raise InvalidInputError(f"factor {factor:g} leaves fewer than 2 px of a {n}-px side")
    down = sparse.csr_matrix(resample_matrix(n, m))
    up = sparse.csr_matrix(resample_matrix(m, n))
    return (up @ down).tocsr()


def resample(image: np.ndarray, factor: float = DEFAULT_STRENGTH["resample"]) -> np.ndarray:
    """Down-sample by ``factor`` (area averaging) and up-sample back (bilinear).

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    factor : float, default 2.0
        Linear down-sampling factor, >= 1 (1 returns a copy). Each side goes
        to ``round(n / factor)`` px and back to ``n``.

    Returns
    -------
    numpy.ndarray
        Resampled image, same shape and dtype.

    Notes
    -----
    Models an image stored or transmitted at lower resolution and enlarged
    again for display or for the model (PACS thumbnails, "fast" CR
    reading at 200 um, downscaled archives). Area averaging is the box
    filter of the larger pixels, whose first zero is at the new Nyquist
    frequency ``0.5 / factor``; bilinear enlarging (the ``sinc^2`` response of
    a triangle) then suppresses, but does not quite remove, the spectral
    images above it. Net effect: energy above ``0.5 / factor`` cycles/px
    falls by one to two orders of magnitude. The same resampling matrices as
    the reference profile's ``resize`` are used (pixel-centre aligned,
    edge-clamped), applied separably.
    """
    factor = _valid("factor", factor)
    x, vr = _prepare(image)
    h, w = x.shape
    if round(h / factor) == h and round(w / factor) == w:
        return image.copy()
    rows = _resample_operator(h, factor)
    cols = _resample_operator(w, factor)
    y = rows @ np.asarray((cols @ x.T).T)
    return _finish(np.asarray(y), vr)


def grid(
    image: np.ndarray,
    period: float = DEFAULT_STRENGTH["grid"],
    amplitude: float = 0.2,
    angle: float = 0.0,
) -> np.ndarray:
    """Anti-scatter grid lines: a multiplicative strip pattern sampled by the pixels.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    period : float, default 3.3
        Period of the lead strips in pixels, > 0. Periods under 2 px are above
        the pixel Nyquist frequency and alias (as real stationary grids do).
    amplitude : float, default 0.2
        Relative signal loss under a lead strip that survives the console's
        processing, in [0, 1). 0 returns a copy.
    angle : float, default 0.0
        Direction, in degrees, across which the strips repeat: 0 gives
        vertical lines (a peak on the horizontal frequency axis), 90
        horizontal ones.

    Returns
    -------
    numpy.ndarray
        Image with grid lines, same shape and dtype; its mean is preserved.

    Notes
    -----
    A focused anti-scatter grid is a stack of lead strips (``GRID_DUTY`` =
    0.15 of the period) between X-ray-transparent spacers. Its transmission
    along ``s = x cos(angle) + y sin(angle)`` is ``t(s) = 1 - amplitude`` on a
    strip and 1 between; its Fourier series is
    ``1 - amplitude * (d + sum_k 2 sin(k pi d) / (k pi) cos(2 pi k s / period))``.
    Each pixel integrates ``t`` over its square aperture, which multiplies
    harmonic ``k`` by ``sinc(k fx) sinc(k fy)`` (``fx, fy`` its frequency per
    axis); sampling at pixel centres then aliases any harmonic above 0.5
    cycles/px back into the band, which is the moire seen in real images.
    The image (distance from black) is multiplied by ``t / mean(t)``: the
    strips shade the detector signal, and exposure control restores the
    mean. At the defaults the fundamental at 1/3.3 = 0.30 cycles/px modulates
    the signal by about 5 %, and the second harmonic (0.61 cycles/px) aliases
    to 0.39 cycles/px at about 2.6 %: narrow strips have strong harmonics.
    """
    period = _valid("period", period)
    amplitude = _valid("amplitude", amplitude)
    angle = _valid("angle", angle)
    x, vr = _prepare(image)
    if amplitude == 0.0:
        return image.copy()
    h, w = x.shape
    theta = math.radians(angle)
    fx, fy = math.cos(theta) / period, math.sin(theta) / period
    cols = np.arange(w, dtype=np.float64)
    rows = np.arange(h, dtype=np.float64)
    mean_t = 1.0 - amplitude * GRID_DUTY
    t = np.full((h, w), mean_t)
    for k in range(1, GRID_HARMONICS + 1):
        coef = -amplitude * 2.0 * math.sin(k * math.pi * GRID_DUTY) / (k * math.pi)
        coef *= float(np.sinc(k * fx) * np.sinc(k * fy))  # square pixel aperture
        ax, ay = 2.0 * math.pi * k * fx * cols, 2.0 * math.pi * k * fy * rows
        # cos(ax + ay) split into outer products: cheap, and exact for any angle.
        t += coef * (np.cos(ay)[:, None] * np.cos(ax)[None, :] - np.sin(ay)[:, None] * np.sin(ax)[None, :])
    return _finish(vr.lo + (x - vr.lo) * (t / mean_t), vr)


def gamma(image: np.ndarray, gamma: float = DEFAULT_STRENGTH["gamma"]) -> np.ndarray:
    """Change of the display look-up table: a power law on the normalised grey value.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    gamma : float, default 0.7
        Exponent, > 0. Below 1 brightens the mid-tones (lungs get lighter and
        lose contrast against the mediastinum), above 1 darkens them; 1
        returns a copy.

    Returns
    -------
    numpy.ndarray
        Re-mapped image, same shape and dtype.

    Notes
    -----
    ``y = lo + (hi - lo) * ((x - lo) / (hi - lo)) ** gamma`` over the valid
    range ``[lo, hi]``, which keeps black and white fixed. Sites and vendors
    differ in the tone curve (LUT, VOI window, "contrast" and "latitude"
    settings) that maps detector signal to grey values; a power law is the
    simplest such difference. It changes mean and standard deviation and,
    being a point operation, reshapes the spectrum only mildly: the local
    contrast of detail is scaled by the slope ``gamma * u**(gamma - 1)``.
    """
    g = _valid("gamma", gamma)
    x, vr = _prepare(image)
    if g == 1.0:
        return image.copy()
    u = np.clip((x - vr.lo) / vr.span, 0.0, 1.0)
    return _finish(vr.lo + vr.span * u**g, vr)


def _stored_bits(vr: _Range) -> int | None:
    """Bit depth of an integer range (8, 12 or 16), ``None`` for floats."""
    if vr.levels is None:
        return None
    return int(round(math.log2(vr.levels)))


def bit_depth(image: np.ndarray, bits: int = int(DEFAULT_STRENGTH["bit_depth"])) -> np.ndarray:
    """Reduce the number of grey levels to ``2**bits`` across the valid range.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    bits : int, default 5
        Bits kept, 1 .. 16. At or above the image's own depth (8 for uint8,
        12 or 16 for uint16) the image is returned unchanged.

    Returns
    -------
    numpy.ndarray
        Quantised image, same shape and dtype, on the original scale.

    Notes
    -----
    Keeps the ``bits`` most significant bits (floor of ``u * 2**bits``) and
    reconstructs each level at the middle of its interval, so the mean is
    kept (to half a grey level, from rounding integer output) and the error
    is uniform, of standard deviation ``step / sqrt(12)``
    (2.3 grey levels at 5 of 8 bits). On smooth gradients the error is a
    staircase (contouring) whose sharp steps add broadband, high-frequency
    energy. Models a low-bit export, an 8-bit conversion with a narrow
    window, or an old frame grabber. 5 bits (32 levels) is where
    contouring becomes plainly visible in the lungs; 6 or 7 bits are subtle.
    """
    bits = int(_valid("bits", bits))
    x, vr = _prepare(image)
    source = _stored_bits(vr)
    if source is not None and bits >= source:
        return image.copy()
    n = 2**bits
    if vr.levels is not None:
        step = vr.levels / n
        q = np.floor((x - vr.lo) / step)
        y = vr.lo + q * step + (step - 1.0) / 2.0
    else:
        u = np.clip((x - vr.lo) / vr.span, 0.0, 1.0)
        q = np.minimum(np.floor(u * n), n - 1)
        y = vr.lo + (q + 0.5) / n * vr.span
    return _finish(y, vr)


_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "blur": blur,
    "noise": noise,
    "sharpen": sharpen,
    "jpeg": jpeg,
    "resample": resample,
    "grid": grid,
    "gamma": gamma,
    "bit_depth": bit_depth,
}


def apply(
    image: np.ndarray,
    change: str,
    strength: float | None = None,
    *,
    rng: np.random.Generator | int | None = None,
    **options: float,
) -> np.ndarray:
    """Apply one acquisition change by name.

    Parameters
    ----------
    image : numpy.ndarray
        2-D grayscale image (uint8, uint16, int16, float32 or float64).
    change : str
        One of :data:`CHANGES`.
    strength : float, optional
        The change's first parameter (see :data:`DEFAULT_STRENGTH` for the
        meaning and default of each); None uses the default.
    rng : numpy.random.Generator, int or None
        Random source, used by ``"noise"`` only (the other changes are
        deterministic); a seed or a Generator makes the result reproducible.
    **options
        Further keyword parameters of the change's function, e.g.
        ``amplitude`` and ``angle`` for ``"grid"``, ``radius`` for ``"sharpen"``.

    Returns
    -------
    numpy.ndarray
        Changed image, same shape and dtype.

    Raises
    ------
    InvalidInputError
        Unknown ``change`` or option, or a strength outside its valid range.
    InvalidTypeError
        Unsupported image dtype, or a strength that is not a number.
    """
    if not isinstance(change, str) or change not in _FUNCTIONS:
        raise InvalidInputError(f"change must be one of {', '.join(CHANGES)}; got {change!r}")
    func = _FUNCTIONS[change]
    allowed = {"sharpen": {"radius"}, "grid": {"amplitude", "angle"}}.get(change, set())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InvalidInputError(
            f"options {unknown} do not apply to change {change!r}; allowed: {sorted(allowed) or 'none'}"
        )
    value = DEFAULT_STRENGTH[change] if strength is None else strength
    if change == "noise":
        return func(image, value, rng=rng)
    return func(image, value, **options)
