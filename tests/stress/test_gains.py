"""Gain curves: band bumps, ratio smoothing, the random control's size."""

from __future__ import annotations

import numpy as np
import pytest

from spectral_fast import InvalidInputError
from spectral_fast.stress.gains import (
    MAX_LOG_GAIN,
    apply_gain,
    band_bump,
    curve_radii,
    octave_groups,
    pixel_change,
    random_log_gain,
    ratio_log_gain,
)


def test_band_bump_reaches_its_gain_at_the_centre_and_fades_to_one():
    r = curve_radii(128, 128)
    g = band_bump(r, 0.1, 4.0)
    assert g.max() == pytest.approx(4.0, rel=0.02)
    assert abs(g[0] - 1) < 1e-3 and abs(g[-1] - 1) < 0.05
    with pytest.raises(InvalidInputError):
        band_bump(r, 0.1, 0.0)


def test_octave_groups_cover_the_image_grid():
    c = octave_groups(256, 256)
    assert c[-1] == pytest.approx(0.5 / np.sqrt(2))
    assert c[0] >= 1 / 256 and np.allclose(c[1:] / c[:-1], 2.0)


def test_ratio_gain_is_half_the_log_power_ratio_and_clipped():
    flat = ratio_log_gain(np.full(8, 1.0))  # a 10x power ratio everywhere -> sqrt(10) amplitude
    assert np.allclose(flat, np.log(10) / 2)
    assert ratio_log_gain(np.full(8, 9.0)).max() == pytest.approx(MAX_LOG_GAIN)


def test_random_control_makes_the_same_pixel_change_with_another_shape():
    like = ratio_log_gain(np.linspace(0, -2, 20))
    rng = np.random.default_rng(0)
    ctrl = random_log_gain(like, rng)
    assert pixel_change(ctrl, np.ones(20)) == pytest.approx(pixel_change(like, np.ones(20)), rel=1e-6)
    assert abs(np.corrcoef(ctrl, like)[0, 1]) < 0.99
    assert np.all(random_log_gain(np.zeros(5), rng) == 0)
    w = np.linspace(1.0, 0.01, 20)
    weighted = random_log_gain(like, rng, w)
    assert np.sum(w * np.expm1(weighted) ** 2) == pytest.approx(np.sum(w * np.expm1(like) ** 2), rel=1e-6)
    assert np.abs(weighted).max() <= MAX_LOG_GAIN
    with pytest.raises(InvalidInputError, match="weights"):
        random_log_gain(like, rng, np.ones(3))


def test_pixel_change_is_parseval_for_a_band_constant_gain():
    # one band holding all the energy: the gain's change in the pixels is (g - 1)^2 of the image's energy
    assert pixel_change(np.array([np.log(10.0)]), np.array([1.0])) == pytest.approx(81.0)
    assert pixel_change(np.array([-np.log(10.0)]), np.array([1.0])) == pytest.approx(0.81)
    x = np.random.default_rng(2).standard_normal((64, 64))
    f = np.fft.fft2(x)
    r = np.hypot(*np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij"))
    g = np.where(r > 0.25, 0.3, 1.0)
    w = np.array([np.sum(np.abs(f[r <= 0.25]) ** 2), np.sum(np.abs(f[r > 0.25]) ** 2)]) / np.sum(np.abs(f) ** 2)
    changed = np.fft.ifft2(g * f).real
    assert np.sum((changed - x) ** 2) / np.sum(x**2) == pytest.approx(pixel_change(np.log([1.0, 0.3]), w), rel=1e-6)


def test_apply_gain_keeps_the_mean_and_unit_gain_keeps_the_image():
    x = np.random.default_rng(1).random((2, 32, 32)).astype(np.float32) * 100
    r = curve_radii(32, 32)
    assert np.allclose(apply_gain(x, r, np.ones_like(r)), x, atol=1e-3)
    y = apply_gain(x, r, band_bump(r, 0.3, 0.25))
    assert y.dtype == np.float32
    assert np.allclose(y.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-3)
    assert np.abs(np.diff(y, axis=2)).mean() < np.abs(np.diff(x, axis=2)).mean()
