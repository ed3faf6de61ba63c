"""Label-free reliability: shrinkage, expected accuracy and its interval, unknown territory, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.analysis.clustering import SpectralClusters
from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.tables import check_profile_options, read_profile_options
from spectral_fast.reliability.rates import expected_accuracy, fit_prior_strength, shrunk_rates
from spectral_fast.reliability.reference_set import (
    Reference,
    build_reference,
    cluster_posterior,
    distance_threshold,
    held_out_distance,
)
from spectral_fast.reliability.risk import load_model_dir, predict


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A report-like folder: k-means on 1000 reference images, errors concentrated in the slice."""
    out = tmp_path_factory.mktemp("model")
    table, _, error = make_profiles(1000, 0, 0.25)
    model = SpectralClusters(6, method="kmeans", random_state=0).fit(table)
    model.save(out / "model.json")
    ref = build_reference(
        table, model, {"y": error}, profile_options={"spacing": "log", "window": "hann", "size": None}
    )
    ref.save(out)
    return out


# ------------------------------------------------------------------ shrinkage
def test_small_clusters_shrink_toward_the_overall_rate_large_ones_keep_theirs():
    errors = np.array([50.0, 1.0, 100.0])
    n = np.array([100.0, 2.0, 1000.0])
    rate, var, mu, _m = shrunk_rates(errors, n, prior_strength=10.0)
    assert mu == pytest.approx((151 + 0.5) / 1103)
    assert rate[1] == pytest.approx((1 + 10 * mu) / 12)  # 2 images: mostly the prior
    assert abs(rate[1] - mu) < abs(0.5 - mu)
    assert rate[2] == pytest.approx(0.1, abs=0.002)  # 1000 images: its own rate
    assert (var > 0).all()
    raw, _, _, _ = shrunk_rates(errors, n, prior_strength=0)
    np.testing.assert_allclose(raw, errors / n, atol=1e-6)


def test_prior_strength_is_large_for_homogeneous_clusters_small_for_different_ones():
    rng = np.random.default_rng(1)
    n = np.full(12, 60.0)
    same = rng.binomial(60, 0.2, 12).astype(float)
    different = rng.binomial(60, np.tile([0.05, 0.6], 6)).astype(float)
    assert fit_prior_strength(same, n, same.sum() / n.sum()) > 300
    assert fit_prior_strength(different, n, different.sum() / n.sum()) < 20


def test_shrunk_rates_rejects_bad_counts():
    with pytest.raises(InvalidInputError, match="errors"):
        shrunk_rates(np.array([3.0]), np.array([2.0]))
    with pytest.raises(InvalidInputError, match="prior_strength"):
        shrunk_rates(np.array([1.0, 2.0]), np.array([5.0, 5.0]), prior_strength="big")


# ------------------------------------------------------------------ expected accuracy
def test_expected_accuracy_formula():
    posterior = np.array([[1.0, 0.0], [1.0, 0.0], [0.25, 0.75], [0.0, 1.0]])
    rate, var = np.array([0.1, 0.5]), np.array([0.001, 0.004])
    acc, se, lo, hi = expected_accuracy(posterior, rate, var)
    risk = np.array([0.1, 0.1, 0.4, 0.5])
    w = posterior.mean(axis=0)
    assert acc == pytest.approx(1 - risk.mean())
    assert se**2 == pytest.approx((w * w * var).sum() + (risk * (1 - risk)).sum() / 16)
    assert (lo, hi) == pytest.approx((acc - 1.959963984540054 * se, min(1.0, acc + 1.959963984540054 * se)))
    assert np.isnan(expected_accuracy(np.zeros((0, 2)), rate, var)[0])


