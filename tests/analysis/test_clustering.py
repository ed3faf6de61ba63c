"""SpectralClusters: estimator contract, determinism, persistence without pickle."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from spectral_fast.analysis.cluster_tree import tree_members, ward_tree
from spectral_fast.analysis.clustering import SpectralClusters, auto_k, feature_columns
from spectral_fast.errors import InvalidInputError, InvalidTypeError


def make_profiles(n: int = 120, seed: int = 0, shift_share: float = 0.2) -> tuple[pl.DataFrame, np.ndarray]:
    """A profile-like table: 32 correlated bands, artefact columns, one shifted slice."""
    rng = np.random.default_rng(seed)
    base = np.linspace(-1.0, -6.0, 32)
    bands = base + rng.normal(0, 0.15, (n, 1)) + rng.normal(0, 0.05, (n, 32))
    slice_ = rng.random(n) < shift_share
    bands[slice_, 20:] -= 1.5  # less high-frequency energy: a blurred slice
    data = {f"band_{i:02d}": bands[:, i] for i in range(32)}
    data.update(
        id=[f"img/{i:03d}.png" for i in range(n)],
        jpeg_block=rng.normal(0.05, 0.01, n),
        peak_max=rng.normal(1.5, 0.1, n),
        hf_ratio=rng.random(n),
        status=["ok"] * n,
    )
    return pl.DataFrame(data), slice_


def test_feature_columns_discovers_bands_and_artefacts():
    df, _ = make_profiles(10)
    cols = feature_columns(df.columns)
    assert cols[:32] == [f"band_{i:02d}" for i in range(32)]
    assert cols[32:] == ["jpeg_block", "peak_max"]  # hf_ratio is not a default feature
    assert feature_columns(df.columns, "bands") == cols[:32]
    with pytest.raises(InvalidInputError, match="nope"):
        feature_columns(df.columns, ["band_00", "nope"])
    with pytest.raises(InvalidInputError, match="band_"):
        feature_columns(["a", "b"])


def test_auto_k_over_segments_and_is_capped():
    assert auto_k(122) == 8
    assert auto_k(4) == 2
    assert auto_k(10**6) == 30


def test_fit_recovers_a_shifted_slice_and_is_deterministic():
    df, slice_ = make_profiles()
    a = SpectralClusters(4, random_state=3).fit(df)
    b = SpectralClusters(4, random_state=3).fit(df)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    # the shifted slice occupies clusters of its own
    for c in range(4):
        inside = slice_[a.labels_ == c]
        assert inside.all() or not inside.any()
    assert a.cluster_sizes_.sum() == df.height
    np.testing.assert_array_equal(a.predict(df), a.labels_)
    assert a.transform(df).shape == (df.height, 4)


def test_tree_merges_every_cluster_once():
    df, _ = make_profiles()
    m = SpectralClusters(6, random_state=0).fit(df)
    members = tree_members(m.tree_, 6)
    assert len(members) == 11
    assert members[-1] == list(range(6))
    assert np.all(np.diff(m.tree_[:, 2]) >= -1e-9)  # Ward merges grow monotonically here


def test_ward_tree_joins_nearest_equal_groups_first():
    centers = np.array([[0.0], [0.1], [10.0], [10.2]])
    tree = ward_tree(centers, np.array([5, 5, 5, 5]))
    assert {int(tree[0, 0]), int(tree[0, 1])} == {0, 1}
    assert {int(tree[1, 0]), int(tree[1, 1])} == {2, 3}


def test_gmm_predict_proba_and_kmeans_has_none():
    df, _ = make_profiles()
    g = SpectralClusters(3, method="gmm", random_state=0).fit(df)
    proba = g.predict_proba(df)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), g.predict(df))
    k = SpectralClusters(3, method="kmeans", random_state=0).fit(df)
    assert not hasattr(k, "predict_proba")
    with pytest.raises(AttributeError):
        k.predict_proba(df)


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_save_load_round_trip_without_pickle(tmp_path, method):
    df, _ = make_profiles()
    m = SpectralClusters(5, method=method, random_state=1).fit(df)
    json_path, npz_path = m.save(tmp_path / "model")
    assert json_path.name == "model.json" and npz_path.name == "model.npz"
    with np.load(npz_path, allow_pickle=False) as npz:  # plain arrays only
        assert set(npz.files) >= {"loc", "scale", "centers", "tree"}
    loaded = SpectralClusters.load(json_path)
    np.testing.assert_array_equal(loaded.predict(df), m.predict(df))
    np.testing.assert_allclose(loaded.transform(df), m.transform(df))
    if method == "gmm":
        np.testing.assert_allclose(loaded.predict_proba(df), m.predict_proba(df))
    assert loaded.get_params() == m.get_params()


def test_load_refuses_other_versions_and_tampering(tmp_path):
    df, _ = make_profiles()
    json_path, npz_path = SpectralClusters(3, random_state=0).fit(df).save(tmp_path / "m.json")
    meta = json.loads(json_path.read_text())

    other = dict(meta, format_version=99)
    (tmp_path / "v.json").write_text(json.dumps(other))
    with pytest.raises(InvalidInputError, match="format version 99"):
        SpectralClusters.load(tmp_path / "v.json")

    tampered = dict(meta, n_clusters=4)
    json_path.write_text(json.dumps(tampered))
    with pytest.raises(InvalidInputError, match="modified"):
        SpectralClusters.load(json_path)

    json_path.write_text(json.dumps(meta))
    with np.load(npz_path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["centers"] = arrays["centers"] + 1.0
    np.savez(npz_path, **arrays)
    with pytest.raises(InvalidInputError, match="arrays were modified"):
        SpectralClusters.load(json_path)


def test_load_refuses_another_package_version_unless_asked(tmp_path, monkeypatch):
    df, _ = make_profiles()
    m = SpectralClusters(3, random_state=0).fit(df)
    import spectral_fast.analysis.clustering as cluster_mod

    monkeypatch.setattr(cluster_mod, "__version__", "0.0.1")
    json_path, _ = m.save(tmp_path / "old")
    monkeypatch.undo()
    with pytest.raises(InvalidInputError, match="0.0.1"):
        SpectralClusters.load(json_path)
    assert SpectralClusters.load(json_path, strict_version=False).n_clusters_ == 3


def test_clear_errors():
    df, _ = make_profiles(6)
    with pytest.raises(InvalidInputError, match="6 images cannot form 8 clusters"):
        SpectralClusters(8).fit(df)
    with pytest.raises(InvalidInputError, match="n_clusters"):
        SpectralClusters("many").fit(df)
    with pytest.raises(InvalidInputError, match="method"):
        SpectralClusters(2, method="dbscan").fit(df)
    with pytest.raises(InvalidInputError, match="bic"):
        SpectralClusters("bic", method="kmeans").fit(df)
    with pytest.raises(InvalidTypeError, match="numeric"):
        SpectralClusters(2).fit(np.array([["a", "b"], ["c", "d"]]))
    m = SpectralClusters(2, random_state=0).fit(df)
    with pytest.raises(InvalidInputError, match="band_03"):
        m.predict(df.drop("band_03"))


def test_nan_features_take_the_typical_value():
    df, _ = make_profiles(40)
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(None).otherwise(pl.col("jpeg_block")).alias("jpeg_block")
    )
    m = SpectralClusters(2, random_state=0).fit(df)
    assert np.isfinite(m.transform(df)).all()


def test_bic_and_silhouette_choices_are_recorded():
    df, _ = make_profiles(60)
    m = SpectralClusters("silhouette", random_state=0).fit(df)
    assert m.k_selection_["rule"] == "silhouette" and m.n_clusters_ == m.k_selection_["k"]
    g = SpectralClusters("bic", method="gmm", random_state=0).fit(df)
    assert len(g.k_selection_["scores"]) == len(g.k_selection_["candidates"])


@pytest.mark.slow
# check_estimator(on_fail=None) reports each check it skips (e.g. array-API input without
# SCIPY_ARRAY_API) as a SkipTestWarning; skipped checks are not failures.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    failed = []
    for method in ("gmm", "kmeans"):
        failures = check_estimator(SpectralClusters(3, method=method, n_init=2, random_state=0), on_fail=None)
        failed += [f for f in failures if f["status"] == "failed"]
    assert not failed, [(f["check_name"], str(f["exception"])[:200]) for f in failed]


def test_large_sets_fit_on_a_subsample_and_assign_everyone():
    df, slice_ = make_profiles(400, seed=2)
    m = SpectralClusters(4, method="kmeans", max_fit_samples=150, random_state=0).fit(df)
    assert len(m.labels_) == 400
    np.testing.assert_array_equal(m.labels_, m.predict(df))
    for c in range(4):
        inside = slice_[m.labels_ == c]
        assert inside.mean() > 0.9 or inside.mean() < 0.1
    with pytest.raises(InvalidInputError, match="max_fit_samples"):
        SpectralClusters(2, max_fit_samples=1).fit(df)


def _slice_separation(model: SpectralClusters, table: pl.DataFrame, slice_: np.ndarray) -> float:
    """Distance between the slice and the rest along their mean difference, in pooled sds (upper bands)."""
    z = model.embed(table)
    bands = [i for i, f in enumerate(model.embedding_names_) if f.startswith(("band_", "field_", "fine_"))]
    upper = bands[len(bands) // 2 :]
    d = z[slice_][:, upper].mean(axis=0) - z[~slice_][:, upper].mean(axis=0)
    p = z[:, upper] @ (d / np.linalg.norm(d))
    return float((p[slice_].mean() - p[~slice_].mean()) / np.sqrt((p[slice_].var() + p[~slice_].var()) / 2))


def test_anatomy_adjustment_removes_what_the_lower_bands_explain():
    """Upper bands that follow the anatomy (lower bands) hide a slice; their residuals do not."""
    rng = np.random.default_rng(3)
    n = 300
    anatomy = rng.normal(size=(n, 2))
    low = anatomy @ rng.normal(size=(2, 16)) + rng.normal(0, 0.1, (n, 16))
    high = 2.0 * anatomy @ rng.normal(size=(2, 16)) + rng.normal(0, 0.1, (n, 16))
    slice_ = rng.random(n) < 0.2
    high[slice_] += 0.6  # sharper: every upper band up, small against the anatomy's spread
    table = pl.DataFrame({f"band_{i:02d}": np.c_[low, high][:, i] for i in range(32)})
    plain = SpectralClusters(4, anatomy_components=0, random_state=0).fit(table)
    adjusted = SpectralClusters(4, random_state=0).fit(table)  # the default: 2 components
    assert list(adjusted.anatomy_low_) == list(range(16)) and list(adjusted.anatomy_high_) == list(range(16, 32))
    assert len(plain.anatomy_high_) == 0
    # the residual upper bands no longer follow the anatomy
    z = adjusted.embed(table)
    assert np.abs(np.corrcoef(np.c_[anatomy, z[:, 16:]].T)[:2, 2:]).max() < 0.3
    # summarised, the lower half is two columns that carry the anatomy the sixteen bands held
    summarised = SpectralClusters(4, lower_bands="components", random_state=0).fit(table)
    assert summarised.embedding_names_ == ["anatomy_1", "anatomy_2"] + [f"band_{i:02d}" for i in range(16, 32)]
    zs = summarised.embed(table)
    np.testing.assert_allclose(zs[:, 2:], z[:, 16:])  # the adjusted upper bands are the same
    assert np.linalg.lstsq(np.c_[np.ones(n), zs[:, :2]], anatomy, rcond=None)[1].sum() < 0.05 * n
    assert _slice_separation(summarised, table, slice_) > 3 * _slice_separation(plain, table, slice_)
    assert _slice_separation(adjusted, table, slice_) > 3 * _slice_separation(plain, table, slice_)


def test_anatomy_adjustment_sharpens_a_planted_slice_of_real_cxrs(cxr_real_dir):
    """NIH images, a fifth of them sharpened: the slice stands further apart after the adjustment."""
    from PIL import Image

    import spectral_fast
    from spectral_fast.simulate import acquire

    meta = pl.read_csv(cxr_real_dir / "metadata.csv").filter(pl.col("dataset") == "nih-cxr14")
    images = [np.asarray(Image.open(cxr_real_dir / f).convert("L")) for f in meta["file"]]
    images = [im for im in images if im.shape == (1024, 1024)]
    slice_ = np.zeros(len(images), dtype=bool)
    slice_[np.random.default_rng(0).choice(len(images), len(images) // 5, replace=False)] = True
    table = spectral_fast.profile([acquire.sharpen(im) if s else im for im, s in zip(images, slice_)], artefacts=False)
    plain = SpectralClusters(4, anatomy_components=0, random_state=0).fit(table)
    adjusted = SpectralClusters(4, random_state=0).fit(table)
    # measured: 3.07 -> 3.64 pooled sds
    assert _slice_separation(adjusted, table, slice_) > 1.1 * _slice_separation(plain, table, slice_)


def test_anatomy_adjustment_round_trips_and_checks_its_parameter(tmp_path):
    df, _ = make_profiles()
    m = SpectralClusters(4, anatomy_components=2, random_state=0).fit(df)
    assert m.anatomy_coef_.shape == (16, 16)
    loaded = SpectralClusters.load(m.save(tmp_path / "m")[0])
    np.testing.assert_allclose(loaded.transform(df), m.transform(df))
    np.testing.assert_allclose(loaded.predict_proba(df), m.predict_proba(df))
    arrays = SpectralClusters(4, anatomy_components=2, random_state=0).fit(df.select("band_00", "band_01").to_numpy())
    assert len(arrays.anatomy_high_) == 0  # no band names: nothing to adjust
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InvalidInputError, match="anatomy_components"):
            SpectralClusters(anatomy_components=bad).fit(df)
    # by default the clustering space is the feature space; summarised lower bands survive a round trip too
    assert m.embedding_names_ == m.features_ and m.cluster_centers_.shape == (4, len(m.features_))
    short = SpectralClusters(4, lower_bands="components", random_state=0).fit(df)
    assert short.embedding_names_[:2] == ["anatomy_1", "anatomy_2"]
    assert short.cluster_centers_.shape[1] == len(short.features_) - 14
    reloaded = SpectralClusters.load(short.save(tmp_path / "short")[0])
    assert reloaded.embedding_names_ == short.embedding_names_
    np.testing.assert_allclose(reloaded.predict_proba(df), short.predict_proba(df))
    with pytest.raises(InvalidInputError, match="lower_bands"):
        SpectralClusters(lower_bands="pcs").fit(df)


def profiled_mixed_sizes(n: int = 48) -> pl.DataFrame:
    """Profiles of random power-law images of two matrix sizes (the core's table: band_*, low, height, width)."""
    import spectral_fast as sf

    rng = np.random.default_rng(5)
    images = []
    for i in range(n):
        side = 96 if i % 2 else 160
        f = np.maximum(np.hypot(np.fft.fftfreq(side)[:, None], np.fft.rfftfreq(side)[None, :]), 1.0 / side)
        spectrum = f ** (-1.3 - 0.2 * rng.random()) * np.exp(2j * np.pi * rng.random(f.shape))
        images.append(np.fft.irfft2(spectrum, s=(side, side)))
    return sf.profile(images, artefacts=False)


def test_frequency_axis_field_clusters_on_size_invariant_bands(tmp_path):
    from spectral_fast.profiling.field_bands import FIELD_COLUMNS, FINE_COLUMNS

    table = profiled_mixed_sizes()
    m = SpectralClusters(3, frequency_axis="field", random_state=0).fit(table)
    assert m.features_ == FIELD_COLUMNS[:21] + FINE_COLUMNS  # above 80 cycles/field (160 px): no image
    assert len(m.anatomy_low_) == len(m.anatomy_high_) > 0  # the adjustment sees the re-binned bands
    assert np.array_equal(m.predict(table), m.labels_)  # the raw table is re-binned at prediction too
    m.save(tmp_path / "m")
    assert np.array_equal(SpectralClusters.load(tmp_path / "m").predict(table), m.labels_)
    pixel = SpectralClusters(3, random_state=0).fit(table)  # the default
    assert pixel.features_ == sorted(c for c in table.columns if c.startswith("band_"))
    assert feature_columns(list(table.columns) + FIELD_COLUMNS + FINE_COLUMNS, "bands", "pixel") == pixel.features_
    with pytest.raises(InvalidInputError, match="frequency_axis"):
        SpectralClusters(3, frequency_axis="mm").fit(table)
