"""The planted benchmark's sharpening check: edge overshoot sees unsharp-mask halos, on generated and real images."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spectral_fast.simulate import acquire

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "data" / "cxr-real"
sys.path.insert(0, str(ROOT / "evaluation"))

from edge_overshoot import edge_overshoot  # noqa: E402


def _soft_disc(size: int = 128) -> np.ndarray:
    """A bright disc with a blurred (monotone) rim on a dark ground, 8-bit."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    return np.rint(40 + 160 / (1 + np.exp((r - size / 4) / 0.5))).astype(np.uint8)


def test_a_monotone_edge_has_no_overshoot_and_a_sharpened_one_has():
    disc = _soft_disc()
    plain = edge_overshoot(disc)
    sharp = edge_overshoot(acquire.sharpen(disc))
    assert plain < -2  # the median relative overshoot is below 1 %
    assert sharp > -1.3  # above 5 % of the edge height


def test_wrong_shapes_are_refused_and_tiny_or_flat_images_give_nan():
    with pytest.raises(ValueError, match="2-D gray image"):
        edge_overshoot(np.zeros(64))
    with pytest.raises(ValueError, match="2-D gray image"):
        edge_overshoot(np.zeros((64, 64, 3)))
    assert np.isnan(edge_overshoot(_soft_disc()[:16]))  # too small to sample a profile across an edge
    assert np.isnan(edge_overshoot(np.full((64, 64), 7.0)))


@pytest.mark.real_data
@pytest.mark.skipif(not (REAL / "metadata.csv").exists(), reason="needs ../shared/data/cxr-real")
def test_on_real_chest_xrays_sharpening_raises_it_and_blur_lowers_it():
    import polars as pl
    from PIL import Image

    meta = pl.read_csv(REAL / "metadata.csv").filter(pl.col("dataset") == "nih-cxr14").head(6)
    for f in meta["file"]:
        x = np.asarray(Image.open(REAL / f).convert("L"))
        clean = edge_overshoot(x)
        assert edge_overshoot(acquire.sharpen(x)) > clean + 0.15, f
        assert edge_overshoot(acquire.blur(x)) < clean, f
