"""The Rust core against the numpy reference: every option, dtype, layout and shape, and every real image.

Tolerance: see ``conftest.RTOL`` / ``ATOL`` (1e-6 relative, 1e-10 absolute floor).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spectral_fast as sf
from spectral_fast.profiling import oracle as ref

DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def make_image(seed: int, dtype: type, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """A test image. Float pixels are multiples of 1/16 so that sums of them are
    exact in both implementations: cancellation on near-constant float images
    would otherwise compare rounding noise, not the maths."""
    rng = np.random.default_rng(seed)
    if dtype in (np.float32, np.float64):
        if kind == "smooth":
            yy, xx = np.meshgrid(*(np.arange(n) for n in shape[:2]), indexing="ij")
            base = 1000.0 * np.cos(yy / 5.0) * np.sin(xx / 7.0)
            x = np.round(base * 16)[..., None] if len(shape) == 3 else np.round(base * 16)
            x = np.broadcast_to(x, shape) + rng.integers(-8, 8, size=shape)
        else:
            x = rng.integers(-(2**20), 2**20, size=shape)
        return (x / 16.0).astype(dtype)
    info = np.iinfo(dtype)
    if kind == "binary":  # two levels only: the least variation an integer image can have
        x = rng.integers(0, 2, size=shape) + max(info.min, 0) + 3
    elif kind == "smooth":
        yy, xx = np.meshgrid(*(np.arange(n) for n in shape[:2]), indexing="ij")
        base = (np.cos(yy / 6.0) + np.sin(xx / 4.0) + 2.0) / 4.0
        if len(shape) == 3:
            base = base[..., None]
        x = np.broadcast_to(base * min(info.max, 30000), shape) + rng.integers(0, 3, size=shape)
    else:
        x = rng.integers(info.min, int(info.max) + 1, size=shape)
    return np.asarray(x).astype(dtype)


OPTIONS = st.fixed_dictionaries(
    {
        "size": st.one_of(st.none(), st.integers(8, 48)),
        "bands": st.one_of(st.integers(1, 40), st.sampled_from([64, 254])),
        "spacing": st.sampled_from(["log", "linear"]),
        "window": st.sampled_from(["hann", "none"]),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(DTYPES),
    height=st.integers(8, 41),
    width=st.integers(8, 41),
    channels=st.sampled_from([0, 3, 4]),
    kind=st.sampled_from(["noise", "smooth", "binary"]),
    options=OPTIONS,
)
def test_random_images_and_options_match_the_reference(
    assert_matches_reference, seed, dtype, height, width, channels, kind, options
):
    shape = (height, width, channels) if channels else (height, width)
    img = make_image(seed, dtype, shape, kind)
    df = sf.profile(img, threads=1, **options)
    assert_matches_reference(df, 0, img, **options)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", ["gray", "rgb", "rgba"])
def test_every_dtype_and_layout_over_a_grid_of_options(assert_matches_reference, dtype, layout):
    # Odd/even, square/tall/wide; every option value at least once per dtype and layout.
    shapes = [(16, 16), (17, 23), (40, 9), (12, 33)]
    option_grid = list(itertools.product([None, 8, 13, 64], [1, 7, 32], ["log", "linear"], ["hann", "none"]))
    extra = {"gray": (), "rgb": (3,), "rgba": (4,)}[layout]
    for k, (size, bands, spacing, window) in enumerate(option_grid):
        shape = shapes[k % len(shapes)] + extra
        img = make_image(k, dtype, shape, ["noise", "smooth", "binary"][k % 3])
        opts = dict(size=size, bands=bands, spacing=spacing, window=window)
        df = sf.profile(img, threads=1, **opts)
        assert_matches_reference(df, 0, img, **opts)


def test_a_mixed_list_matches_image_by_image(assert_matches_reference):
    images = [
        make_image(1, np.uint8, (30, 31), "noise"),
        make_image(2, np.float32, (8, 64, 3), "smooth"),
        make_image(3, np.int16, (25, 25), "binary"),
        make_image(4, np.uint16, (5, 40), "noise"),  # too small: an error row
        make_image(5, np.float64, (33, 18, 4), "noise"),
    ]
    for opts in ({}, {"size": 24, "bands": 12, "spacing": "linear"}):
        df = sf.profile(images, threads=2, **opts)
        assert df.height == len(images)
        for i, img in enumerate(images):
            assert_matches_reference(df, i, img, **opts)


def _real_pngs(cxr_real_dir: Path) -> list[Path]:
    paths = sorted((cxr_real_dir / "images").glob("*.png"))
    assert paths, f"no PNG in {cxr_real_dir / 'images'}"
    return paths


def _load_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def test_every_real_png_matches_the_reference(assert_matches_reference, cxr_real_dir):
    paths = _real_pngs(cxr_real_dir)
    # Batches keep memory low; the native grid (default options) for every image.
    for start in range(0, len(paths), 25):
        images = [_load_png(p) for p in paths[start : start + 25]]
        df = sf.profile(images, threads=2)
        for i, img in enumerate(images):
            assert_matches_reference(df, i, img)


@pytest.mark.parametrize(
    "options",
    [
        {"size": 256},
        {"size": 1536, "bands": 16, "spacing": "linear"},
        {"window": "none", "bands": 64},
    ],
    ids=["shrink", "enlarge-linear", "no-window"],
)
def test_real_pngs_match_under_other_options(assert_matches_reference, cxr_real_dir, options):
    paths = _real_pngs(cxr_real_dir)[::20]  # every 20th image: all sources, a few seconds
    images = [_load_png(p) for p in paths]
    df = sf.profile(images, threads=2, **options)
    for i, img in enumerate(images):
        assert_matches_reference(df, i, img, **options)


def test_real_dicoms_match_the_reference(assert_matches_reference, cxr_real_dir):
    pydicom = pytest.importorskip("pydicom", reason="pydicom is not installed (pip install .[dicom])")
    paths = sorted((cxr_real_dir / "images").glob("*.dcm"))
    if not paths:
        pytest.skip("no DICOM in the data folder")
    images = []
    for p in paths:
        try:
            images.append(np.ascontiguousarray(pydicom.dcmread(p).pixel_array))
        except Exception as exc:  # a missing pixel-data plugin, e.g. no JPEG decoder
            pytest.skip(f"pydicom cannot decode {p.name} here: {exc}")
    df = sf.profile(images, threads=2)
    for i, img in enumerate(images):
        assert_matches_reference(df, i, img)


def test_band_edges_are_bit_identical_to_the_reference():
    for h, w, bands, spacing in itertools.product(
        [8, 9, 100, 1024, 1537], [8, 64, 999], [1, 5, 32, 254], ["log", "linear"]
    ):
        np.testing.assert_array_equal(sf.band_edges(h, w, bands, spacing), ref.band_edges(h, w, bands, spacing))
