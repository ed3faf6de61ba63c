"""Synthetic chest radiographs: seeded phantoms with or without a finding.

The demo, the tests and the planted-slice benchmark need many chest X-ray-like
images whose content and labels are known and whose acquisition is clean, so
that a change applied by :mod:`spectral_fast.simulate.acquire` is the only difference
between two groups. Real images cannot give that; these phantoms can.

A phantom is a PA chest film: dark air around a bright body, shoulders and
neck, two dark lungs with apices, costophrenic angles and domed diaphragms, a
bright mediastinum with trachea, aortic knob and heart, the thoracic spine,
posterior and anterior ribs, clavicles, pulmonary vessels fanning out from
the hila, a stomach bubble, soft-tissue texture, then detector blur and
quantum noise. Every patient differs (body and lung size, heart size,
diaphragm height, rib spacing, rotation, exposure and display window), so a
classifier must learn the finding itself, not a fixed template.

Findings, for a two-class task:

``"nodule"``
    a solid, slightly lobulated sphere of 7-26 mm (at 0.35 mm/px and 1024 px)
    somewhere inside a lung, contrast varying five-fold.
``"opacity"``
    an ill-defined, patchy consolidation of radius 0.10-0.26 of half the
    image side (51-133 px at 1024), confined to the lung it sits in,
    contrast varying 2.5-fold.

Everything is deterministic for a given ``seed``. The anatomy, noise and
finding draw from independent streams, so ``phantom(seed=s)`` and
``phantom(seed=s, finding="nodule")`` are the same patient and differ only
around the nodule.

Examples
--------
>>> from spectral_fast import synth
>>> img = synth.phantom(512, bits=12, finding="nodule", seed=3)
>>> img.dtype, img.shape, int(img.max()) <= 4095
(dtype('uint16'), (512, 512), True)
>>> p = synth.make_phantom(512, finding="opacity", seed=3)
>>> p.label, p.finding.kind
(1, 'opacity')
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.simulate import acquire, bones
from spectral_fast.simulate import anatomy as anat

F = np.float32

#: Findings a phantom can carry; ``None`` means a normal chest.
FINDINGS: tuple[str, ...] = ("nodule", "opacity")
#: Supported bit depths: 8 -> uint8 (0..255), 12 -> uint16 (0..4095), 16 -> uint16 (0..65535).
BITS: tuple[int, ...] = (8, 12, 16)
#: Smallest and largest side accepted (the phantoms are designed for 512-2048).
MIN_SIZE, MAX_SIZE = 128, 4096


@dataclass(frozen=True)
class Finding:
    """Where and what the finding is, in pixels of the returned image.

    Attributes
    ----------
    kind : str
        ``"nodule"`` or ``"opacity"``.
    center : tuple of float
        (row, col) of its centre.
    radius : float
        Radius in pixels (for an opacity, of its envelope; the patch is
        irregular inside it).
    contrast : float
        Peak added density, in units where the full abdomen is about 0.8
        and the lungs remove about 0.33: 0.05 is subtle, 0.2 obvious.
    """

    kind: str
    center: tuple[float, float]
    radius: float
    contrast: float

    def mask(self, shape: tuple[int, int], margin: float = 0.0) -> np.ndarray:
        """Boolean mask of the pixels within ``radius + margin`` of the centre."""
        rows = np.arange(shape[0])[:, None] - self.center[0]
        cols = np.arange(shape[1])[None, :] - self.center[1]
        return rows * rows + cols * cols <= (self.radius + margin) ** 2


@dataclass(frozen=True)
class Phantom:
    """One synthetic radiograph and how it was made."""

    image: np.ndarray
    seed: int
    bits: int
    finding: Finding | None
    anatomy: anat.Anatomy

    @property
    def label(self) -> int:
        """1 when the phantom carries a finding, else 0 (the two-class target)."""
        return int(self.finding is not None)


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, tuple) and len(size) == 2:
        dims = size
    elif isinstance(size, numbers.Integral) and not isinstance(size, bool):
        dims = (size, size)
    else:
        raise InvalidTypeError(f"size must be an integer or an (height, width) tuple, got {size!r}")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or not MIN_SIZE <= d <= MAX_SIZE:
            raise InvalidInputError(f"size must be between {MIN_SIZE} and {MAX_SIZE} px per side, got {size!r}")
    return int(dims[0]), int(dims[1])


def _check_args(bits: int, finding: str | None, seed: int) -> None:
    if bits not in BITS or isinstance(bits, bool):
        raise InvalidInputError(f"bits must be one of {BITS}, got {bits!r}")
    if finding is not None and finding not in FINDINGS:
        raise InvalidInputError(f"finding must be None or one of {FINDINGS}, got {finding!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")


def _texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Anatomical background with a power spectrum ~ 1/f^3 (high-passed), unit standard deviation.

    Breast and chest backgrounds measure a power-law exponent near 3; this
    fills the smooth shapes with the overlapping-tissue clutter a real film has.
    """
    h, w = shape
    white = rng.standard_normal(shape, dtype=F)
    fy = np.fft.fftfreq(h).astype(F)[:, None]
    fx = np.fft.rfftfreq(w).astype(F)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    f[0, 0] = 1.0
    # Power law down to about 6 cycles per image; the coarsest scales are the
    # organs themselves, so the texture is high-passed below that.
    f0 = F(6.0 / min(h, w))
    shaping = np.maximum(f, f0) ** F(-1.5) * (1.0 - np.exp(-((f / f0) ** 2)))
    spec = sfft.rfft2(white, workers=1) * shaping
    spec[0, 0] = 0.0
    tex = sfft.irfft2(spec, s=shape, workers=1).astype(F)
    return tex / F(tex.std() + 1e-12)


