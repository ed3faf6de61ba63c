"""Per-image risk that combines the spectral (cluster) risk with the model's own scores, and its bad input."""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast._shared.stats import auroc
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.analysis.predictions import PartialMatchWarning
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.reliability.confidence import (
    check_scores,
    confidence_risk,
    fit_confidence_model,
    held_out_cluster_risk,
)
from spectral_fast.reliability.reference_set import build_reference
from spectral_fast.reliability.risk import load_model_dir, predict


def make_scores(error: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Truth and a score on the wrong side of 0.5 exactly where ``error``; errors sit closer to 0.5.

    The margin tells hard cases apart within a cluster, the clusters tell the
    blurred slice apart: each carries information the other lacks.
    """
    rng = np.random.default_rng(seed)
    truth = rng.random(len(error)) < 0.5
    margin = np.where(error, rng.uniform(0.01, 0.3, len(error)), rng.uniform(0.05, 0.49, len(error)))
    predicted_positive = truth != error
    return truth, np.where(predicted_positive, 0.5 + margin, 0.5 - margin)


@pytest.fixture(scope="module")
def scored_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("scored")
    table, _, error = make_profiles(1000, 0, 0.25)
    _, score = make_scores(error, 1)
    model = SpectralClusters(6, method="kmeans", random_state=0).fit(table)
    model.save(out / "model.json")
    build_reference(table, model, {"y": error}, scores={"y": score}, score_cols={"y": "p"}).save(out)
    return out


def batch_with_scores(n: int, seed: int, shift: float):
    table, _, error = make_profiles(n, seed, shift)
    _, score = make_scores(error, seed + 100)
    return table, error, pl.DataFrame({"id": table["id"], "p": score})


def test_combined_risk_ranks_errors_better_than_either_part():
    """On a new batch: AUROC of the combined risk above both the spectral risk and 1 - confidence."""
    table, _, error = make_profiles(1000, 0, 0.25)
    _, score = make_scores(error, 1)
    model = SpectralClusters(6, method="kmeans", random_state=0).fit(table)
    ref = build_reference(table, model, {"y": error}, scores={"y": score}, score_cols={"y": "p"})
    cm = ref.finding("y")["confidence_model"]
    assert cm["features"] == ["cluster_logodds", "score_logit", "score_margin"] and cm["score_col"] == "p"
    assert cm["penalty"] is not None  # cross-validation kept the cluster term: it helps on held-out reference images
    assert cm["coef"][0] > 0 > cm["coef"][2]  # more risk in error-prone clusters, less with a larger margin
    batch, err, preds = batch_with_scores(1500, 7, 0.4)
    res = predict((model, ref), batch, predictions=preds)
    conf = np.abs(preds["p"].to_numpy() - 0.5)
    a_spectral = auroc(err, res.images["risk_y"].to_numpy())
    a_conf = auroc(err, -conf)
    a_comb = auroc(err, res.images["risk_combined_y"].to_numpy())
    assert a_comb > max(a_spectral, a_conf) + 0.02, (a_comb, a_spectral, a_conf)
    combined = res.summary["findings"]["y"]["combined"]
    assert combined["n_scored"] == 1500 and combined["n_unscored"] == 0
    # its batch accuracy is the mean of the per-image combined risk, and lands near the truth
    assert combined["expected_accuracy"] == pytest.approx(1 - res.images["risk_combined_y"].mean())
    assert abs(combined["expected_accuracy"] - (1 - err.mean())) < 0.05


def test_confidence_model_is_saved_and_read_back(scored_dir):
    meta = json.loads((scored_dir / "reference.json").read_text())
    assert meta["format_version"] == 4 and meta["findings"]["y"]["confidence_model"]["score_col"] == "p"
    _model, ref = load_model_dir(scored_dir)
    batch, _, preds = batch_with_scores(50, 3, 0.5)
    risk = predict(scored_dir, batch, predictions=preds).images
    f = ref.finding("y")
    expected = confidence_risk(f["confidence_model"], risk["risk_y"].to_numpy(), preds["p"].to_numpy())
    np.testing.assert_allclose(risk["risk_combined_y"].to_numpy(), expected)


def older_reference(scored_dir, out, version: int, confidence_model: dict | None):
    """A copy of ``scored_dir`` whose reference.json says format ``version`` with this confidence model (re-signed)."""
    import shutil

    from spectral_fast._shared.serialize import _digest

    for name in ("model.json", "model.npz", "reference.json", "reference.npz"):
        shutil.copy(scored_dir / name, out / name)
    meta = json.loads((out / "reference.json").read_text())
    meta["format_version"] = version
    meta["findings"]["y"].pop("confidence_model")
    if confidence_model is not None:
        meta["findings"]["y"]["confidence_model"] = confidence_model
    meta.pop("sha256")
    meta["sha256"] = _digest(meta)
    (out / "reference.json").write_text(json.dumps(meta))
    return out


def test_version_1_reference_without_confidence_model_still_loads(scored_dir, tmp_path):
    """A reference written before confidence models (format 1) is read; asking it for scores is a clear error."""
    older_reference(scored_dir, tmp_path, 1, None)
    batch, _, preds = batch_with_scores(40, 4, 0.5)
    assert "risk_combined_y" not in predict(tmp_path, batch).images.columns
    with pytest.raises(InvalidInputError, match="no confidence model"):
        predict(tmp_path, batch, predictions=preds)


def test_version_2_confidence_model_still_predicts_with_its_two_inputs(scored_dir, tmp_path):
    """Format 2 saved [cluster log-odds, |margin|] coefficients without a penalty; they are read and used as before."""
    version_2 = {
        "features": ["cluster_logodds", "score_margin"], "intercept": -0.5, "coef": [0.8, -1.2],
        "threshold": 0.5, "n": 1000, "score_col": "p",
    }  # fmt: skip
    older_reference(scored_dir, tmp_path, 2, version_2)
    batch, _, preds = batch_with_scores(40, 4, 0.5)
    res = predict(tmp_path, batch, predictions=preds)
    risk, p = res.images["risk_y"].to_numpy(), preds["p"].to_numpy()
    z = -0.5 + 0.8 * np.log(risk / (1 - risk)) - 1.2 * np.abs(np.log(p / (1 - p)))
    np.testing.assert_allclose(res.images["risk_combined_y"].to_numpy(), 1 / (1 + np.exp(-z)))


def test_cluster_term_dropped_when_it_carries_nothing():
    """Errors independent of the clusters: cross-validation penalises the extra terms hard, so the
    combined risk ranks new images as the confidence does (not worse than it)."""
    table, _, _ = make_profiles(1000, 0, 0.25)
    error = np.random.default_rng(11).random(1000) < 0.2
    _, score = make_scores(error, 1)
    model = SpectralClusters(6, method="kmeans", random_state=0).fit(table)
    ref = build_reference(table, model, {"y": error}, scores={"y": score}, score_cols={"y": "p"})
    cm = ref.finding("y")["confidence_model"]
    assert (cm["penalty"] is None or cm["penalty"] >= 30) and cm["coef"][2] < 0
    assert [c["penalty"] for c in cm["cv"]][-1] is None and all(c["logloss"] > 0 for c in cm["cv"])
    chosen = min(cm["cv"], key=lambda c: c["logloss"])  # the rule: the lowest held-out loss
    assert chosen["penalty"] == cm["penalty"] and chosen["se"] == 0.0
    batch, _, _ = make_profiles(800, 5, 0.5)
    new_error = np.random.default_rng(12).random(800) < 0.2
    _, new_score = make_scores(new_error, 13)
    res = predict((model, ref), batch, predictions=pl.DataFrame({"id": batch["id"], "p": new_score}))
    a_comb = auroc(new_error, res.images["risk_combined_y"].to_numpy())
    assert a_comb == pytest.approx(auroc(new_error, -np.abs(new_score - 0.5)), abs=0.005)


def test_side_of_threshold_is_learned_when_one_side_errs_more():
    """A model wrong on 40 % of its positive calls and 5 % of its negative ones, same margins: the signed
    score term picks that up and ranks errors above the confidence."""
    rng = np.random.default_rng(21)

    def draw(n):
        positive = rng.random(n) < 0.5
        margin = rng.uniform(0.02, 0.45, n)
        error = rng.random(n) < np.where(positive, 0.4, 0.05) * (1.3 - 1.2 * margin / 0.45)
        return np.where(positive, 0.5 + margin, 0.5 - margin), error

    score, error = draw(1200)
    cm = fit_confidence_model(np.full(1200, 0.2), score, error, 0.5)
    assert cm["penalty"] is not None and cm["coef"][1] > 0  # more risk above the threshold
    new_score, new_error = draw(1200)
    a_comb = auroc(new_error, confidence_risk(cm, np.full(1200, 0.2), new_score))
    assert a_comb > auroc(new_error, -np.abs(new_score - 0.5)) + 0.05


def test_scores_that_separate_errors_perfectly_fit_without_overflow():
    """Errors exactly where the score is near the threshold: the fit drives the logit far out, which must
    not overflow (no RuntimeWarning) nor leave the unit interval."""
    rng = np.random.default_rng(5)
    score = rng.uniform(0.0, 1.0, 600)
    error = np.abs(score - 0.5) < 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm = fit_confidence_model(np.full(600, 0.2), score, error, 0.5)
        risk = confidence_risk({**cm, "intercept": cm["intercept"] + 1e4}, np.full(600, 0.2), score)
    assert np.all((risk >= 0) & (risk <= 1)) and np.isfinite(risk).all()


def test_held_out_cluster_risk_leaves_the_whole_patient_out():
    posterior = np.eye(2)[[0, 0, 0, 0, 1, 1]]
    error = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    by_image = held_out_cluster_risk(posterior, error, None, 0.5, 0.0)
    by_patient = held_out_cluster_risk(posterior, error, np.array([0, 0, 1, 2, 3, 4]), 0.5, 0.0)
    assert by_image[0] == pytest.approx(1 / 3, abs=1e-5)  # the other three images of cluster 0: one error
    assert by_patient[0] == pytest.approx(0.0, abs=1e-5)  # without patient 0's second image: no error left
    assert by_patient[2] == pytest.approx(2 / 3, abs=1e-5)


def test_confidence_model_bad_inputs():
    risk, score, error = np.full(50, 0.2), np.linspace(0.05, 0.95, 50), np.arange(50) % 4 == 0
    with pytest.raises(InvalidInputError, match="must include 'score_margin'"):
        fit_confidence_model(risk, score, error, 0.5, features=["cluster_logodds"])
    with pytest.raises(InvalidInputError, match="penalties"):
        fit_confidence_model(risk, score, error, 0.5, penalties=(-1.0,))
    with pytest.raises(InvalidInputError, match="groups has 49 values for 50 images"):
        fit_confidence_model(risk, score, error, 0.5, groups=np.arange(49))
    with pytest.raises(InvalidInputError, match=r"unknown input\(s\) \['edge_energy'\].*newer spectral_fast"):
        confidence_risk({"features": ["edge_energy"], "intercept": 0.0, "coef": [1.0], "threshold": 0.5}, risk, score)
    with pytest.raises(InvalidInputError, match="2 coefficients for 3 inputs"):
        confidence_risk({"features": ["cluster_logodds", "score_logit", "score_margin"], "intercept": 0.0,
                         "coef": [1.0, 2.0], "threshold": 0.5}, risk, score)  # fmt: skip
    table, _, err = make_profiles(100, 0, 0.25)
    model = SpectralClusters(3, method="kmeans", random_state=0).fit(table)
    with pytest.raises(InvalidInputError, match="groups has 99 values for 100 images"):
        build_reference(table, model, {"y": err}, scores={"y": np.full(100, 0.5)}, groups=np.arange(99))


def test_unmatched_images_get_null_combined_risk_and_are_counted(scored_dir):
    batch, _, preds = batch_with_scores(60, 5, 0.5)
    with pytest.warns(PartialMatchWarning, match="10 of 60 profiles have no prediction"):
        res = predict(scored_dir, batch, predictions=preds.head(50))
    combined = res.images["risk_combined_y"]
    assert combined.null_count() == 10 and combined.head(50).null_count() == 0
    assert res.summary["findings"]["y"]["combined"]["n_unscored"] == 10


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p.with_columns(pl.lit(float("nan")).alias("p")),
            r"60 of 60 values are missing, NaN or outside \[0, 1\]",
        ),
        (
            lambda p: p.with_columns(pl.when(pl.int_range(60) == 3).then(None).otherwise(pl.col("p")).alias("p")),
            r"score column 'p': 1 of 60 values are missing.*s6/0003.png",
        ),
        (lambda p: p.with_columns((pl.col("p") * 100).alias("p")), r"outside \[0, 1\]"),
        (lambda p: p.drop("p"), r"column\(s\) \['p'\] not found in the predictions"),
        (lambda p: p.with_columns(pl.col("id").str.replace("s6/", "other/")), "only 0 of 60 profiles matched"),
        (lambda p: p.with_columns(pl.col("p").cast(pl.Utf8)), "must be numeric"),
    ],
)
def test_bad_scores_are_clear_errors(scored_dir, edit, message):
    batch, _, preds = batch_with_scores(60, 6, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialMatchWarning)
        with pytest.raises((InvalidInputError, InvalidTypeError), match=message):
            predict(scored_dir, batch, predictions=edit(preds))


def test_ids_that_match_only_by_file_name(scored_dir):
    batch, _, preds = batch_with_scores(30, 8, 0.5)
    preds = preds.with_columns(("/data/archive/" + pl.col("id")).alias("path")).drop("id")
    with pytest.raises(InvalidInputError, match="only 0 of 30 profiles matched.*--match"):
        predict(scored_dir, batch, predictions=preds, id_col="path")
    res = predict(scored_dir, batch, predictions=preds, id_col="path", match="basename")
    assert res.images["risk_combined_y"].null_count() == 0


def test_score_column_override_and_bad_types(scored_dir):
    batch, _, preds = batch_with_scores(30, 9, 0.5)
    res = predict(scored_dir, batch, predictions=preds.rename({"p": "prob"}), score_cols={"y": "prob"})
    assert res.summary["findings"]["y"]["combined"]["score_col"] == "prob"
    with pytest.raises(InvalidTypeError, match="predictions must be a file path, a polars or pandas DataFrame"):
        predict(scored_dir, batch, predictions=[0.5] * 30)


def test_check_scores_and_fit_edge_cases():
    assert check_scores(np.array([0.0, 0.5, 1.0])).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(InvalidInputError, match=r"1 of 2 values.*\('b', -0.1\)"):
        check_scores(np.array([0.2, -0.1]), ["a", "b"])
    risk, score = np.full(20, 0.2), np.linspace(0.1, 0.9, 20)
    assert fit_confidence_model(risk, score, np.zeros(20, bool), 0.5) is None  # one kind of outcome: nothing to fit
    table, _, error = make_profiles(100, 0, 0.25)
    model = SpectralClusters(3, method="kmeans", random_state=0).fit(table)
    with pytest.raises(InvalidInputError, match="thresholds"):
        build_reference(table, model, {"y": error}, scores={"y": np.full(100, 0.5)}, thresholds={"y": 1.0})
    with pytest.raises(InvalidInputError, match="has 99 values for 100 images"):
        build_reference(table, model, {"y": error}, scores={"y": np.full(99, 0.5)})
