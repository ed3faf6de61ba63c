"""Archives without the artefact features (``artefacts=False``, ``--no-artefacts``):
the other columns are bit-identical on the real CXRs, the setting is recorded,
and resuming or merging across settings is refused by the option's name."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import archive_samples as S
from spectral_fast import _core
from spectral_fast.cli import main
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.ingest.batch import process_batch
from spectral_fast.ingest.journal import Journal
from spectral_fast.ingest.local import profile_archive, run_options
from spectral_fast.ingest.merge import combine_profiles
from spectral_fast.profiling.artefacts_oracle import ALL_NAMES as ARTEFACTS
from spectral_fast.profiling.tables import METADATA_KEY

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not S.REAL_IMAGES.is_dir(), reason=f"real CXRs not found at {S.REAL_IMAGES}"),
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The real images profiled with and without the artefact features."""
    d = tmp_path_factory.mktemp("artefacts")
    with_, without = d / "with.parquet", d / "without.parquet"
    profile_archive(S.REAL_IMAGES, with_, threads=2)
    profile_archive(S.REAL_IMAGES, without, threads=2, artefacts=False)
    return with_, without


def _bits(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Values as raw bits (NaN compares by its bits) and the null mask."""
    nulls = col.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(col.type):
        return col.fill_null(0.0).to_numpy().view(np.uint64), nulls
    return np.asarray(col.to_pylist(), dtype=object), nulls


def test_shared_columns_are_bit_identical_on_the_real_images(both):
    with_, without = (pq.read_table(p) for p in both)
    assert with_.num_rows == without.num_rows == 200
    assert (with_.column("status").to_pylist()).count("ok") == 200
    assert set(ARTEFACTS) <= set(with_.column_names)
    assert without.column_names == [c for c in with_.column_names if c not in ARTEFACTS]
    assert without.schema.equals(_core.archive_schema(32, artefacts=False))
    for name in without.column_names:
        (a, a_nulls), (b, b_nulls) = _bits(with_.column(name)), _bits(without.column(name))
        assert np.array_equal(a_nulls, b_nulls) and np.array_equal(a, b), name


def test_the_setting_is_recorded_and_resume_refuses_the_other(both, tmp_path, capsys):
    with_, without = both
    assert run_options(with_)["options"]["artefacts"] is True
    assert run_options(without)["options"]["artefacts"] is False
    out = tmp_path / "p.parquet"
    shutil.copy(without, out)
    with pytest.raises(InvalidInputError, match=r"different options \(artefacts False -> True\)"):
        profile_archive(S.REAL_IMAGES, out, resume=True, threads=2)
    # The CLI says the same, with exit code 2, and leaves the file alone.
    assert main(["profile", str(S.REAL_IMAGES), "-o", str(out), "--resume", "--quiet"]) == 2
    assert "different options (artefacts False -> True)" in capsys.readouterr().err
    assert pq.read_table(out).equals(pq.read_table(without))


def test_a_partial_journal_refuses_the_other_setting(tmp_path, monkeypatch):
    files = sorted(S.REAL_IMAGES.glob("nih__*.png"))[:6]
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{f}\n" for f in files))
    out = tmp_path / "p.parquet"
    add = Journal.add

    def interrupted(self, batch):
        add(self, batch)
        raise KeyboardInterrupt

    monkeypatch.setattr(Journal, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        profile_archive(listing, out, batch_size=2, threads=1, artefacts=False)
    monkeypatch.setattr(Journal, "add", add)
    assert not out.exists() and (tmp_path / "p.parquet.parts" / "run.json").exists()
    with pytest.raises(InvalidInputError, match=r"run\.json with different options \(artefacts False -> True\)"):
        profile_archive(listing, out, batch_size=2, threads=1, resume=True)
    summary = profile_archive(listing, out, batch_size=2, threads=1, resume=True, artefacts=False)
    assert (summary.skipped, summary.ok) == (2, 4)
    fresh = tmp_path / "fresh.parquet"
    profile_archive(listing, fresh, batch_size=2, threads=1, artefacts=False)
    assert pq.read_table(out).equals(pq.read_table(fresh))


def test_cli_no_artefacts_and_process_batch_tables(tmp_path):
    files = sorted(S.REAL_IMAGES.glob("mhh__*.png"))[:3]
    out = tmp_path / "cli.parquet"
    assert main(["profile", *map(str, files), "-o", str(out), "--no-artefacts", "--quiet", "--threads", "1"]) == 0
    table = pq.read_table(out)
    assert not set(ARTEFACTS) & set(table.column_names) and run_options(out)["options"]["artefacts"] is False
    batch = pa.table({"id": [f.name for f in files], "bytes": [f.read_bytes() for f in files]})
    got = process_batch(batch, artefacts=False, threads=1)
    assert got.schema.equals(_core.archive_schema(32, artefacts=False))
    assert got.drop_columns(["id"]).equals(table.drop_columns(["id"]).replace_schema_metadata(None))
    with pytest.raises(InvalidTypeError, match="artefacts must be True or False"):
        process_batch(batch, artefacts="no", threads=1)
    with pytest.raises(InvalidTypeError, match="artefacts must be True or False"):
        profile_archive(files[0], tmp_path / "x.parquet", artefacts=1)


def _rewrite_options(src, dst, change):
    table = pq.read_table(src)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    change(meta["options"])
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()}), dst)


def test_merge_refuses_mixed_settings_and_reads_files_older_than_the_option(both, tmp_path):
    with_, without = both
    with pytest.raises(
        InvalidInputError, match=r"artefacts=True in .*with.parquet.* but artefacts=False .*artefact feature columns"
    ):
        combine_profiles([with_, without])
    # Files written before the option existed have no 'artefacts' key: they were made with the features.
    old = tmp_path / "old.parquet"
    _rewrite_options(with_, old, lambda o: o.pop("artefacts"))
    assert "artefacts" not in run_options(old)["options"]
    merged = combine_profiles([old], output=tmp_path / "merged.parquet")
    assert merged.equals(pl.read_parquet(with_).sort("id"))
    with pytest.raises(InvalidInputError, match="artefacts=True .* but artefacts=False"):
        combine_profiles([old, without])
    # ... and resume as such: a --no-artefacts run is refused, a default run extends them.
    with pytest.raises(InvalidInputError, match=r"different options \(artefacts True -> False\)"):
        profile_archive(S.REAL_IMAGES, old, resume=True, threads=1, artefacts=False)
    assert profile_archive(S.REAL_IMAGES, old, resume=True, threads=1).skipped == 200
    no_artefacts = combine_profiles([without], output=tmp_path / "no_artefacts.parquet")
    assert no_artefacts.equals(pl.read_parquet(without).sort("id"))
    assert pq.read_schema(tmp_path / "no_artefacts.parquet").equals(pq.read_schema(without), check_metadata=True)
