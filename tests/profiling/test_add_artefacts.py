"""``add_artefacts`` (``report --artefacts``): the core's features from image files, as the oracle and a profile run."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from spectral_fast.ingest.local import profile_archive
from spectral_fast.profiling import tables
from spectral_fast.profiling.artefacts_oracle import FEATURE_NAMES

RTOL = ATOL = 1e-9  # the parity tolerance of tests/profiling/test_artefacts_core.py


def _ids(root: Path) -> list[str]:
    pngs = sorted(str(p.relative_to(root)) for p in (root / "images").glob("*.png"))
    return pngs[::20] + sorted(str(p.relative_to(root)) for p in (root / "images").glob("*.dcm"))


def test_real_images_equal_the_numpy_oracle_and_a_profile_run(cxr_real_dir, tmp_path):
    ids = _ids(cxr_real_dir)
    table = pl.DataFrame({"id": ids + ["images/missing.png"], "band_00": [1.0] * (len(ids) + 1)})
    got, failed = tables.add_artefacts(table, cxr_real_dir, threads=2)
    assert failed == 1 and got.columns == ["id", "band_00", *FEATURE_NAMES]
    assert all(got[c][-1] is None for c in FEATURE_NAMES)
    compared = 0
    for row, image_id in enumerate(ids):
        want = tables._oracle(cxr_real_dir / image_id)
        if want is None:  # Pillow cannot read DICOM; the core can
            assert image_id.endswith(".dcm") and got["jpeg_block"][row] is not None
            continue
        with Image.open(cxr_real_dir / image_id) as im:
            if im.mode != "L":  # colour: float luma in the core, 8-bit in Pillow (docs/method.md); profile run below
                continue
        compared += 1
        for c in FEATURE_NAMES:
            g, w = got[c][row], want[c]
            assert (math.isnan(g) and math.isnan(w)) or abs(g - w) <= ATOL + RTOL * abs(w), (image_id, c, g, w)
    assert compared >= 8
    # the same values a `spectral-fast profile` run stores (on its own native-grid profile)
    profile_archive([str(cxr_real_dir / i) for i in ids], tmp_path / "p.parquet", threads=2, progress=False)
    stored = pl.read_parquet(tmp_path / "p.parquet")
    stored = stored.with_columns(pl.col("id").str.split("/").list.last()).sort("id")
    mine = got.head(len(ids)).with_columns(pl.col("id").str.split("/").list.last()).sort("id")
    for c in FEATURE_NAMES:
        assert stored[c].to_list() == pytest.approx(mine[c].to_list(), rel=RTOL, abs=ATOL, nan_ok=True)


def test_a_table_with_the_features_is_left_alone_and_bad_input_is_named(tmp_path):
    table = pl.DataFrame({"id": ["a.png"], **{c: [0.5] for c in FEATURE_NAMES}})
    assert tables.add_artefacts(table, tmp_path) == (table, 0)
    with pytest.raises(tables.InvalidInputError, match="no id column 'path'"):
        tables.add_artefacts(pl.DataFrame({"id": ["a.png"]}), tmp_path, id_col="path")
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        tables.add_artefacts(pl.DataFrame({"id": ["a.png"]}), tmp_path / "nowhere")