def test_interval_covers_the_actual_accuracy_of_new_batches():
    """Clusters with known error probabilities; rates learned from a finite reference; 95 % coverage."""
    rng = np.random.default_rng(7)
    true_rate = np.array([0.05, 0.1, 0.3, 0.6])
    ref_n = np.array([200, 150, 60, 30])
    hits, errs = 0, []
    for _ in range(400):
        ref_e = rng.binomial(ref_n, true_rate)
        rate, var, _, _ = shrunk_rates(ref_e.astype(float), ref_n.astype(float))
        mix = rng.dirichlet(np.ones(4))
        labels = rng.choice(4, 200, p=mix)
        posterior = np.eye(4)[labels]
        actual = 1 - (rng.random(200) < true_rate[labels]).mean()
        acc, _, lo, hi = expected_accuracy(posterior, rate, var)
        hits += lo <= actual <= hi
        errs.append(abs(acc - actual))
    assert 0.92 <= hits / 400 <= 0.99
    assert np.mean(errs) < 0.04


# ------------------------------------------------------------------ predict
def test_predict_tracks_the_share_of_the_blind_spot(model_dir):
    predicted, actual = [], []
    for i, share in enumerate((0.0, 0.25, 0.5, 0.9)):
        batch, slice_, _ = make_profiles(400, 10 + i, share)
        res = predict(model_dir, batch)
        predicted.append(res.summary["findings"]["y"]["expected_accuracy"])
        actual.append(1 - np.where(slice_, 0.5, 0.1).mean())  # the generating expectation, free of binomial noise
        assert res.images.columns[:4] == ["id", "cluster", "distance", "unknown"]
        assert res.images["risk_y"].min() >= 0 and res.images["risk_y"].max() <= 1
        assert res.slices["n"].sum() == 400
    assert np.all(np.diff(predicted) < 0)  # more of the slice, lower accuracy
    assert np.max(np.abs(np.array(predicted) - np.array(actual))) < 0.05


def test_slice_accuracy_matches_the_cluster_rate(model_dir):
    batch, _slice, error = make_profiles(600, 21, 0.5)
    res = predict(model_dir, batch)
    labels = res.images["cluster"].to_numpy()
    for row in res.slices.iter_rows(named=True):
        inside = labels == row["cluster"]
        assert row["expected_accuracy"] == pytest.approx(1 - row["reference_error_rate"])
        if row["n"] >= 60:
            assert abs(row["expected_accuracy"] - (1 - error[inside].mean())) < 0.12


def test_mixture_risk_is_posterior_weighted(tmp_path):
    table, _, error = make_profiles(300, 3, 0.3)
    model = SpectralClusters(4, method="gmm", random_state=0).fit(table)
    model.save(tmp_path / "model.json")
    ref = build_reference(table, model, {"y": error})
    ref.save(tmp_path)
    batch, _, _ = make_profiles(100, 4, 0.3)
    res = predict(tmp_path, batch)
    post = model.predict_proba(batch)
    rate, _ = ref.rates("y")
    np.testing.assert_allclose(res.images["risk_y"].to_numpy(), post @ rate)
    np.testing.assert_allclose(ref.findings["y"]["n"], model.predict_proba(table).sum(axis=0))
    assert "probability" in res.images.columns


def test_unknown_territory(model_dir):
    # New images drawn like the reference cross the threshold about 1 % of the time (binomial sd 0.0014 here).
    fresh, _, _ = make_profiles(5000, 1, 0.25)
    summary = predict(model_dir, fresh).summary["unknown"]
    assert summary["share"] == pytest.approx(0.01, abs=0.0045)
    assert summary["calibration"] == "held_out"
    far, _, _ = make_profiles(50, 5, 0.0, offset=3.0)
    res = predict(model_dir, far)
    assert res.images["unknown"].all()
    assert res.summary["unknown"]["n"] == 50


