"""Analytic properties of the maths, checked on the reference (and on the core where
it applies), plus bitwise determinism of the core across thread counts."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import spectral_fast as sf
from spectral_fast.profiling import oracle as ref


def sinusoid(h: int, w: int, ky: int, kx: int) -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return np.cos(2 * np.pi * (ky * yy / h + kx * xx / w))


def shares(bands_log10: np.ndarray) -> np.ndarray:
    return 10.0 ** np.asarray(bands_log10) - ref.LOG_FLOOR


@pytest.mark.parametrize("h, w, ky, kx", [(64, 64, 5, 9), (63, 80, -7, 12), (48, 33, 10, 0), (50, 50, 0, 3)])
def test_a_pure_sinusoid_puts_its_energy_in_the_band_of_its_frequency(h, w, ky, kx):
    x = sinusoid(h, w, ky, kx)
    r0 = np.hypot(ky / h, kx / w)
    edges = ref.band_edges(h, w, 8, "linear")
    band = int(np.searchsorted(edges, r0, side="right")) - 1
    # Without a window the energy sits on the coefficient at (ky, kx) alone.
    p = ref.profile_image(x, bands=8, spacing="linear", window="none")
    assert shares(p.bands)[band] > 1 - 1e-9
    assert p.centroid == pytest.approx(r0, rel=1e-9)
    # The core agrees, and a Hann window keeps almost all energy in that band
    # when the frequency is away from the band's edges.
    df = sf.profile(x, bands=8, spacing="linear", window="none")
    assert shares(df.select(pl.col("^band_.*$")).row(0))[band] > 1 - 1e-9
    lo, hi = edges[band], edges[band + 1]
    if min(r0 - lo, hi - r0) > 2.0 / min(h, w):
        p = ref.profile_image(x, bands=8, spacing="linear", window="hann")
        assert shares(p.bands)[band] > 0.99


@pytest.mark.parametrize("h, w", [(16, 16), (17, 23), (24, 9), (31, 30)])
@pytest.mark.parametrize("window", ["hann", "none"])
def test_parseval_weighted_half_spectrum_power_equals_hw_times_energy(h, w, window):
    x = np.random.default_rng(h * w).normal(size=(h, w))
    x = x - x.mean()
    if window == "hann":
        x = x * (ref.hann(h)[:, None] * ref.hann(w)[None, :])
    power = np.abs(np.fft.rfft2(x)) ** 2
    _, weight = ref.radial_frequency(h, w)
    assert np.sum(weight * power) == pytest.approx(h * w * np.sum(x * x), rel=1e-12)


def test_band_energies_and_counts_cover_the_spectrum_once():
    # Every weighted coefficient of the half spectrum lands in exactly one slot
    # (low, a band, or the dropped corners), so the weighted counts sum to H * W.
    for h, w in [(16, 16), (17, 23), (40, 9)]:
        r, weight = ref.radial_frequency(h, w)
        idx = ref.band_index(r, ref.band_edges(h, w, 5, "log"))
        counts = np.bincount(idx.ravel(), weights=weight.ravel(), minlength=7)
        assert counts.sum() == h * w
        assert idx.min() >= 0 and idx.max() <= 6


@pytest.mark.parametrize("options", [{}, {"window": "none", "spacing": "linear"}, {"size": 24}])
def test_fractions_do_not_change_when_the_image_is_scaled_or_offset(options):
    x = np.random.default_rng(3).normal(100.0, 20.0, size=(33, 40))
    base = ref.profile_image(x, **options)
    for a, b in [(3.0, 0.0), (0.01, 0.0), (1.0, 5000.0), (-2.5, -40.0)]:
        p = ref.profile_image(a * x + b, **options)
        np.testing.assert_allclose(p.bands, base.bands, rtol=1e-9, atol=1e-9)
        assert p.centroid == pytest.approx(base.centroid, rel=1e-9)
        assert p.hf_ratio == pytest.approx(base.hf_ratio, rel=1e-9)
        assert p.entropy == pytest.approx(base.entropy, rel=1e-9)
        assert p.std == pytest.approx(abs(a) * base.std, rel=1e-9)
    # And so does the core.
    df = sf.profile([x, 3.0 * x + 7.0], **options)
    a, b = (df.select(pl.col("^band_.*$")).row(i) for i in range(2))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_results_are_bitwise_identical_for_any_thread_count():
    rng = np.random.default_rng(11)
    images = [rng.integers(0, 4096, size=(20 + 7 * k, 64 - 3 * k), dtype=np.uint16) for k in range(12)]
    images.insert(5, np.full((16, 16), 7, dtype=np.uint16))  # an error row in the middle
    images.append(rng.normal(size=(50, 50, 3)))
    frames = [sf.profile(images, threads=t) for t in (1, 2, 3)]
    for opts in ({"size": 32, "bands": 16}, {"window": "none", "spacing": "linear"}):
        frames += [sf.profile(images, threads=t, **opts) for t in (1, 2, 3)]
    for group in (frames[:3], frames[3:6], frames[6:]):
        first = group[0].to_numpy()
        for other in group[1:]:
            # Object arrays compare NaN != NaN, so compare floats bitwise and the rest as is.
            assert group[0].columns == other.columns
            for c in group[0].columns:
                a, b = group[0][c].to_numpy(), other[c].to_numpy()
                if a.dtype.kind == "f":
                    assert np.array_equal(a.view(np.int64), b.view(np.int64)), c
                else:
                    assert np.array_equal(a, b), c
        assert first.shape[0] == len(images)
