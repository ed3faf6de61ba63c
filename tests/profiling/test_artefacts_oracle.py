"""Artefact features respond to the artefact they are named after, and not to the others."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.artefacts_oracle import ALL_NAMES, artefact_features, artefact_table, hist_comb, jpeg_block


@pytest.fixture(scope="module")
def smooth():
    """A 256 px CXR-like image: smooth anatomy plus mild noise, 8-bit."""
    rng = np.random.default_rng(0)
    field = ndimage.gaussian_filter(rng.normal(size=(256, 256)), 12)
    field = (field - field.min()) / (field.max() - field.min())
    x = 40 + 170 * field + rng.normal(0, 2.0, field.shape)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def jpeg(img, quality):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def test_names_and_finite(smooth):
    f = artefact_features(smooth)
    assert tuple(f) == ALL_NAMES
    assert all(np.isfinite(v) for v in f.values())


def test_jpeg_block_rises_with_compression_and_ignores_crops(smooth):
    clean = jpeg_block(smooth.astype(float))
    q30 = jpeg(smooth, 30)
    assert clean < 0.3
    assert jpeg_block(q30.astype(float)) > clean + 1.0
    # a crop by 3 px moves the block grid; the best phase still finds it
    assert jpeg_block(q30[3:, 5:].astype(float)) > clean + 1.0


def test_peak_max_finds_grid_lines(smooth):
    f0 = artefact_features(smooth)
    period = 3.3
    lines = smooth + 4.0 * np.sin(2 * np.pi * np.arange(256) / period)[None, :]
    f1 = artefact_features(np.clip(np.rint(lines), 0, 255).astype(np.uint8))
    assert f1["peak_max"] > f0["peak_max"] + 1.5
    assert f1["peak_freq"] == pytest.approx(1 / period, abs=0.01)
    assert f1["axis_high"] > f0["axis_high"] + 0.5  # vertical lines: energy on the horizontal axis


def test_hist_comb_sees_gamma_but_not_blur(smooth):
    base = hist_comb(smooth.astype(float))
    gamma = np.rint(255 * (smooth / 255.0) ** 0.7).astype(np.uint8)
    blurred = np.rint(ndimage.gaussian_filter(smooth.astype(float), 1.5)).astype(np.uint8)
    assert base < 3.0
    assert hist_comb(gamma.astype(float)) > 3 * base
    assert hist_comb(blurred.astype(float)) < 2 * base
    assert np.isnan(hist_comb(smooth / 255.0))  # not integer valued: not applicable


def test_bad_images_raise_and_tables_keep_going(smooth):
    with pytest.raises(InvalidInputError, match="at least 8"):
        artefact_features(np.zeros((4, 4), np.uint8))
    with pytest.raises(InvalidInputError, match="no variation"):
        artefact_features(np.full((16, 16), 7, np.uint8))
    table = artefact_table([smooth, np.full((16, 16), 7, np.uint8)], ids=["a", "b"])
    assert table["id"].to_list() == ["a", "b"]
    assert table["artefact_error"][0] is None and "no variation" in table["artefact_error"][1]
    assert table["jpeg_block"][1] is None
