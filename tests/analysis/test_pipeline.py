"""End-to-end blind-spot report: Python API, files, CLI, bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from helpers.report_cases import NASTY, make_case
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.analysis.pipeline import SLICE_COLUMNS, Finding, analyze
from spectral_fast.cli import main
from spectral_fast.errors import InvalidInputError, SpectralFastError
from spectral_fast.render.folders import write_report


@pytest.fixture(scope="module")
def case():
    prof, preds, slice_ = make_case()
    rep = analyze(prof, preds, [Finding("y", score_col="p"), Finding("y2", pred_col="hat2")], id_col="image",
                  n_clusters=6, seed=1, n_boot=100, n_perm=199)  # fmt: skip
    return rep, slice_


def test_tables_have_the_documented_columns(case):
    rep, _ = case
    assert rep.slices.columns == SLICE_COLUMNS
    assert rep.slices.height == 2 * 6
    assert set(rep.assignments.columns) >= {"id", "cluster", "distance", "error_y", "loss_y", "error_y2", "loss_y2"}
    assert rep.assignments.height == 160
    for title in ("y", "y2"):
        rows = rep.slices.filter(pl.col("finding") == title)
        assert rows["n"].sum() == 160
        assert rows["share"].sum() == pytest.approx(1.0)
        assert rows["errors"].sum() == rep.assignments[f"error_{title}"].sum()


def test_planted_slice_is_the_top_blind_spot(case):
    rep, slice_ = case
    top = rep.blind_spots.filter((pl.col("finding") == "y") & (pl.col("rank") == 1))
    assert top.height == 1
    clusters = [int(c) for c in top["clusters"][0].split("+")]
    chosen = np.isin(rep.assignments["cluster"].to_numpy(), clusters)
    assert (chosen & slice_).sum() / chosen.sum() >= 0.9
    assert (chosen & slice_).sum() / slice_.sum() >= 0.8
    assert "high-frequency" in top["description"][0] and "cluster" not in top["description"][0]
    s = rep.summary["findings"]["y"]
    assert s["perm_p_mutual_information"] < 0.01 and s["chi2_p"] < 0.01
    assert s["worst_share_20"] > 0.4  # the slice is 20 % of the data and holds ~55 % of the errors


def test_a_blind_spot_of_several_clusters_is_described_as_one_group():
    """One description for the union (not one per cluster, joined), the same words a cluster would get."""
    from spectral_fast.analysis.describe import ProfileFeatures, describe_clusters

    prof, _, slice_ = make_case(n=160)
    labels = np.where(slice_, np.arange(160) % 2, 2)  # the blurred slice split into clusters 0 and 1
    per_cluster = describe_clusters(prof, labels)
    group = ProfileFeatures(prof).describe(slice_)
    assert group["description"].count("less high-frequency energy") == 1 and "cluster" not in group["description"]
    # a group that is one cluster gets exactly that cluster's description
    assert ProfileFeatures(prof).describe(labels == 2)["description"] == per_cluster[2]["description"]
    assert group["band_z"][25] < -3 and abs(group["band_z"][5]) < 1
    # the report passes the features it already built; the texts are the table's
    assert describe_clusters(ProfileFeatures(prof), labels) == per_cluster


def test_predicted_labels_give_auroc_note(case):
    rep, _ = case
    rows = rep.slices.filter(pl.col("finding") == "y2")
    assert rows["auroc"].is_nan().all()
    assert (rows["auroc_note"] == "undefined: predicted labels, no scores").all()


def test_write_files_and_reload_model(case, tmp_path):
    rep, _ = case
    paths = write_report(rep, tmp_path / "out")
    for key in ("slices", "blind_spots", "assignments", "summary", "model", "model_arrays", "html"):
        assert paths[key].exists(), key
    summary = json.loads(paths["summary"].read_text())
    assert summary["k"] == 6 and summary["package_version"]
    assert {"chi2_p", "perm_p_mutual_information", "perm_p_max_lift", "worst_share_10", "worst_share_20"} <= set(
        summary["findings"]["y"]
    )
    csv = pl.read_csv(paths["slices"])
    assert set(csv["blind_spot"].unique().to_list()) <= {True, False}
    model = SpectralClusters.load(paths["model"])
    np.testing.assert_array_equal(model.predict(rep.table), rep.assignments["cluster"].to_numpy())


def test_html_is_offline_and_escaped(tmp_path):
    prof, preds, _ = make_case(tmp_path)
    rep = analyze(prof, preds, [Finding("y", score_col="p")], id_col="image", n_clusters=6, n_boot=50, n_perm=99)
    # make the nasty id an exemplar so it is printed
    rep.descriptions[0]["exemplars"] = [NASTY, "img/000.png", "missing/file.png"]
    page = write_report(rep, tmp_path / "out", image_root=tmp_path / "imgs")["html"].read_text()
    assert "site&lt;1&gt;/a&amp;b &quot;q&quot; &#x27;x&#x27;.png" in page
    assert "site<1>" not in page
    assert not re.search(r"(src|href)=[\"'](?!data:)", page), "every resource must be inline"
    assert "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') >= 5  # plots + thumbnails
    assert "(image not found)" in page
    assert "The model errs" in page and "more often on 1 group of images" in page  # the planted slice, in words


def test_error_rows_are_excluded_and_counted():
    prof, preds, _ = make_case()
    bad = prof.head(3).with_columns(
        pl.lit("error").alias("status"),
        pl.lit("decode failed").alias("error"),
        pl.lit(None, dtype=pl.Float64).alias("band_00"),
    )
    prof = pl.concat([prof.slice(3), bad.with_columns(id=pl.Series(["e1", "e2", "e3"]))])
    from spectral_fast.analysis.predictions import PartialMatchWarning

    with pytest.warns(PartialMatchWarning, match="3 of 160 predictions have no profile"):
        rep = analyze(prof, preds, [Finding("y", score_col="p")], id_col="image", n_clusters=4, n_boot=20, n_perm=19)
    assert rep.summary["excluded"]["error_rows"] == 3
    assert rep.summary["excluded"]["error_examples"] == ["decode failed"]


@pytest.mark.parametrize(
    "mutate, finding, match",
    [
        (lambda p: p.drop("p"), Finding("y", score_col="p"), r"\['p'\] not found"),
        (lambda p: p.with_columns(y=pl.lit(2)), Finding("y", score_col="p"), "labels must be 0 or 1"),
        (
            lambda p: p.with_columns(p=pl.lit(1.5)),
            Finding("y", score_col="p"),
            r"scores must be probabilities in \[0, 1\]",
        ),
        (lambda p: p.with_columns(p=pl.lit(float("nan"))), Finding("y", score_col="p"), "NaN"),
        (lambda p: p.with_columns(p=pl.lit(None, dtype=pl.Float64)), Finding("y", score_col="p"), "NaN"),
        (lambda p: p.with_columns(y=pl.lit("yes")), Finding("y", score_col="p"), "'y' must be numeric"),
    ],
)
def test_bad_predictions_give_clear_errors(mutate, finding, match):
    prof, preds, _ = make_case(n=40)
    with pytest.raises(SpectralFastError, match=match):
        analyze(prof, mutate(preds), [finding], id_col="image", n_clusters=2, n_boot=10, n_perm=9)


def test_one_class_only_says_auroc_undefined():
    prof, preds, _ = make_case(n=60)
    rep = analyze(prof, preds.with_columns(y=pl.lit(1)), [Finding("y", score_col="p")], id_col="image",
                  n_clusters=3, n_boot=10, n_perm=9)  # fmt: skip
    assert rep.slices["auroc"].is_nan().all()
    assert rep.slices["auroc_note"].str.contains("one class").all()


def test_fewer_images_than_clusters():
    prof, preds, _ = make_case(n=40)
    with pytest.raises(InvalidInputError, match="cannot form 50 clusters"):
        analyze(prof, preds, [Finding("y", score_col="p")], id_col="image", n_clusters=50)


def test_cli_end_to_end_and_errors(tmp_path, capsys):
    prof, preds, _ = make_case(tmp_path, n=120)
    prof.write_parquet(tmp_path / "profiles.parquet")
    preds.write_csv(tmp_path / "preds.csv")
    out = tmp_path / "out"
    argv = ["report", str(tmp_path / "profiles.parquet"), "--predictions", str(tmp_path / "preds.csv"),
            "--pred-id-col", "image", "--label-col", "y", "--score-col", "p", "--threshold", "0.5",
            "--label-col", "y2", "--pred-col", "hat2", "-o", str(out), "--k", "5", "--seed", "3",
            "--n-perm", "49", "--n-boot", "20", "--images", str(tmp_path / "imgs")]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "k = 5 clusters" in printed and "y2:" in printed
    slices = pl.read_csv(out / "slices.csv")
    assert sorted(slices["finding"].unique().to_list()) == ["y", "y2"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["seed"] == 3 and summary["k"] == 5
    assert pl.read_parquet(out / "assignments.parquet").height == 120

    bad = argv + ["--overwrite"]  # out/ holds the first run's report
    bad[bad.index("p")] = "nope"
    assert main(bad) == 2
    assert "['nope'] not found" in capsys.readouterr().err
    both = argv[:10] + ["--pred-col", "hat2"] + argv[10:] + ["--overwrite"]
    assert main(both) == 2
    assert "exactly one of --score-col or --pred-col" in capsys.readouterr().err

    assert summary["options"]["anatomy_components"] == 2  # the default
    plain = [str(tmp_path / "plain") if a == str(out) else a for a in argv] + ["--anatomy-components", "0"]
    assert main(plain) == 0
    capsys.readouterr()
    assert json.loads((tmp_path / "plain" / "summary.json").read_text())["options"]["anatomy_components"] == 0
    assert json.loads((tmp_path / "plain" / "model.json").read_text())["params"]["anatomy_components"] == 0
    assert main(plain[:-1] + ["-1", "--overwrite"]) == 2
    assert "anatomy_components must be an integer >= 0" in capsys.readouterr().err


def test_group_col_makes_the_reference_hold_out_whole_patients(tmp_path, capsys):
    prof, preds, _ = make_case(n=120)
    preds = preds.with_columns(patient=pl.Series([f"p{i // 4}" for i in range(120)]))  # four images per patient
    prof.write_parquet(tmp_path / "profiles.parquet")
    preds.write_csv(tmp_path / "preds.csv")
    base = ["report", str(tmp_path / "profiles.parquet"), "--predictions", str(tmp_path / "preds.csv"), "--pred-id-col",
            "image", "--label-col", "y", "--score-col", "p", "--k", "5", "--n-perm", "49", "--n-boot", "20"]  # fmt: skip
    calibration = {}
    for name, extra in (("alone", []), ("grouped", ["--group-col", "patient"])):
        assert main(base + ["-o", str(tmp_path / name)] + extra) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        assert summary["options"]["group_col"] == (extra[1] if extra else None)
        calibration[name] = json.loads((tmp_path / name / "reference.json").read_text())["distance_calibration"]
    # same clusters, same in-sample distances; only the held-out estimate knows about the patients
    assert calibration["alone"]["in_sample_threshold"] == calibration["grouped"]["in_sample_threshold"]
    assert calibration["alone"]["optimism"] != calibration["grouped"]["optimism"]
    rep = analyze(prof, preds, [Finding("y", score_col="p")], id_col="image", n_clusters=5, n_boot=10, n_perm=9,
                  group_col="patient")  # fmt: skip
    assert rep.groups.tolist()[:5] == ["p0", "p0", "p0", "p0", "p1"]
    capsys.readouterr()
    assert main(base + ["-o", str(tmp_path / "bad"), "--group-col", "ward"]) == 2
    assert "['ward'] not found" in capsys.readouterr().err


def test_artefacts_computed_from_images_when_missing(tmp_path):
    from PIL import Image

    prof, preds, _ = make_case(n=40)
    prof = prof.drop("jpeg_block").with_columns(pl.Series("id", [f"im{i}.png" for i in range(40)]))
    preds = preds.with_columns(pl.Series("image", [f"im{i}.png" for i in range(40)]))
    rng = np.random.default_rng(0)
    for i in range(39):  # the last one is missing on disk
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
    rep = analyze(prof, preds, [Finding("y", score_col="p")], id_col="image", n_clusters=2, n_boot=10, n_perm=9,
                  artefacts_from=tmp_path)  # fmt: skip
    assert {"jpeg_block", "hist_comb", "peak_max"} <= set(rep.summary["features"])
    assert rep.summary["excluded"]["artefact_failures"] == 1


def test_directional_spots_are_described_within_their_label():
    """Misses are compared among positives, false alarms among negatives; ``both`` and unlabelled among all."""
    from spectral_fast.analysis.pipeline import _population

    truth = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    assert _population("misses", truth, 5).tolist() == [True, False, True, False, True]
    assert _population("false_alarms", truth, 5).tolist() == [False, True, False, True, False]
    assert _population("both", truth, 5).all() and _population("errors", None, 5).all()