def test_held_out_distance_is_the_distance_to_centres_refitted_without_the_group():
    """For k-means (fixed assignments) a centre without a group is the mean of its other members: checked by hand."""
    table, _, _ = make_profiles(120, 3, 0.25)
    model = SpectralClusters(4, method="kmeans", random_state=0).fit(table)
    posterior, dist = cluster_posterior(model, table)
    groups = np.arange(120) // 3  # three images per patient
    held = held_out_distance(model, table, posterior, groups)
    z = model.embed(table)
    labels = posterior.argmax(axis=1)
    for i in (0, 7, 58, 119):
        others = groups != groups[i]
        centres = [z[others & (labels == c)].mean(axis=0) for c in range(4) if (others & (labels == c)).any()]
        assert held[i] == pytest.approx(min(np.linalg.norm(z[i] - c) for c in centres), rel=1e-9)
    # Each image alone is the default. Without itself its own centre moves away from it and the others stay, so
    # no image comes closer; these groups are arbitrary, so whether removing them too adds distance is left to
    # the test below, where a patient's images really are alike.
    alone = held_out_distance(model, table, posterior)
    assert (alone >= dist - 1e-12).all() and alone.mean() > dist.mean()


def test_held_out_distance_of_images_alone_is_checked_by_hand():
    """Without groups (each image its own, summed without a scatter) the same definition holds image by image."""
    table, _, _ = make_profiles(120, 3, 0.25)
    model = SpectralClusters(4, method="kmeans", random_state=0).fit(table)
    posterior, _ = cluster_posterior(model, table)
    z, labels = model.embed(table), posterior.argmax(axis=1)
    alone = held_out_distance(model, table, posterior)
    np.testing.assert_array_equal(alone, held_out_distance(model, table, posterior, np.arange(120)))
    for i in (0, 7, 58, 119):
        others = np.arange(120) != i
        centres = [z[others & (labels == c)].mean(axis=0) for c in range(4) if (others & (labels == c)).any()]
        assert alone[i] == pytest.approx(min(np.linalg.norm(z[i] - c) for c in centres), rel=1e-9)


def test_threshold_corrects_the_in_sample_optimism_of_repeated_images():
    """A patient imaged three times pulls a centre toward all three: without groups the reference looks too close."""
    base, _, error = make_profiles(300, 4, 0.25)
    table = pl.concat([base, base, base])  # three acquisitions per patient, identical profiles
    groups = np.tile(np.arange(300), 3)
    model = SpectralClusters(12, method="kmeans", random_state=0).fit(table)
    err = np.tile(error, 3)
    naive = build_reference(table, model, {"y": err})
    grouped = build_reference(table, model, {"y": err}, groups=groups)
    assert grouped.distance_calibration["calibration"] == "held_out"
    assert grouped.distance_calibration["optimism"] > naive.distance_calibration["optimism"] >= 1.0
    assert grouped.distance_threshold > naive.distance_threshold
    # New patients cross the grouped threshold less often (0.026 against 0.030 here: the held-out centres are only
    # part of the optimism of 12 clusters fitted on 300 patients, the rest is the 99th percentile of 300 patients).
    fresh, _, _ = make_profiles(4000, 6, 0.25)
    shares = [predict((model, r), fresh).summary["unknown"]["share"] for r in (naive, grouped)]
    assert 0.01 < shares[1] < shares[0]


def test_distance_threshold_falls_back_to_in_sample_when_the_optimism_cannot_be_measured():
    in_sample = np.linspace(1.0, 2.0, 100)
    held = np.where(np.arange(100) % 5 == 0, np.inf, in_sample * 1.1)  # 20 % of images alone in their component
    threshold, info = distance_threshold(in_sample, held)
    assert info["calibration"] == "in_sample" and threshold == pytest.approx(np.percentile(in_sample, 99))
    threshold, info = distance_threshold(in_sample, in_sample * 1.1)
    assert info["calibration"] == "held_out" and info["optimism"] == pytest.approx(1.1)
    assert threshold == pytest.approx(1.1 * np.percentile(in_sample, 99))
    few_alone = np.where(np.arange(100) == 50, np.inf, in_sample * 1.1)  # 1 %: they only rank last
    threshold, info = distance_threshold(in_sample, few_alone)
    assert info["calibration"] == "held_out" and 1.1 < info["optimism"] < 1.11 and math.isfinite(threshold)


