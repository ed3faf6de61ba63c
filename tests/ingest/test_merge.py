"""Combining profile files: shards of one archive give the local run's table,
mismatched runs are refused by name, and clustering and reports run on the
union without any pixel data (the profile files hold none)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import archive_samples as S
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest.local import profile_archive
from spectral_fast.ingest.merge import combine_profiles, profile_files, run_description, scan_profiles
from spectral_fast.profiling.tables import METADATA_KEY

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not S.REAL_IMAGES.is_dir(), reason=f"real CXRs not found at {S.REAL_IMAGES}"),
]

#: How the archive is cut into shards: three disjoint runs over the same root, so ids match the full run.
SHARDS = {"nih": dict(include=["nih__*"]), "mhh": dict(include=["mhh__*"]), "rest": dict(exclude=["nih__*", "mhh__*"])}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The full local run over the real images, and the same images profiled in three shards."""
    d = tmp_path_factory.mktemp("merge")
    full = d / "full.parquet"
    profile_archive(S.REAL_IMAGES, full, threads=2)
    shard_dir = d / "shards"
    shard_dir.mkdir()
    for name, pattern in SHARDS.items():
        profile_archive(S.REAL_IMAGES, shard_dir / f"{name}.parquet", threads=2, **pattern)
    return full, shard_dir


def test_shards_combine_to_the_local_table(runs, tmp_path):
    full, shard_dir = runs
    local = pl.read_parquet(full)
    shards = [pl.read_parquet(f) for f in sorted(shard_dir.glob("*.parquet"))]
    assert all(0 < s.height < local.height for s in shards)
    assert sum(s.height for s in shards) == local.height == 200

    combined = combine_profiles(shard_dir, output=tmp_path / "all.parquet")
    assert combined.equals(local.sort("id"))
    # The written file is the local file's twin: same schema, metadata and rows.
    assert pq.read_schema(tmp_path / "all.parquet").equals(pq.read_schema(full), check_metadata=True)
    assert pl.read_parquet(tmp_path / "all.parquet").equals(local.sort("id"))


def test_unsorted_union_keeps_file_order(runs):
    _, shard_dir = runs
    files = profile_files(shard_dir)
    union = combine_profiles(files, sort=False)
    assert union["id"].to_list() == [i for f in files for i in pl.read_parquet(f)["id"].to_list()]


def test_inputs_files_folders_globs(runs):
    full, shard_dir = runs
    files = sorted(shard_dir.glob("*.parquet"))
    assert profile_files(shard_dir) == files
    assert profile_files(str(shard_dir / "*.parquet")) == files
    # The same file twice (by folder and by name) is read once.
    assert profile_files([shard_dir, files[0]]) == files
    with pytest.raises(InvalidInputError, match="does not exist"):
        profile_files(shard_dir / "missing.parquet")
    with pytest.raises(InvalidInputError, match="matches no file"):
        profile_files(str(shard_dir / "*.nothing"))
    assert run_description(files) == run_description([full])


def test_lazy_scan_reads_profile_columns_only(runs, tmp_path):
    full, _ = runs
    # A table that also carries encoded images: the union must not read them.
    table = pq.read_table(full)
    blob = pa.array([b"\x89PNG" + bytes(10_000)] * table.num_rows, pa.binary())
    pq.write_table(table.append_column("bytes_blob", blob), tmp_path / "with_pixels.parquet")
    lazy = scan_profiles(tmp_path / "with_pixels.parquet")
    assert isinstance(lazy, pl.LazyFrame)
    assert "bytes_blob" not in lazy.collect_schema().names()
    assert lazy.collect().equals(pl.read_parquet(full))