def _lung_field(X: np.ndarray, Y: np.ndarray, a: anat.Anatomy) -> np.ndarray:
    """Air thickness of both lungs after the heart displaces it (0..1)."""
    lungs = anat.lung(X, Y, a, -1) + anat.lung(X, Y, a, 1)
    displaced = np.clip(2.4 * anat.heart(X, Y, a), 0.0, 1.0)
    return lungs * (1.0 - displaced)


def _density(frame: anat.Frame, a: anat.Anatomy, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Total density of the patient without finding, and the lung field (0..1)."""
    X, Y = frame.X, frame.Y
    soft = anat.body(X, Y, a)
    lung = _lung_field(X, Y, a)
    dens = soft - F(a.lung_air) * lung
    dens -= F(0.07) * anat.trachea(X, Y, a)
    if a.gastric_bubble:
        dens -= F(0.18) * anat.gastric_bubble(X, Y, a)
    vessel = np.zeros_like(dens)
    bones.vessels(frame, a, vessel, rng)
    # Vessels are only seen against lung air; in the mediastinum they are soft tissue among soft tissue.
    dens += vessel * np.clip(3.0 * lung, 0.0, 1.0)
    bone = np.zeros_like(dens)
    bones.spine(frame, a, dens)  # seen through the mediastinum at full contrast
    bones.ribs(frame, a, bone, rng)
    bones.clavicles(frame, a, bone)
    # Bone stands out against lung air; over the mediastinum and abdomen the
    # console's dynamic-range compression flattens it to a faint outline.
    dens += bone * (0.3 + 0.7 * np.clip(3.0 * lung, 0.0, 1.0))
    inside = np.clip(soft * 4.0, 0.0, 1.0)
    dens += F(a.texture_amplitude) * _texture(dens.shape, rng) * inside * (1.0 + 1.5 * lung)
    return dens, lung


def _place(a: anat.Anatomy, rng: np.random.Generator, min_air: float, low_bias: bool) -> tuple[float, float]:
    """A point well inside a lung (air thickness above ``min_air``), in model units."""
    base = max(a.dome_y_right, a.dome_y_left) + a.costophrenic_drop
    for _ in range(1000):
        x = rng.uniform(-a.lung_lateral, a.lung_lateral)
        y = rng.uniform(a.apex_y, base)
        if low_bias and rng.random() < 0.5:
            y = rng.uniform((a.apex_y + base) / 2.0, base)  # consolidations favour the lower zones
        if float(_lung_field(np.array([x]), np.array([y]), a)[0]) > min_air:
            return x, y
    raise RuntimeError("could not place a finding inside the lungs")  # the anatomy ranges make this unreachable


def _finding_size(kind: str, rng: np.random.Generator) -> tuple[float, float]:
    """Radius (model units) and peak contrast of a finding: the first draws of the finding's stream."""
    if kind == "nodule":
        return rng.uniform(0.02, 0.075), rng.uniform(0.06, 0.20)
    return rng.uniform(0.10, 0.26), rng.uniform(0.08, 0.20)


def _streams(seed: int) -> list[np.random.Generator]:
    """Independent random streams of one phantom: anatomy, structures, finding, noise."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4)]


def finding_contrast(finding: str, seed: int) -> float:
    """Contrast of the finding ``make_phantom(finding=finding, seed=seed)`` carries, without making the image.

    It is drawn from its own stream before anything else about the finding,
    so a caller that wants only conspicuous (or only subtle) findings can
    pick seeds at the cost of two random numbers instead of a phantom each.
    """
    _check_args(8, finding, seed)
    if finding is None:
        raise InvalidInputError(f"finding must be one of {FINDINGS} to have a contrast, got None")
    return float(_finding_size(finding, _streams(seed)[2])[1])


def _add_finding(
    kind: str, frame: anat.Frame, a: anat.Anatomy, dens: np.ndarray, lung: np.ndarray, rng: np.random.Generator
) -> Finding:
    """Draw a finding, add its density into ``dens`` and describe it."""
    radius, contrast = _finding_size(kind, rng)
    cx, cy = _place(a, rng, 0.45, low_bias=False) if kind == "nodule" else _place(a, rng, 0.5, low_bias=True)
    box = frame.box(np.array([cx]), np.array([cy]), radius * 1.2)
    assert box is not None  # the centre is inside the lung, hence inside the image
    X, Y = frame.X[box] - F(cx), frame.Y[box] - F(cy)
    d = np.sqrt(X * X + Y * Y)
    theta = np.arctan2(Y, X)
    if kind == "nodule":
        # Slight lobulation: solid nodules are rarely perfect spheres.
        p1, p2 = rng.uniform(0, 2 * math.pi, 2)
        rr = radius * (1.0 + 0.10 * np.sin(3 * theta + p1) + 0.05 * np.sin(5 * theta + p2))
        shape = np.sqrt(np.clip(1.0 - (d / rr) ** 2, 0.0, None))
    else:
        # Patchy, ill-defined consolidation: a soft envelope broken up by a few
        # random low-frequency waves, then confined to the lung it fills.
        waves = np.zeros_like(d)
        for _ in range(6):
            k = rng.uniform(2.0, 5.0) * math.pi / radius
            phi, direction = rng.uniform(0, 2 * math.pi, 2)
            waves += np.cos(k * (X * math.cos(direction) + Y * math.sin(direction)) + phi)
        envelope = np.exp(-1.8 * (d / radius) ** 2) * (0.75 + 0.25 * waves / 3.0)
        shape = np.clip((envelope - 0.15) / 0.45, 0.0, 1.0) * np.clip(2.5 * lung[box], 0.0, 1.0)
    dens[box] += F(contrast) * shape.astype(F)
    row, col = frame.to_pixel(cx, cy)
    return Finding(kind, (float(row), float(col)), float(radius * frame.unit), float(contrast))


def _display(dens: np.ndarray, a: anat.Anatomy) -> np.ndarray:
    """Window and S-shaped tone curve, as a console maps log exposure to grey (0..1)."""
    v = np.clip((dens - F(a.window_lo)) / F(a.window_hi - a.window_lo), 0.0, 1.0)
    k = F(a.tone)
    return (0.5 + 0.5 * np.tanh(k * (2.0 * v - 1.0)) / np.tanh(k)).astype(F)


def make_phantom(
    size: int | tuple[int, int] = 1024,
    *,
    bits: int = 8,
    finding: str | None = None,
    seed: int = 0,
) -> Phantom:
    """Make one synthetic chest radiograph with its metadata.

    Parameters
    ----------
    size : int or (int, int), default 1024
        Side in pixels (square image) or (height, width); 128..4096, meant
        for 512..2048. Anatomy scales with the shorter side.
    bits : {8, 12, 16}, default 8
        Stored bit depth: uint8 0..255, uint16 0..4095 or uint16 0..65535.
    finding : {None, "nodule", "opacity"}
        Finding to add (None: a normal chest).
    seed : int, default 0
        Non-negative seed; the same seed, size and bits give the same array.

    Returns
    -------
    Phantom
        ``image`` (H, W) plus ``finding`` (location, radius, contrast),
        ``anatomy`` (the drawn patient and exposure), ``seed`` and ``bits``.

    Notes
    -----
    Densities are composed in the log-exposure domain (bright = more
    attenuation), windowed, passed through an S-shaped tone curve, blurred
    by a Gaussian detector MTF of 0.5-0.9 px and given signal-dependent
    quantum noise of 1-3 grey levels (8-bit scale) with
    :func:`spectral_fast.simulate.acquire.noise`, then quantised to ``bits``.
    """
    h, w = _check_size(size)
    _check_args(bits, finding, seed)
    streams = _streams(seed)
    a = anat.draw_anatomy(streams[0])
    frame = anat.Frame(h, w, a)
    dens, lung = _density(frame, a, streams[1])
    found = _add_finding(finding, frame, a, dens, lung, streams[2]) if finding else None
    img = _display(dens, a)
    img = acquire.blur(img, a.detector_sigma)
    img = acquire.noise(img, a.noise_sigma, streams[3])
    top = 2**bits - 1
    out = np.rint(np.clip(img, 0.0, 1.0) * F(top)).astype(np.uint8 if bits == 8 else np.uint16)
    return Phantom(out, int(seed), bits, found, a)


def phantom(
    size: int | tuple[int, int] = 1024,
    *,
    bits: int = 8,
    finding: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The image of :func:`make_phantom` alone (same parameters)."""
    return make_phantom(size, bits=bits, finding=finding, seed=seed).image


def phantoms(
    n: int,
    *,
    size: int | tuple[int, int] = 1024,
    bits: int = 8,
    finding: str = "nodule",
    prevalence: float = 0.5,
    seed: int = 0,
) -> Iterator[Phantom]:
    """Yield ``n`` phantoms for a two-class task, lazily (one image in memory at a time).

    Parameters
    ----------
    n : int
        Number of phantoms, >= 0.
    size, bits
        As for :func:`make_phantom`.
    finding : {"nodule", "opacity"}, default "nodule"
        The finding the positive class carries.
    prevalence : float, default 0.5
        Share of positives; exactly ``round(n * prevalence)`` of the ``n``
        carry the finding, in random order.
    seed : int, default 0
        Seed of the whole set; each phantom records its own seed, so
        ``make_phantom(p.image.shape, bits=p.bits, finding=..., seed=p.seed)``
        rebuilds it.

    Yields
    ------
    Phantom
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise InvalidInputError(f"n must be a non-negative integer, got {n!r}")
    if finding not in FINDINGS:
        raise InvalidInputError(f"finding must be one of {FINDINGS}, got {finding!r}")
    if isinstance(prevalence, bool) or not isinstance(prevalence, numbers.Real) or not 0.0 <= prevalence <= 1.0:
        raise InvalidInputError(f"prevalence must be a number in [0, 1], got {prevalence!r}")
    _check_size(size)
    _check_args(bits, None, seed)
    rng = np.random.default_rng(int(seed))
    n_pos = int(round(n * prevalence))
    positive = rng.permutation(n) < n_pos
    seeds = rng.integers(0, 2**63 - 1, size=n)
    for i in range(n):
        yield make_phantom(size, bits=bits, finding=finding if positive[i] else None, seed=int(seeds[i]))
