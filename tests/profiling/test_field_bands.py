"""Band fractions re-binned onto cycles per field of view and fine cycles/px bands (profiling/field_bands.py)."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

import spectral_fast as sf
from spectral_fast.profiling import field_bands as fb
from spectral_fast.profiling import oracle as ref


def power_law_image(h: int, w: int, seed: int, beta: float = 2.6) -> np.ndarray:
    """A radiograph-like random image: power falling as ``f^-beta``, random phases."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.maximum(np.hypot(fy, fx), 1.0 / max(h, w))
    spectrum = f ** (-beta / 2) * np.exp(2j * np.pi * rng.random(f.shape))
    return np.fft.irfft2(spectrum, s=(h, w))


def exact_fractions(image: np.ndarray, edges_px: np.ndarray) -> np.ndarray:
    """Energy between ``edges_px`` (cycles/px) over the profile's total, straight from the windowed spectrum."""
    x = image - image.mean()
    x = x * (ref.hann(x.shape[0])[:, None] * ref.hann(x.shape[1])[None, :])
    power = np.abs(np.fft.rfft2(x)) ** 2
    r, weight = ref.radial_frequency(*x.shape)
    e = weight * power
    total = e[r <= 0.5].sum()
    out = np.array([e[(r >= lo) & (r < hi)].sum() for lo, hi in itertools.pairwise(edges_px)])
    if edges_px[-1] >= 0.5:
        out[-1] += e[r == 0.5].sum()
    return out / total


@pytest.mark.parametrize("h, w", [(512, 384), (300, 300), (1024, 1024)])
def test_rebinned_fractions_match_the_spectrum(h, w):
    image = power_law_image(h, w, seed=h + w)
    table = fb.with_field_bands(sf.profile(image, artefacts=False))
    m = min(h, w)
    field = 10.0 ** table.select(fb.FIELD_COLUMNS).to_numpy()[0] - 1e-12
    fine = 10.0 ** table.select(fb.FINE_COLUMNS).to_numpy()[0] - 1e-12
    want_field = exact_fractions(image, fb.FIELD_EDGES / m)
    want_fine = exact_fractions(image, fb.FINE_EDGES)
    # interpolation inside a profile band is the only approximation: a few % where bands hold many coefficients
    coarse = fb.FIELD_EDGES[:-1] < 16  # below 16 cycles a band holds a few rings of coefficients
    assert np.allclose(field[~coarse], want_field[~coarse], rtol=0.15)
    assert np.allclose(fine, want_fine, rtol=0.05)
    # the low bands are pooled correctly even where single bands are rough
    assert field[coarse].sum() == pytest.approx(want_field[coarse].sum(), rel=0.05)


def test_the_same_scene_at_two_matrix_sizes_has_the_same_field_bands():
    """A 1024-px image and its 2x area-downsampled copy: field bands agree, pixel-axis bands do not."""
    big = power_law_image(1024, 1024, seed=3)
    small = big.reshape(512, 2, 512, 2).mean(axis=(1, 3))
    table = fb.with_field_bands(sf.profile([big, small], artefacts=False))
    field = table.select(fb.FIELD_COLUMNS[8:]).to_numpy()  # above 8 cycles per field of view
    pixel = table.select(sorted(c for c in table.columns if c.startswith("band_"))[8:]).to_numpy()
    field_gap = np.abs(field[0] - field[1]).mean()
    pixel_gap = np.abs(pixel[0] - pixel[1]).mean()
    assert field_gap < 0.1  # log10 units: within 25 %
    assert pixel_gap > 3 * field_gap


def test_bands_above_a_small_images_nyquist_limit_are_not_applicable():
    table = fb.with_field_bands(sf.profile(power_law_image(128, 160, seed=1), artefacts=False))
    field = table.select(fb.FIELD_COLUMNS).to_numpy()[0]
    beyond = fb.FIELD_EDGES[1:] > 64  # Nyquist of the 128-px short side: 64 cycles per field of view
    assert np.isnan(field[beyond]).all() and np.isfinite(field[~beyond]).all()
    assert np.isfinite(table.select(fb.FINE_COLUMNS).to_numpy()).all()


def test_only_native_log_profiles_are_rebinned():
    table = sf.profile(power_law_image(64, 64, seed=2), artefacts=False)
    assert fb.FIELD_COLUMNS[0] in fb.with_field_bands(table).columns
    for options in ({"size": 256}, {"spacing": "linear"}):
        assert fb.with_field_bands(table, options).columns == table.columns
    no_size = table.drop("height")
    assert fb.with_field_bands(no_size).columns == no_size.columns
    # already re-binned: unchanged, not recomputed
    once = fb.with_field_bands(table)
    assert fb.with_field_bands(once).equals(once)


def test_rows_without_a_size_get_nan_not_a_crash():
    table = sf.profile([power_law_image(64, 64, seed=4)] * 2, artefacts=False)
    table = table.with_columns(pl.Series("height", [64, None], dtype=pl.Int64))
    out = fb.with_field_bands(table).select(fb.FIELD_COLUMNS + fb.FINE_COLUMNS).to_numpy()
    assert np.isfinite(out[0, :5]).all() and np.isnan(out[1]).all()
