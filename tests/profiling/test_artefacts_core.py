"""The Rust core's artefact columns against ``spectral_fast.profiling.artefacts_oracle`` (the numpy oracle).

Tolerance: 1e-9 relative with a 1e-9 absolute floor for every feature (both
compute in float64; measured differences are ~1e-13). ``peak_freq`` names a
coefficient, so it must be the same coefficient: equal to 1e-12.
The full 200-image check is ``python evaluation/artefact_parity.py`` (~1 min);
here every 10th real PNG and both DICOMs keep the file to a few seconds.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spectral_fast as sf
from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest.batch import process_batch
from spectral_fast.ingest.local import profile_archive
from spectral_fast.profiling import artefacts_oracle as art
from spectral_fast.profiling import oracle as ref

RTOL = ATOL = 1e-9
DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)


def assert_artefacts_match(df, i: int, image: np.ndarray, names=art.ALL_NAMES) -> None:
    """Row ``i`` of a profile frame carries the reference's artefact features (or its error).

    The core may also give an error row where the profile itself is undefined
    (``reference.profile_image`` rejects the image with the same message).
    """
    try:
        want = art.artefact_features(image)
    except InvalidInputError as exc:
        assert df["status"][i] == "error" and df["error"][i] == str(exc)
        assert all(df[name][i] is None for name in art.ALL_NAMES)
        return
    if df["status"][i] == "error":
        with pytest.raises(ref.ImageError, match=re.escape(df["error"][i])):
            ref.profile_image(image)
        return
    for name in names:
        got, want_v = df[name][i], want[name]
        if math.isnan(want_v):
            assert got is not None and math.isnan(got), f"{name}: reference NaN, core {got}"
            continue
        tol = 1e-12 if name == "peak_freq" else ATOL + RTOL * abs(want_v)
        assert abs(got - want_v) <= tol, f"{name}: core {got} vs reference {want_v} ({image.shape} {image.dtype})"


def make_image(rng: np.random.Generator, dtype, shape, kind: str) -> np.ndarray:
    """Noise, a smooth gradient, 8x8 blocks, grid lines or a gamma-combed histogram.

    Every kind carries pixel noise: a spectrum with exact zeros (noise-free
    blocks or stripes) has ring medians at rounding level, where both
    implementations compare rounding noise rather than the maths.
    Floats are multiples of 1/16 (exact sums in both implementations) except
    for ``kind="fraction"``, which is not integer-valued (hist_comb NaN).
    """
    h, w = shape[:2]
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    jitter = rng.integers(0, 3, (h, w))
    if kind == "noise":
        x = rng.integers(0, 200, size=(h, w)).astype(np.float64)
    elif kind == "smooth":
        x = np.round(100 + 60 * np.cos(yy / 6.0) * np.sin(xx / 9.0)) + jitter
    elif kind == "blocks":
        x = np.kron(rng.integers(0, 200, (h // 8 + 1, w // 8 + 1)), np.ones((8, 8)))[:h, :w] + jitter
    elif kind == "grid":
        x = rng.integers(90, 110, (h, w)) + 80.0 * (xx % 4 == 0)
    elif kind == "comb":
        # A gamma curve on 6-bit noise: every level of the output is isolated.
        x = np.round(255 * (rng.integers(0, 64, (h, w)) / 63.0) ** 0.5)
    else:  # fraction
        x = rng.normal(100, 20, (h, w)) / 7.0
    if len(shape) == 3:
        x = np.stack([x, np.roll(x, 1, 0), np.roll(x, 1, 1), np.full_like(x, 255)][: shape[2]], axis=-1)
    if np.issubdtype(dtype, np.integer):
        return np.clip(x, np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
    return (x if kind == "fraction" else np.round(x * 16) / 16).astype(dtype)


# The numpy oracle returns NaN for a feature that is undefined on a tiny or flat image (the
# defined value, which the core matches) and numpy warns while computing it.
@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(DTYPES),
    h=st.integers(8, 72),
    w=st.integers(8, 72),
    channels=st.sampled_from([None, 3, 4]),
    kind=st.sampled_from(["noise", "smooth", "blocks", "grid", "comb", "fraction"]),
    options=st.fixed_dictionaries(
        {"size": st.one_of(st.none(), st.integers(8, 40)), "window": st.sampled_from(["hann", "none"])}
    ),
)
def test_random_images_match_the_reference_under_any_options(seed, dtype, h, w, channels, kind, options):
    shape = (h, w) if channels is None else (h, w, channels)
    image = make_image(np.random.default_rng(seed), dtype, shape, kind)
    # The options change the profile's grid, never the artefact features.
    df = sf.profile(image, threads=1, **options)
    assert_artefacts_match(df, 0, image)


# The numpy oracle returns NaN for a feature that is undefined on a tiny or flat image (the
# defined value, which the core matches) and numpy warns while computing it.
@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_every_dtype_layout_and_parity_of_shape():
    rng = np.random.default_rng(7)
    images = [
        make_image(rng, dtype, (h, w) if c is None else (h, w, c), kind)
        for dtype in DTYPES
        for (h, w) in [(64, 64), (63, 65), (8, 40), (33, 8), (100, 47)]
        for c in (None, 3, 4)
        for kind in ("smooth", "blocks")
    ]
    df = sf.profile(images, threads=2)
    for i, image in enumerate(images):
        assert_artefacts_match(df, i, image)


def test_artefacts_flag_what_they_are_for():
    """Blocks raise jpeg_block, grid lines peak_max, a gamma comb hist_comb."""
    rng = np.random.default_rng(3)
    images = [make_image(rng, np.uint8, (128, 128), k) for k in ("smooth", "blocks", "grid", "comb")]
    df = sf.profile(images)
    smooth, blocks, grid, comb = (df.row(i, named=True) for i in range(4))
    assert blocks["jpeg_block"] > 10 * max(smooth["jpeg_block"], 0.1)
    # Lines every 4 px: harmonics at 0.25 and 0.5 cycles/pixel.
    assert grid["peak_max"] > smooth["peak_max"] + 2 and grid["peak_freq"] in (0.25, 0.5)
    assert comb["hist_comb"] > 5 * smooth["hist_comb"]


# The numpy oracle returns NaN for a feature that is undefined on a tiny or flat image (the
# defined value, which the core matches) and numpy warns while computing it.
@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_edge_cases_behave_like_the_reference():
    rng = np.random.default_rng(5)
    wide = (rng.integers(0, 40, (40, 40)) * 1_000_003).astype(np.float64)  # range > the dense histogram
    blocks = np.kron(np.arange(36).reshape(6, 6) % 2 * 100, np.ones((8, 8))).astype(np.uint8)  # rest == 0 -> 1e6
    images = [
        np.zeros((7, 30), np.uint8) + np.arange(30, dtype=np.uint8),  # too small
        np.full((20, 20), 9.0),  # no variation
        np.where(np.eye(16) > 0, np.nan, 1.0),  # NaN
        make_image(rng, np.uint8, (8, 8), "noise"),  # no whole 8-px period: jpeg_block NaN
        make_image(rng, np.float64, (30, 31), "fraction"),  # not integer-valued: hist_comb NaN
        np.tile(np.array([0, 1, 2, 3, 4], np.uint16), (20, 4)),  # < 8 levels: hist_comb NaN
        wide,
        blocks,
        (rng.integers(0, 3, (50, 50)) * 20000).astype(np.uint16),  # sparse histogram within the dense range
    ]
    df = sf.profile(images)
    for i, image in enumerate(images):
        # Noise-free stripes and blocks have exactly sparse spectra: compare the pixel features only.
        assert_artefacts_match(df, i, image, names=("jpeg_block", "hist_comb") if i in (5, 7) else art.ALL_NAMES)
    assert df["status"].to_list()[:3] == ["error"] * 3
    assert math.isnan(df["jpeg_block"][3]) and math.isnan(df["hist_comb"][4]) and math.isnan(df["hist_comb"][5])
    assert df["jpeg_block"][7] > 100


def test_results_do_not_depend_on_threads_or_input_path():
    rng = np.random.default_rng(11)
    images = [make_image(rng, np.uint16, (50 + k, 60), "grid") for k in range(6)]
    cols = list(art.ALL_NAMES)
    one = sf.profile(images, threads=1).select(cols)
    assert sf.profile(images, threads=2).select(cols).equals(one)
    table = pa.table(
        {
            "pixels": [im.ravel() for im in images],
            "height": [im.shape[0] for im in images],
            "width": [im.shape[1] for im in images],
        }
    )
    assert sf.profile(table, threads=2).select(cols).equals(one)


def _real_pngs(root: Path) -> list[Path]:
    return sorted((root / "images").glob("*.png"))


def test_real_images_match_the_reference(cxr_real_dir):
    from PIL import Image

    paths = _real_pngs(cxr_real_dir)[::10]
    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(np.asarray(im))
    df = sf.profile(images, threads=2)
    for i, image in enumerate(images):
        assert_artefacts_match(df, i, image)


def test_artefacts_false_drops_their_columns_and_changes_nothing_else(cxr_real_dir):
    from PIL import Image

    images = []
    for p in _real_pngs(cxr_real_dir)[::25]:
        with Image.open(p) as im:
            images.append(np.asarray(im))
    images.append(np.full((4, 4), 7, np.uint8))  # an error row stays an error row
    table = pa.table(
        {
            "pixels": [im.ravel() for im in images],
            "height": [im.shape[0] for im in images],
            "width": [im.shape[1] for im in images],
        }
    )
    for source in (images, table):
        full = sf.profile(source, threads=2)
        lean = sf.profile(source, threads=2, artefacts=False)
        assert not set(art.ALL_NAMES) & set(lean.columns)
        assert lean.equals(full.drop(art.ALL_NAMES))
        assert lean["status"].to_list()[-1] == "error"
    with pytest.raises(sf.errors.InvalidTypeError, match="artefacts must be True or False, got int"):
        sf.profile(images[0], artefacts=1)


def test_real_dicoms_match_the_reference(cxr_real_dir):
    pydicom = pytest.importorskip("pydicom", reason="pydicom is not installed (pip install .[dicom])")
    paths = sorted((cxr_real_dir / "images").glob("*.dcm"))
    if not paths:
        pytest.skip("no DICOM in the data folder")
    images = [np.ascontiguousarray(pydicom.dcmread(p).pixel_array) for p in paths]
    df = sf.profile(images, threads=2)
    for i, image in enumerate(images):
        assert_artefacts_match(df, i, image)


def test_archive_rows_carry_the_same_artefacts_as_decoded_arrays(cxr_real_dir):
    """process_batch decodes in Rust; its artefact columns equal sf.profile on Pillow's pixels."""
    from PIL import Image

    paths = _real_pngs(cxr_real_dir)[5::25]
    batch = pa.record_batch(
        {"id": [p.name for p in paths], "bytes": pa.array([p.read_bytes() for p in paths], pa.binary())}
    )
    out = process_batch(batch, threads=2)
    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(np.asarray(im))
    want = sf.profile(images, threads=2)
    for name in art.ALL_NAMES:
        np.testing.assert_allclose(out.column(name).to_numpy(), want[name].to_numpy(), rtol=RTOL, atol=ATOL)


def test_resuming_a_file_without_the_artefact_columns_is_refused(tmp_path):
    src = tmp_path / "imgs"
    src.mkdir()
    rng = np.random.default_rng(2)
    from PIL import Image

    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(src / f"{k}.png")
    out = tmp_path / "p.parquet"
    profile_archive(src, out, threads=1, progress=False)
    old = pq.read_table(out).drop_columns(list(art.ALL_NAMES))
    pq.write_table(old, out)  # keeps the schema metadata: same version and options
    with pytest.raises(InvalidInputError, match="overwrite"):
        profile_archive(src, out, threads=1, resume=True, progress=False)
