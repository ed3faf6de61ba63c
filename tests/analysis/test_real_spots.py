"""Blind spots on real radiographs (NIH + Hannover): direction, stability, description against the rest, metadata.

The classifier is simulated but its failure is a real acquisition one: it
misses 60 % of the Hannover (MHH) covid images and is wrong 5 % of the time
elsewhere. The images, their sizes and their spectra are real.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from spectral_fast.analysis.pipeline import Finding, analyze
from spectral_fast.cli import main
from spectral_fast.errors import InvalidInputError

# One real image has a label outside the task ("other"), so its profile has no prediction: the
# partial-match warning is expected here and says nothing about what these tests check.
pytestmark = pytest.mark.filterwarnings("ignore::spectral_fast.analysis.predictions.PartialMatchWarning")


@pytest.fixture(scope="module")
def real(cxr_real_dir, tmp_path_factory):
    """Profiles of the real images, predictions with MHH-only misses, and the metadata table."""
    from spectral_fast.ingest.local import profile_archive

    work = tmp_path_factory.mktemp("real_spots")
    pngs = sorted((cxr_real_dir / "images").glob("*.png"))
    profile_archive(pngs, work / "profiles.parquet", threads=2, progress=False)
    prof = pl.read_parquet(work / "profiles.parquet")
    meta = pl.read_csv(cxr_real_dir / "metadata.csv").with_columns(
        pl.col("file").str.replace("images/", "").alias("name")
    )
    meta = meta.filter(pl.col("task_label").is_in(["normal", "pneumonia", "covid"]))
    ids = {p.split("/")[-1]: p for p in prof["id"].to_list()}
    meta = meta.filter(pl.col("name").is_in(list(ids))).with_columns(pl.col("name").replace_strict(ids).alias("id"))
    rng = np.random.default_rng(0)
    y = (meta["task_label"] != "normal").to_numpy().astype(int)
    mhh = (meta["dataset"] == "mhh-hannover").to_numpy()
    error = np.where(mhh & (y == 1), rng.random(len(y)) < 0.6, rng.random(len(y)) < 0.05)
    preds = pl.DataFrame({"id": meta["id"], "y": y, "score": np.where(error, 1 - y, y) * 0.8 + 0.1})
    extra = pl.DataFrame({"image": meta["id"], "site": meta["dataset"], "view": meta["view"]})
    preds.write_csv(work / "preds.csv")
    extra.write_csv(work / "meta.csv")
    return work, prof, preds, extra, mhh & error


def _spot_masks(rep):
    cluster = rep.assignments["cluster"].to_numpy()
    return [
        (np.isin(cluster, [int(c) for c in r["clusters"].split("+")]), r) for r in rep.blind_spots.iter_rows(named=True)
    ]


def test_site_failure_is_a_miss_spot_described_by_its_acquisition(real):
    _, prof, preds, extra, target = real
    rep = analyze(prof, preds, [Finding("y", score_col="score")], seed=0, n_perm=199, n_boot=50, n_refits=5,
                  metadata=extra, metadata_cols=["site", "view"], metadata_id_col="image")  # fmt: skip
    order = {i: k for k, i in enumerate(preds["id"].to_list())}
    target = target[[order[i] for i in rep.assignments["id"].to_list()]]
    spots = _spot_masks(rep)
    assert spots, "the MHH misses must be found"
    union = np.zeros(len(target), bool)
    for mask, row in spots:
        union |= mask
        # only misses were simulated: no spot may call itself a false-alarm spot
        assert row["direction"] in ("misses", "both")
        assert 0.0 <= row["stability"] <= 1.0 and row["stable"] == (row["stability"] >= 0.5)
    assert (union & target).sum() / target.sum() >= 0.7
    mask, top = spots[0]
    assert top["direction"] == "misses" and top["label_pure"] == "label 1 only"
    # described against the rest: the site from the user's metadata, and the files' own size
    assert "site mhh-hannover" in top["metadata"] and "% of the rest" in top["metadata"]
    assert "short_side" in top["metadata"] and "close to the typical profile" not in top["description"]
    ev = rep.spot_evidence.filter((pl.col("rank") == 1) & (pl.col("variable") == "site"))
    assert ev["level"][0] == "mhh-hannover" and ev["spot"][0] == 1.0 and ev["p_adjusted"][0] < 1e-6
    assert set(rep.spot_evidence["source"]) == {"metadata", "profile"}


def test_cli_prints_both_p_values_and_writes_the_evidence(real, capsys):
    work, *_ = real
    out = work / "report"
    code = main([
        "report", str(work / "profiles.parquet"), "--predictions", str(work / "preds.csv"), "--id-col", "id",
        "--label-col", "y", "--score-col", "score", "-o", str(out), "--n-perm", "199", "--n-boot", "50",
        "--refits", "3", "--metadata", str(work / "meta.csv"), "--metadata-cols", "site,view",
        "--metadata-id-col", "image",
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "concentration permutation p = " in printed and "tree-scan permutation p = " in printed
    assert "stable" in printed
    spots = pl.read_csv(out / "blind_spots.csv")
    assert {"direction", "stability", "stable", "metadata", "label_pure", "expected_errors"} <= set(spots.columns)
    assert (out / "spot_evidence.csv").is_file()
    assert "stability" in (out / "report.html").read_text()
    assert "metadata blind spot #1: site = mhh-hannover among label-1 images" in printed
    assert pl.read_csv(out / "metadata_spots.csv")["variable"][0] == "site"


def test_metadata_scan_declares_the_failing_site_apart_from_the_clusters(real):
    """End to end on real images: the site's misses are a metadata blind spot, in the report folder (CLI: above)."""
    work, prof, preds, extra, target = real
    rep = analyze(prof, preds, [Finding("y", score_col="score")], seed=0, n_perm=199, n_boot=50, n_refits=2,
                  metadata=extra, metadata_cols=["site", "view"], metadata_id_col="image")  # fmt: skip
    spots = rep.metadata_spots
    top = spots.row(0, named=True)
    assert (top["variable"], top["value"], top["direction"]) == ("site", "mhh-hannover", "misses")
    assert top["description"].startswith("site = mhh-hannover among label-1 images: ")
    assert top["p_adjusted"] < 1e-6 and 0.0 <= top["stability"] <= 1.0
    order = {i: k for k, i in enumerate(preds["id"].to_list())}
    target = target[[order[i] for i in rep.assignments["id"].to_list()]]
    mask = rep.metadata_masks[0]
    assert (mask & target).sum() == target.sum()  # every MHH miss is in it
    # only misses were simulated; the clusters are untouched by the scan
    assert set(spots["direction"]) <= {"misses", "both"}
    assert "metadata_spots" not in rep.assignments.columns
    assert rep.summary["findings"]["y"]["metadata_spots"] == spots.height
    from spectral_fast.render.folders import write_report

    out = work / "report_meta"
    write_report(rep, out)
    saved = pl.read_csv(out / "metadata_spots.csv")
    assert saved["description"][0] == top["description"]
    assert "Metadata blind spots" in (out / "report.html").read_text()


def test_metadata_errors_are_clear(real):
    _, prof, preds, extra, _ = real
    f = [Finding("y", score_col="score")]
    with pytest.raises(InvalidInputError, match="metadata_cols"):
        analyze(prof, preds, f, metadata_cols=["site"], n_perm=19, n_refits=0)
    with pytest.raises(InvalidInputError, match="no id matches"):
        other = extra.with_columns(("x/" + pl.col("image")).alias("id"))
        analyze(prof, preds, f, metadata=other, metadata_cols=["site"], n_perm=19, n_refits=0)
    with pytest.raises(InvalidInputError, match="not found in the metadata"):
        analyze(prof, preds, f, metadata=extra, metadata_cols=["site"], n_perm=19, n_refits=0)
    with pytest.raises(InvalidInputError, match="unique"):
        doubled = pl.concat([extra, extra]).rename({"image": "id"})
        analyze(prof, preds, f, metadata=doubled, metadata_cols=["site"], n_perm=19, n_refits=0)
    with pytest.raises(InvalidInputError, match="n_refits"):
        analyze(prof, preds, f, n_refits=-1)
