"""Batch monitoring: PSI, chi-square, per-band KS + BH, implied accuracy change, verdict, HTML."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.analysis.blind_spots import find_blind_spots
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.errors import InvalidInputError
from spectral_fast.reliability.drift import band_tests, mix_test, population_stability_index
from spectral_fast.reliability.monitoring import monitor
from spectral_fast.reliability.reference_set import build_reference
from spectral_fast.render.folders import write_monitor


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """Reference of 600 images, k-means k = 6, blind spots from the failure analysis."""
    from spectral_fast.analysis.cluster_tree import tree_members

    out = tmp_path_factory.mktemp("monitor_model")
    table, _, error = make_profiles(600, 0, 0.25)
    model = SpectralClusters(6, method="kmeans", random_state=0).fit(table)
    model.save(out / "model.json")
    spots = find_blind_spots(model.labels_, error, tree_members(model.tree_, model.n_clusters_))
    assert spots, "the fixture needs a blind spot"
    build_reference(table, model, {"y": error}, blind_spots={"y": [s["clusters"] for s in spots]}).save(out)
    return out


def test_psi_by_hand():
    q = np.array([0.5, 0.3, 0.2])
    p = np.array([0.2, 0.3, 0.5])
    assert population_stability_index(q, q) == 0.0
    expected = (0.2 - 0.5) * np.log(0.2 / 0.5) + (0.5 - 0.2) * np.log(0.5 / 0.2)
    assert population_stability_index(p, q) == pytest.approx(expected)
    assert np.isfinite(population_stability_index(np.array([0.0, 1.0]), np.array([0.5, 0.5])))


def test_mix_test():
    assert mix_test(np.array([50, 30, 20]), np.array([500, 300, 200]))[2] == pytest.approx(1.0)
    _chi2, dof, p = mix_test(np.array([5, 30, 65]), np.array([500, 300, 200]))
    assert dof == 2 and p < 1e-10
    assert mix_test(np.array([0, 10, 0]), np.array([0, 100, 0]))[2] == 1.0  # one occupied cluster: nothing to test


def test_band_tests_flag_only_the_moved_features_and_skip_nan():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2000, 6))
    new = rng.normal(size=(300, 6))
    new[:, 4] += 1.0
    new[:, 5] = np.nan
    out = band_tests(ref, new, [f"f{i}" for i in range(6)], np.ones(6))
    sig = out.filter(pl.col("p_adjusted") < 0.05)["feature"].to_list()
    assert sig == ["f4"]
    assert out["shift"][4] == pytest.approx(1.0, abs=0.2)
    assert np.isnan(out["p_value"][5]) and np.isnan(out["p_adjusted"][5])
    assert (out["p_adjusted"][:5] >= out["p_value"][:5]).all()


def test_same_distribution_is_ok(model_dir):
    batch, _, _ = make_profiles(300, 11, 0.25)
    res = monitor(model_dir, batch)
    assert res.summary["verdict"] == "ok", res.summary["verdict_line"]
    assert res.summary["mix"]["psi"] < 0.1
    assert abs(res.summary["accuracy"]["y"]["change"]) < 0.02
    assert res.summary["verdict_line"].startswith("OK:")


def test_drift_toward_the_blind_spot_is_an_alert(model_dir):
    batch, _, error = make_profiles(300, 12, 0.7)
    res = monitor(model_dir, batch)
    s = res.summary
    assert s["verdict"] == "alert"
    a = s["accuracy"]["y"]
    assert a["change"] < -0.05 and a["ci_high"] < 0
    assert a["batch"] == pytest.approx(1 - error.mean(), abs=0.05)
    assert any(b["p_adjusted"] < 0.05 and b["batch_share"] > b["reference_share"] for b in s["blind_spots"])
    assert "toward blind spot" in s["verdict_line"]
    assert s["mix"]["chi2_p"] < 1e-6 and s["mix"]["psi"] > 0.25
    # the slice lowers the high bands (60 % and up of the spectrum) only
    top = res.bands.filter(pl.col("p_adjusted") < 0.05)["feature"].to_list()
    assert top and all(int(f.split("_")[1]) >= 19 for f in top)


def test_new_territory_is_an_alert(model_dir):
    batch, _, _ = make_profiles(100, 13, 0.0, offset=2.0)
    res = monitor(model_dir, batch)
    assert res.summary["unknown"]["share"] == 1.0
    assert res.summary["unknown"]["p_value"] < 1e-10
    assert res.summary["verdict"] == "alert"


def test_write_json_html_risk(model_dir, tmp_path):
    batch, _, _ = make_profiles(120, 14, 0.5)
    evil = '<script>alert("x")</script>'
    # the first image is far from every cluster, so its id is listed on the page
    bands = [c for c in batch.columns if c.startswith("band_")]
    batch = batch.with_columns(
        pl.Series("id", [evil] + batch["id"].to_list()[1:]),
        *[pl.when(pl.int_range(pl.len()) == 0).then(pl.col(c) + 3.0).otherwise(pl.col(c)).alias(c) for c in bands],
    )
    res = monitor(model_dir, batch)
    paths = write_monitor(res, tmp_path / "out")
    doc = json.loads(paths["json"].read_text())  # strict JSON: NaN became null
    assert doc["verdict"] in ("ok", "drift", "alert") and len(doc["mix"]) == 6 and len(doc["bands"]) == 32
    assert doc["verdict_line"] == res.summary["verdict_line"]
    html = paths["html"].read_text()
    assert "<script" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "Content-Security-Policy" in html and html.count("data:image/png;base64,") == 3
    risk = pl.read_parquet(paths["risk"])
    assert risk.height == 120 and risk["unknown"][0]


def test_bad_settings(model_dir):
    batch, _, _ = make_profiles(20, 15, 0.0)
    with pytest.raises(InvalidInputError, match="alpha"):
        monitor(model_dir, batch, alpha=0)
    with pytest.raises(InvalidInputError, match="max_drop"):
        monitor(model_dir, batch, max_drop="0.1")