# ------------------------------------------------------------------ files
def test_reference_round_trip_and_tamper_detection(model_dir, tmp_path):
    model, ref = load_model_dir(model_dir)
    assert ref.profile_options == {"bands": 32, "spacing": "log", "window": "hann", "size": None}
    assert ref.meta["method"] == "kmeans" and len(ref.mix) == model.n_clusters_
    assert ref.sample.shape == (1000, 32)
    for name in ("model.json", "model.npz", "reference.json", "reference.npz"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    meta = json.loads((tmp_path / "reference.json").read_text())
    meta["distance_threshold"] *= 2
    (tmp_path / "reference.json").write_text(json.dumps(meta))
    with pytest.raises(InvalidInputError, match="checksum"):
        Reference.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="reference.json"):
        Reference.load(tmp_path / "nowhere")


def resigned_reference(model_dir, out, edit):
    """A copy of ``model_dir`` whose reference.json is changed by ``edit(meta)`` and signed again."""
    from spectral_fast._shared.serialize import _digest

    for name in ("model.json", "model.npz", "reference.json", "reference.npz"):
        (out / name).write_bytes((model_dir / name).read_bytes())
    meta = json.loads((out / "reference.json").read_text())
    edit(meta)
    meta.pop("sha256")
    meta["sha256"] = _digest(meta)
    (out / "reference.json").write_text(json.dumps(meta))
    return out


def test_format_3_reference_keeps_its_in_sample_threshold_and_newer_formats_are_refused(model_dir, tmp_path):
    ref = Reference.load(model_dir)
    assert ref.distance_calibration["calibration"] == "held_out"
    assert ref.distance_threshold == pytest.approx(
        ref.distance_calibration["in_sample_threshold"] * ref.distance_calibration["optimism"]
    )

    def as_format_3(meta):
        meta["format_version"] = 3
        meta.pop("distance_calibration")
        meta["distance_threshold"] = meta["distance_threshold"] / 2  # what a format-3 writer would have stored, say

    old = resigned_reference(model_dir, tmp_path, as_format_3)
    loaded = Reference.load(old)
    assert loaded.distance_calibration == {"calibration": "in_sample"}
    assert loaded.distance_threshold == pytest.approx(ref.distance_threshold / 2)
    batch, _, _ = make_profiles(200, 8, 0.25)
    res = predict(old, batch)
    assert res.summary["unknown"]["calibration"] == "in_sample"
    assert res.summary["unknown"]["threshold"] == pytest.approx(ref.distance_threshold / 2)
    newer = tmp_path / "newer"
    newer.mkdir()
    resigned_reference(model_dir, newer, lambda meta: meta.update(format_version=5))
    with pytest.raises(
        InvalidInputError, match=r"reference format version 5, .* reads version 1 or 2 or 3 or 4; run the report again"
    ):
        Reference.load(newer)


def test_read_profile_options_from_parquet_metadata(tmp_path):
    import pyarrow.parquet as pq

    table, _, _ = make_profiles(5, 0, 0.0)
    meta = {"version": "0.1.0", "options": {"size": None, "bands": 32, "spacing": "linear", "window": "hann"}}
    arrow = table.to_arrow()
    pq.write_table(arrow.replace_schema_metadata({b"spectral_fast": json.dumps(meta).encode()}), tmp_path / "p.parquet")
    assert read_profile_options(tmp_path / "p.parquet") == {
        "bands": 32,
        "spacing": "linear",
        "window": "hann",
        "size": None,
    }
    table.write_parquet(tmp_path / "plain.parquet")
    assert read_profile_options(tmp_path / "plain.parquet") is None
    assert read_profile_options(tmp_path / "p.csv") is None