def test_files_from_before_the_acquisition_columns_combine_with_nulls_there(runs, tmp_path):
    _, shard_dir = runs
    old = tmp_path / "old"
    shutil.copytree(shard_dir, old)
    nih = pq.read_table(old / "nih.parquet")
    newer = [c for c in nih.column_names if c == "mode" or c.startswith("dicom_")]
    assert "dicom_manufacturer" in newer
    pq.write_table(nih.drop_columns(newer), old / "nih.parquet")  # as an earlier build wrote it
    combined = combine_profiles(old)
    assert combined.equals(combine_profiles(shard_dir).with_columns(
        [pl.when(pl.col("id").str.starts_with("nih__")).then(None).otherwise(pl.col(c)).alias(c) for c in newer]
    ))  # fmt: skip
    assert combined.filter(pl.col("id").str.starts_with("siim__"))["dicom_view"].to_list() == ["PA", "PA"]


def _with_metadata(src, dst, change):
    table = pq.read_table(src)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    change(meta)
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()}), dst)


def test_different_options_are_refused_by_name(runs, tmp_path):
    _, shard_dir = runs
    odd = tmp_path / "odd"
    shutil.copytree(shard_dir, odd)
    _with_metadata(odd / "mhh.parquet", odd / "mhh.parquet", lambda m: m["options"].update(window="none"))
    with pytest.raises(InvalidInputError, match=r"window='none' in .*mhh.parquet.* but window='hann' in .*nih.parquet"):
        combine_profiles(odd)


def test_other_version_missing_metadata_and_duplicates_are_refused(runs, tmp_path):
    full, shard_dir = runs
    _with_metadata(full, tmp_path / "old.parquet", lambda m: m.update(version="0.0.1"))
    with pytest.raises(InvalidInputError, match="different spectral_fast versions.*0.0.1"):
        combine_profiles([full, tmp_path / "old.parquet"])

    pq.write_table(pq.read_table(full).replace_schema_metadata(None), tmp_path / "bare.parquet")
    with pytest.raises(InvalidInputError, match="no spectral_fast run description"):
        combine_profiles([tmp_path / "bare.parquet"])

    (tmp_path / "dup").mkdir()
    shutil.copy(shard_dir / "nih.parquet", tmp_path / "dup" / "a.parquet")
    shutil.copy(shard_dir / "nih.parquet", tmp_path / "dup" / "b.parquet")
    with pytest.raises(InvalidInputError, match=r"id 'nih__.*' appears 2 times .* overlap"):
        combine_profiles(tmp_path / "dup")

    pq.write_table(pq.read_table(full).drop_columns(["band_03"]), tmp_path / "short.parquet")
    with pytest.raises(InvalidInputError, match="lacks the profile columns.*band_03"):
        scan_profiles(tmp_path / "short.parquet")


def test_clustering_and_report_on_the_union(runs):
    """The union feeds clustering and the report exactly like the local table does."""
    from spectral_fast.analysis.pipeline import Finding, analyze

    full, shard_dir = runs
    local = pl.read_parquet(full).sort("id")
    union = combine_profiles(shard_dir)
    ok_local = local.filter(pl.col("status") == "ok")
    ok_union = union.filter(pl.col("status") == "ok")
    a = SpectralClusters(random_state=0).fit(ok_local)
    b = SpectralClusters(random_state=0).fit(ok_union)
    assert a.n_clusters_ >= 2
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)

    # Labels of the real images (their metadata), and a deterministic score
    # that is wrong more often on the NIH images: a blind spot to find.
    meta = pl.read_csv(S.REAL / "metadata.csv").with_columns(pl.col("file").str.strip_prefix("images/").alias("id"))
    rng = np.random.default_rng(7)
    truth = (meta["task_label"] == "pneumonia").cast(pl.Int8)
    noise = rng.random(meta.height)
    score = np.where(meta["dataset"].to_numpy() == "nih-cxr14", noise, 0.2 + 0.6 * truth.to_numpy())
    preds = pl.DataFrame({"id": meta["id"], "pneumonia": truth, "p": score})
    findings = [Finding("pneumonia", score_col="p")]
    rep_local = analyze(local, preds, findings, seed=0, n_boot=50, n_perm=99)
    rep_union = analyze(union, preds, findings, seed=0, n_boot=50, n_perm=99)
    assert rep_union.slices.height >= 2
    assert rep_union.slices.equals(rep_local.slices)
    assert rep_union.assignments.equals(rep_local.assignments)
