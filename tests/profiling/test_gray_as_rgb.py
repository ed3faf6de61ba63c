"""A gray image stored as RGB(A) (R = G = B, common in exports) is profiled as the gray image it is.

Luma of such a pixel is not integer-valued, which used to make ``hist_comb``
NaN with an "All-NaN slice" warning. The core and the numpy oracle both take
the one channel instead (``docs/method.md#spectral-profile``).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import spectral_fast as sf
from helpers import archive_samples as S
from spectral_fast.ingest.batch import process_batch
from spectral_fast.profiling import artefacts_oracle, oracle

GRAY = S.phantom(70, 90, seed=3)


def _as_colour(image: np.ndarray, channels: int) -> np.ndarray:
    stacked = np.repeat(image[..., None], channels, axis=2)
    if channels == 4:
        stacked[..., 3] = 255  # alpha is ignored
    return stacked


def _features(table: pl.DataFrame) -> pl.DataFrame:
    return table.select([c for c in table.columns if c.startswith("band_")] + ["low", "slope", "centroid", "entropy"]
                        + ["hf_ratio", "mean", "std", *artefacts_oracle.ALL_NAMES, "height", "width"])  # fmt: skip


def _no_runtime_warning(record: list) -> None:
    assert not [w for w in record if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in record]


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_core_profiles_equal_channels_as_gray(channels, dtype):
    gray = GRAY.astype(dtype) * (257 if dtype == np.uint16 else 1)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        expected = sf.profile(gray)
        got = sf.profile(_as_colour(gray, channels))
    _no_runtime_warning(record)
    feats = _features(expected)
    assert feats.null_count().sum_horizontal().item() == 0
    assert np.isfinite(feats.to_numpy().astype(float)).all()
    assert _features(got).equals(feats)  # bit-identical


def test_oracle_profiles_equal_channels_as_gray():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        gray_p = oracle.profile_image(GRAY)
        rgb_p = oracle.profile_image(_as_colour(GRAY, 3))
        gray_a = artefacts_oracle.artefact_features(GRAY)
        rgb_a = artefacts_oracle.artefact_features(_as_colour(GRAY, 3))
    _no_runtime_warning(record)
    assert np.isfinite(gray_a["hist_comb"])
    assert rgb_a == gray_a
    assert np.array_equal(rgb_p.bands, gray_p.bands)
    assert (rgb_p.mean, rgb_p.std, rgb_p.slope) == (gray_p.mean, gray_p.std, gray_p.slope)
    # The core agrees with the oracle on the colour-stored image too.
    core = sf.profile(_as_colour(GRAY, 3))
    assert core["hist_comb"][0] == pytest.approx(rgb_a["hist_comb"], rel=1e-6)


def test_real_colour_still_becomes_luma():
    colour = _as_colour(GRAY, 3)
    colour[..., 2] = 255 - colour[..., 2]
    x = oracle.to_float_gray(colour)
    c = colour.astype(np.float64)
    assert np.array_equal(x, oracle.LUMA[0] * c[..., 0] + oracle.LUMA[1] * c[..., 1] + oracle.LUMA[2] * c[..., 2])
    assert sf.profile(colour)["mean"][0] == pytest.approx(x.mean(), rel=1e-12)


def test_rgb_png_through_process_batch_gets_the_gray_row():
    batch = S.bytes_batch({"gray.png": S.png(GRAY), "rgb.png": S.png(_as_colour(GRAY, 3), mode="RGB")})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = pl.from_arrow(process_batch(batch))
    _no_runtime_warning(record)
    assert out["status"].to_list() == ["ok", "ok"]
    feats = _features(out)
    assert np.isfinite(feats.to_numpy().astype(float)).all()
    assert feats[0].equals(feats[1])
    assert _features(sf.profile(GRAY)).equals(feats[:1])