# ------------------------------------------------------------------ bad input
def test_profiles_made_with_other_options_name_the_option(model_dir, tmp_path):
    other, _, _ = make_profiles(20, 1, 0.0, bands=16)
    with pytest.raises(InvalidInputError, match=r"bands: the profiles have 16 band_\* columns .* bands=32"):
        predict(model_dir, other)
    ok, _, _ = make_profiles(20, 1, 0.0)
    for name, value in (("spacing", "linear"), ("window", "none"), ("size", 512)):
        options = {"bands": 32, "spacing": "log", "window": "hann", "size": None, name: value}
        with pytest.raises(InvalidInputError, match=rf"^{name}: the profiles were made with {name}="):
            predict(model_dir, ok, options=options)
    with pytest.raises(InvalidInputError, match="bands: the profiles were made with bands=64"):
        check_profile_options({"bands": 32}, ok.columns, {"bands": 64})
    # unknown options on either side are not compared; the band count always is
    assert check_profile_options({"bands": 32, "spacing": "?"}, ok.columns, {"spacing": "linear"}) == ["bands"]


def test_empty_batches_and_error_rows(model_dir):
    batch, _, _ = make_profiles(30, 2, 0.0)
    with pytest.raises(InvalidInputError, match="empty"):
        predict(model_dir, batch.head(0))
    broken = batch.with_columns(
        pl.when(pl.int_range(pl.len()) < 4).then(pl.lit("decode failed")).otherwise(None).alias("error"),
        pl.when(pl.int_range(pl.len()) < 4).then(pl.lit("error")).otherwise(pl.lit("ok")).alias("status"),
    )
    res = predict(model_dir, broken)
    assert res.summary["n_input"] == 30 and res.summary["n"] == 26
    assert res.summary["excluded"]["error_rows"] == 4
    assert res.summary["excluded"]["error_examples"] == ["decode failed"]
    assert res.images.height == 26
    all_bad = broken.with_columns(pl.lit("error").alias("status"))
    with pytest.raises(InvalidInputError, match="all 30 rows are error rows"):
        predict(model_dir, all_bad)
    with pytest.raises(InvalidInputError, match="finding"):
        predict(model_dir, batch, findings=["nope"])
    with pytest.raises(InvalidInputError, match=r"feature columns \['band_31'\]"):
        predict(model_dir, batch.drop("band_31").with_columns(pl.lit(0.0).alias("band_xx")))


def test_artefact_features_are_computed_from_the_images_when_the_model_needs_them(tmp_path):
    from PIL import Image

    import spectral_fast as sf
    from spectral_fast.profiling.artefacts_oracle import FEATURE_NAMES, artefact_table
    from spectral_fast.simulate import acquire
    from spectral_fast.simulate import phantom as synth

    images = [synth.phantom(128, seed=s) for s in range(12)]
    images = [acquire.apply(im, "jpeg") if i % 3 == 0 else im for i, im in enumerate(images)]
    ids = [f"img_{i:02d}.png" for i in range(len(images))]
    for name, im in zip(ids, images):
        Image.fromarray(im).save(tmp_path / name)
    prof = sf.profile(images).with_columns(pl.Series("id", ids))
    # Profiles without the artefact features (older profiler output, or a CSV): the case --images is for.
    extra = artefact_table(images)
    prof = prof.drop([c for c in extra.columns if c in prof.columns])
    table = pl.concat([prof, extra], how="horizontal")
    model = SpectralClusters(3, method="kmeans", random_state=0).fit(table)
    assert set(FEATURE_NAMES) <= set(model.features_)
    ref = build_reference(table, model, {"y": np.arange(len(images)) % 3 == 0})
    with pytest.raises(InvalidInputError, match=r"lack the feature columns \['jpeg_block'.*--images ROOT"):
        predict((model, ref), prof)
    res = predict((model, ref), prof, artefacts_from=tmp_path)
    np.testing.assert_array_equal(res.images["cluster"].to_numpy(), model.predict(table))
    assert res.summary["excluded"]["artefact_failures"] == 0
