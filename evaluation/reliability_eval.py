"""Does the spectral reliability estimate predict a real classifier's accuracy on shifted data?

One command (about an hour from a cold cache on 2 cores shared with other
jobs, about 20 minutes for the 20 seeds once the image pools are cached)::

    python evaluation/reliability_eval.py                 # full run, writes evaluation/results/reliability.{json,md}
    python evaluation/reliability_eval.py --quick         # smoke run: few images, one seed

Scenarios (pool of images + real classifier):

``cad``
    The demo's setting (:mod:`spectral_fast.demo`): its dataset plan
    (``--cad-images`` 256-px synthetic films, default 1800 as in the demo,
    35 % of them clean training films) and its blob-CAD classifier (DoG
    candidates, gradient-boosted trees, calibrated), trained once on the clean
    training films. This classifier fails *because of acquisition* (the demo
    measures 13 % error clean against 36-41 % under its blur / noise /
    sharpening), which is what the method is about. The other 65 % of the
    films (1170 by default) exist clean and under each of the demo's three
    shifts; per seed they are split in halves, labelled reference and test,
    so a test batch holds 585 films (phantoms are unlimited: larger batches
    bring the binomial noise floor of the batch error down, to about 0.015,
    and the floor is reported next to every figure).

The others use the small model of the planted-slice benchmark
(``evaluation/planted_slices.py``: a 16 x 16 thumbnail plus the texture energy
of eight random 3 x 3 filters on a 4 x 4 grid, at 512 px, then logistic
regression), trained per seed on clean images only, and every acquisition
change of :mod:`spectral_fast.simulate.acquire` at its default strength. This model
hardly degrades under the changes (clean 0.79, changed 0.73-0.78 on
phantoms), so there is little acquisition-driven error for clusters to
predict; it is kept as the harder case.

``nih``
    The 121 NIH ChestX-ray14 images of ``../shared/data/cxr-real`` labelled
    normal or pneumonia.
``phantom``
    Candidate patches of a CAD second stage: 128 x 128 px crops of 512-px
    phantoms (:mod:`spectral_fast.simulate.phantom`) centred (+-6 px) on a nodule, and
    the same crop of the same patient without it (synth draws the same
    anatomy for the same seed). Whole-phantom nodule detection with small
    hand-made models stayed near chance (0.53-0.61), so the patch task is the
    phantom task. ``--pairs`` phantom patients (default 600, 1200 patches)
    give 400-patch test batches, whose binomial noise floor (0.017) sits well
    under the 0.03 target; with the earlier 200 (134-patch batches) the floor
    was 0.029 and no estimate could be told from it.
``phantom_confounded``
    The same patches, but the classifier's training set comes from two
    sites, the second one noisier (the ``noise`` change) and holding 70 % of
    the positives against 30 % of the negatives: the label-acquisition
    confounding real multi-site data has (in the NIH set, view and detector
    go with the label).

In those, every image exists clean and under each acquisition change of
:mod:`spectral_fast.simulate.acquire` at its default strength, and per seed patients
are split into train (classifier), reference (labelled; clean images plus each
changed version with probability 1/2) and test (``cad``: reference and test
halves, the reference built the same way). The reference gets the
blind-spot treatment: spectral profiles (``spectral_fast.profile``, the
defaults), :class:`~spectral_fast.analysis.clustering.SpectralClusters` with its defaults
and :func:`~spectral_fast.reliability.reference_set.build_reference`. Test batches hold each
test patient once, clean or changed: for every change, a share of 0.25, 0.5
or 1 changed, plus an all-clean and a mixed batch (half the images, each
under a random change).

Predicted batch and slice (cluster) accuracy against the actual accuracy:
ours (1 - mean spectral risk), ours + confidence (1 - mean of the combined
risk of :func:`spectral_fast.reliability.confidence.confidence_risk`, fitted on the
reference with the classifier's scores and the patients as groups), ATC (threshold on the confidence such that the
reference's share above it equals its accuracy; predicted accuracy is the
batch's share above it), DoC (reference accuracy plus the batch's mean
confidence minus the reference's) and the mean confidence itself. Per-image:
AUROC of the spectral risk, of the combined risk and of 1 - confidence for the
classifier's errors, on the test images clean plus changed by one change
(ATC's and DoC's per-image scores are the confidence thresholded or shifted,
so their AUROC is the confidence's). Two ablations of the combined risk, on
the same images: the format-2 model (cluster log-odds + margin, unpenalised)
and the score alone refitted on the reference (its side of the threshold +
margin, no clusters), to show which part of a gain comes from the clusters.
A novelty check leaves each
change out of the reference and predicts batches fully changed by it (these
eight refits use 2 mixture restarts instead of 10, to keep the run short).
The unknown-territory flag should fire on about 1 % of new images like the
reference's: the share flagged is measured on the clean test batch and on the
test patients drawn as the reference was (clean plus each change with
probability 1/2), with the reference's threshold (held out, format 4) and
with the in-sample 99th percentile that formats 1-3 stored.

The noise floor is the mean absolute difference between a batch's actual
accuracy and its expectation from binomial noise alone,
``sqrt(2 / pi) sqrt(a (1 - a) / n)``: no method can do better on average.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
# spectral_fast is the installed package (make setup / make dev): python/ alone lacks the compiled core.
sys.path.insert(0, str(ROOT / "evaluation"))  # the planted-slice benchmark's classifier

from spectral_fast.simulate import acquire

REAL = ROOT.parent / "shared" / "data" / "cxr-real"
VARIANTS = ("clean",) + acquire.CHANGES
SHARES = (0.25, 0.5, 1.0)
#: Prior strengths compared with the fitted one (ablation of the shrinkage).
PRIOR_STRENGTHS = ("auto", 0.0, 2.0, 5.0, 10.0, 50.0)
#: Confidence models with fixed inputs, unpenalised, for the per-image AUROC ablation: what reference.json
#: format 2 saved (cluster + margin), and the score alone refitted (its side of the threshold + margin, no clusters).
ABLATION_MODELS = {"combined_v2": ("cluster_logodds", "score_margin"), "score_refit": ("score_logit", "score_margin")}
#: Scenarios: (name, pool, training confound).
SCENARIOS = {
    "cad": ("cad", None),
    "phantom": ("phantom", None),
    "phantom_confounded": ("phantom", "noise"),
    "nih": ("nih", None),
}
PATCH, PHANTOM_SIZE = 128, 512


# ------------------------------------------------------------------ classifier
def texture_filters() -> np.ndarray:
    """The eight fixed random zero-mean 3 x 3 filters of the planted-slice benchmark's classifier."""
    filters = np.random.default_rng(12345).normal(size=(8, 3, 3))
    filters -= filters.mean(axis=(1, 2), keepdims=True)
    return filters / np.linalg.norm(filters, axis=(1, 2), keepdims=True)


def clf_features(image: np.ndarray) -> np.ndarray:
    """The planted-slice benchmark's classifier input (thumbnail + random-filter texture at 512 px)."""
    from planted_slices import classifier_features

    return classifier_features(image, texture_filters())


# ------------------------------------------------------------------ pools
def _variants(img: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    out = {"clean": img}
    for i, change in enumerate(acquire.CHANGES):
        out[change] = acquire.apply(img, change, rng=np.random.default_rng([seed, i]))
    return out


def _profile_rows(images: list[np.ndarray]) -> pl.DataFrame:
    """Spectral profiles (Rust core, defaults) plus the artefact features the report clusters on."""
    import spectral_fast as sf
    from spectral_fast.profiling.artefacts_oracle import artefact_table

    prof = sf.profile(images, threads=1)
    extra = artefact_table(images)  # only the artefact features the profiler did not write itself
    return pl.concat([prof, extra.select([c for c in extra.columns if c not in prof.columns])], how="horizontal")


def _nih_item(args: tuple[int, str]) -> tuple[pl.DataFrame, np.ndarray]:
    from PIL import Image

    from spectral_fast.profiling.oracle import to_float_gray

    i, path = args
    with Image.open(path) as im:
        img = np.rint(to_float_gray(np.asarray(im))).astype(np.uint8)  # 3 NIH PNGs are stored as RGBA
    var = _variants(img, i)
    return _profile_rows([var[v] for v in VARIANTS]), np.array([clf_features(var[v]) for v in VARIANTS])


def _phantom_item(args: tuple[int, int]) -> tuple[pl.DataFrame, np.ndarray]:
    from spectral_fast.simulate import phantom as synth

    pair, seed = args
    with_nodule = synth.make_phantom(PHANTOM_SIZE, finding="nodule", seed=seed)
    without = synth.make_phantom(PHANTOM_SIZE, finding=None, seed=seed)
    rng = np.random.default_rng([seed, 99])
    cy, cx = (int(round(c + d)) for c, d in zip(with_nodule.finding.center, rng.integers(-6, 7, 2)))
    top = min(max(cy - PATCH // 2, 0), PHANTOM_SIZE - PATCH)
    left = min(max(cx - PATCH // 2, 0), PHANTOM_SIZE - PATCH)
    frames, feats = [], []
    for label, ph in ((1, with_nodule), (0, without)):
        # Changes act on the whole film before the crop, as acquisition does.
        var = _variants(ph.image, 2 * pair + label)
        crops = [np.ascontiguousarray(var[v][top : top + PATCH, left : left + PATCH]) for v in VARIANTS]
        frames.append(_profile_rows(crops))
        feats.append(np.array([clf_features(c) for c in crops]))
    return pl.concat(frames), np.concatenate(feats)


def _load_cached(key: Path) -> dict:
    """A pool saved by :func:`_save_cached`: arrays from ``key`` (npz), profiles from its ``.parquet`` twin."""
    with np.load(key, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    data["profiles"] = pl.read_parquet(key.with_suffix(".parquet"))
    return data


def _save_cached(key: Path, data: dict, profiles: pl.DataFrame) -> dict:
    key.parent.mkdir(parents=True, exist_ok=True)
    np.savez(key, **data)
    profiles.write_parquet(key.with_suffix(".parquet"))
    return {**data, "profiles": profiles}


# The demo's blob CAD (spectral_fast.demo): trained once on clean films, scored on every variant.
def _cad_train_item(spec):
    """Candidate features and labels of one clean training film (the demo's own preparation)."""
    from spectral_fast.demo import prepare_one

    _, features, labels, _ = prepare_one((spec, None))
    return spec.split, features, labels, int(spec.finding is not None)


def _cad_eval_item(args) -> tuple[pl.DataFrame, list[np.ndarray]]:
    """One evaluation film clean and under each of the demo's shifts: profiles and candidate features."""
    from spectral_fast import demo

    i, spec = args
    image, _ = demo.make_image(spec)  # spec.setting is "clean"
    variants = [image] + [
        acquire.apply(image, change, strength, rng=np.random.default_rng([spec.seed % 2**32, i, j]))
        for j, (change, strength) in enumerate(demo.SHIFTS.values())
    ]
    return _profile_rows(variants), [demo.candidate_features(v)[0] for v in variants]


def build_cad_pool(n_images: int, cache: Path, workers: int) -> dict:
    """The demo's dataset plan (35 % clean training films) and classifier; the rest is the evaluation pool.

    The classifier is trained once (seed 0) on the demo's fit/calibrate films;
    each evaluation film exists clean and under each of the demo's shifts, with
    its spectral profile and the classifier's probability. Seeds of the
    evaluation then vary the reference/test split and the batches.
    """
    import dataclasses

    from spectral_fast import demo

    key = cache / f"cad_{n_images}_v1.npz"
    if key.exists():
        return _load_cached(key)
    t0 = time.perf_counter()
    specs = demo.plan_dataset(n_images, 20251129)
    train = [s for s in specs if s.split != "test"]
    test = [dataclasses.replace(s, setting="clean") for s in specs if s.split == "test"]
    ctx = get_context("spawn")
    with ctx.Pool(workers) as pool:
        done = pool.map(_cad_train_item, train, chunksize=8)
        fit = [(f, lab) for split, f, lab, _ in done if split == "fit"]
        cal = [(f, y) for split, f, _, y in done if split == "calibrate"]
        clf = demo.train_classifier(fit, cal, 0)
        frames, probs = [], []
        for prof, feats in pool.imap(_cad_eval_item, list(enumerate(test)), chunksize=8):
            frames.append(prof)
            probs.append(clf.predict_proba(feats))
    data = {
        "labels": np.array([int(s.finding is not None) for s in test], dtype=np.int64),
        "groups": np.arange(len(test)),
        "prob": np.array(probs),  # (image, variant)
        "variants": np.array(("clean",) + tuple(demo.SHIFTS)),
        "seconds": np.array(time.perf_counter() - t0),
    }
    return _save_cached(key, data, pl.concat(frames))


def build_pool(name: str, n_pairs: int, cache: Path, workers: int) -> dict:
    """Profiles and classifier features of every image x variant, cached in ``cache``."""
    key = cache / (f"{name}_v3.npz" if name == "nih" else f"{name}_{n_pairs}_v3.npz")
    if key.exists():
        return _load_cached(key)
    t0 = time.perf_counter()
    if name == "nih":
        meta = pl.read_csv(REAL / "metadata.csv").filter(
            (pl.col("dataset") == "nih-cxr14") & pl.col("task_label").is_in(["normal", "pneumonia"])
        )
        jobs = [(i, str(REAL / f)) for i, f in enumerate(meta["file"])]
        func, labels = _nih_item, (meta["task_label"] == "pneumonia").to_numpy().astype(np.int64)
        groups = np.arange(meta.height)
    else:
        seeds = np.random.default_rng(20250607).integers(0, 2**31 - 1, n_pairs)
        jobs = [(p, int(s)) for p, s in enumerate(seeds)]
        func = _phantom_item
        labels = np.tile([1, 0], n_pairs)
        groups = np.repeat(np.arange(n_pairs), 2)
    with get_context("spawn").Pool(workers) as pool:
        results = pool.map(func, jobs, chunksize=1)
    profiles = pl.concat([r[0] for r in results])
    features = np.concatenate([r[1] for r in results])
    n_img = len(labels)
    data = {
        "labels": labels,
        "groups": groups,
        # rows are image-major: image i, variant v at i * len(VARIANTS) + v
        "features": features.reshape(n_img, len(VARIANTS), -1),
        "seconds": np.array(time.perf_counter() - t0),
    }
    return _save_cached(key, data, profiles)


# ------------------------------------------------------------------ baselines
def atc_predict(conf_ref: np.ndarray, correct_ref: np.ndarray, conf: np.ndarray) -> float:
    """Average thresholded confidence (Garg et al. 2022), max-probability score."""
    t = np.quantile(conf_ref, 1.0 - correct_ref.mean())
    return float((conf > t).mean())


def doc_predict(conf_ref: np.ndarray, correct_ref: np.ndarray, conf: np.ndarray) -> float:
    """Difference of confidences (Guillory et al. 2021)."""
    return float(correct_ref.mean() + conf.mean() - conf_ref.mean())


# ------------------------------------------------------------------ evaluation
def _split(
    groups: np.ndarray, rng: np.random.Generator, train: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patients into train / reference / test thirds, or (``train=False``: the classifier is trained already) halves."""
    uniq = rng.permutation(np.unique(groups))
    a, b = (len(uniq) // 3, 2 * len(uniq) // 3) if train else (0, len(uniq) // 2)
    return tuple(np.isin(groups, part) for part in (uniq[:a], uniq[a:b], uniq[b:]))  # type: ignore[return-value]


def evaluate(pool: dict, seed: int, confound: str | None = None) -> dict:
    """One seed: classifier, reference, test batches; every metric of the module docstring.

    ``confound``: train the classifier on two "sites", the second acquiring
    with this change and holding 70 % of the positives but 30 % of the
    negatives (the label-acquisition confounding of real multi-site data).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from spectral_fast._shared.stats import auroc
    from spectral_fast.analysis.clustering import SpectralClusters
    from spectral_fast.reliability.confidence import confidence_risk, fit_confidence_model
    from spectral_fast.reliability.rates import expected_accuracy, shrunk_rates
    from spectral_fast.reliability.reference_set import build_reference

    rng = np.random.default_rng(seed)
    y, groups = pool["labels"], pool["groups"]
    variants = tuple(str(v) for v in pool.get("variants", VARIANTS))
    if "prob" in pool:  # the demo's CAD, trained once when the pool was built
        prob = pool["prob"]
        n_img, n_var = prob.shape
        train, ref, test = _split(groups, rng, train=False)
    else:
        feats = pool["features"]
        n_img, n_var = feats.shape[:2]
        train, ref, test = _split(groups, rng)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=5000))
        train_idx = np.flatnonzero(train)
        site = np.zeros(len(train_idx), dtype=np.int64)
        if confound is not None:
            p_site = np.where(y[train_idx] == 1, 0.7, 0.3)
            site = np.where(
                np.random.default_rng([seed, 3]).random(len(train_idx)) < p_site, variants.index(confound), 0
            )
        clf.fit(feats[train_idx, site], y[train_idx])
        prob = clf.predict_proba(feats.reshape(n_img * n_var, -1))[:, 1].reshape(n_img, n_var)
    conf = np.maximum(prob, 1 - prob)
    wrong = (prob >= 0.5) != y[:, None]
    table = pool["profiles"]

    def rows(img_idx: np.ndarray, var_idx: np.ndarray) -> pl.DataFrame:
        return table[(img_idx * n_var + var_idx).tolist()]

    def drawn_like_reference(
        img: np.ndarray, stream: int, excluded: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every image clean, plus each changed version with probability 1/2 (but ``excluded``): the reference's draw."""
        pick_i, pick_v = [img], [np.zeros(len(img), dtype=np.int64)]
        sub = np.random.default_rng([seed, stream])
        for v in range(1, n_var):
            chosen = img[sub.random(len(img)) < 0.5]
            if v != excluded:
                pick_i.append(chosen)
                pick_v.append(np.full(len(chosen), v))
        return np.concatenate(pick_i), np.concatenate(pick_v)

    def fit_reference(excluded: int | None, n_init: int = 10):
        ii, vv = drawn_like_reference(np.flatnonzero(ref), 7, excluded)
        prof = rows(ii, vv)
        model = SpectralClusters(n_init=n_init, random_state=seed).fit(prof)
        # groups: a patient's clean and changed images share outcomes, so the confidence model's folds keep them together
        reference = build_reference(prof, model, {"y": wrong[ii, vv]}, scores={"y": prob[ii, vv]}, groups=groups[ii])
        return model, reference, ii, vv

    def ablation_models(model, reference, ii, vv) -> dict:
        """Confidence models with fixed inputs and no penalty search: the format-2 one and the score alone refitted."""
        from spectral_fast.reliability.confidence import held_out_cluster_risk
        from spectral_fast.reliability.reference_set import cluster_posterior

        f = reference.finding("y")
        post, _ = cluster_posterior(model, rows(ii, vv))
        held_out = held_out_cluster_risk(post, wrong[ii, vv], groups[ii], f["prior_mean"], f["prior_strength"])
        return {
            name: fit_confidence_model(held_out, prob[ii, vv], wrong[ii, vv], 0.5, features=feats_, penalties=(0.0,))
            for name, feats_ in ABLATION_MODELS.items()
        }

    def predict_batch(model, reference, ii, vv):
        """Posterior, shrunk rates and distance to the nearest centre, plus the combined (spectral + confidence) risk per image."""
        from spectral_fast.reliability.reference_set import cluster_posterior

        post, dist = cluster_posterior(model, rows(ii, vv))
        rate, var = reference.rates("y")
        combined = confidence_risk(reference.finding("y")["confidence_model"], post @ rate, prob[ii, vv])
        return post, rate, var, dist, combined

    def unknown_shares(dist, reference) -> dict:
        """Share of images flagged unknown territory with the reference's threshold and with the in-sample one."""
        in_sample = reference.distance_calibration["in_sample_threshold"]
        return {
            "held_out": float((dist > reference.distance_threshold).mean()),
            "in_sample": float((dist > in_sample).mean()),
        }

    model, reference, ref_i, ref_v = fit_reference(None)
    conf_ref, correct_ref = conf[ref_i, ref_v], ~wrong[ref_i, ref_v]
    ablations = ablation_models(model, reference, ref_i, ref_v)
    test_img = np.flatnonzero(test)
    batches = [("clean", 0.0, np.zeros(len(test_img), dtype=np.int64))]
    for v in range(1, n_var):
        for share in SHARES:
            vv = np.where(rng.random(len(test_img)) < share, v, 0)
            batches.append((variants[v], share, vv))
    mixed = np.where(rng.random(len(test_img)) < 0.5, rng.integers(1, n_var, len(test_img)), 0)
    batches.append(("mixed", 0.5, mixed))

    # Calibration of the unknown-territory flag: new patients, drawn as the reference was, and clean (the clean
    # batch's share is taken in the batch loop, from the distances measured there).
    flag_calibration = {
        "like_reference": unknown_shares(
            model.transform(rows(*drawn_like_reference(test_img, 8))).min(axis=1), reference
        ),
        "optimism": reference.distance_calibration["optimism"] or float("nan"),  # None: too few images to measure it
    }
    batch_rows, slice_rows = [], []
    for change, share, vv in batches:
        post, rate, var, dist, combined = predict_batch(model, reference, test_img, vv)
        flagged = unknown_shares(dist, reference)
        if change == "clean":
            flag_calibration["clean"] = flagged
        c, correct = conf[test_img, vv], ~wrong[test_img, vv]
        actual = float(correct.mean())
        ours = expected_accuracy(post, rate, var)
        f = reference.finding("y")
        ablation = {
            f"ours_m{m}": expected_accuracy(
                post, *shrunk_rates(np.array(f["errors"]), np.array(f["n"]), prior_strength=m)[:2]
            )[0]
            for m in PRIOR_STRENGTHS
        }
        batch_rows.append(
            {
                "change": change, "share": share, "n": len(vv), "actual": actual, "ours": ours[0],
                "ours_low": ours[2], "ours_high": ours[3], "combined": 1.0 - float(combined.mean()),
                "atc": atc_predict(conf_ref, correct_ref, c),
                "doc": doc_predict(conf_ref, correct_ref, c), "confidence": float(c.mean()),
                "unknown": flagged["held_out"],
                "floor": math.sqrt(2 / math.pi) * math.sqrt(max(actual * (1 - actual), 1e-9) / len(vv)),
                **ablation,
            }
        )  # fmt: skip
        labels = post.argmax(axis=1)
        for k in np.unique(labels):
            inside = labels == k
            if inside.sum() < 10:
                continue
            slice_rows.append(
                {
                    "change": change, "share": share, "cluster": int(k), "n": int(inside.sum()),
                    "actual": float(correct[inside].mean()),
                    "ours": expected_accuracy(post[inside], rate, var)[0],
                    "combined": 1.0 - float(combined[inside].mean()),
                    "atc": atc_predict(conf_ref, correct_ref, c[inside]),
                    "doc": doc_predict(conf_ref, correct_ref, c[inside]),
                    "confidence": float(c[inside].mean()),
                }
            )  # fmt: skip

    auc_rows = []
    for v in range(1, n_var):
        ii = np.concatenate([test_img, test_img])
        vv = np.concatenate([np.zeros(len(test_img), dtype=np.int64), np.full(len(test_img), v)])
        post, rate, _, _, combined = predict_batch(model, reference, ii, vv)
        err = wrong[ii, vv]
        auc_rows.append(
            {"change": variants[v], "error_rate": float(err.mean()), "risk": auroc(err, post @ rate),
             "combined": auroc(err, combined), "confidence": auroc(err, -conf[ii, vv]),
             **{name: auroc(err, confidence_risk(cm, post @ rate, prob[ii, vv])) for name, cm in ablations.items()}}
        )  # fmt: skip

    novel_rows = []
    for v in range(1, n_var):
        m_v, r_v, ri, rv = fit_reference(v, n_init=2)
        cr, okr = conf[ri, rv], ~wrong[ri, rv]
        vv = np.full(len(test_img), v)
        post, rate, var, dist, combined = predict_batch(m_v, r_v, test_img, vv)
        flagged = unknown_shares(dist, r_v)
        c, correct = conf[test_img, vv], ~wrong[test_img, vv]
        novel_rows.append(
            {"change": variants[v], "actual": float(correct.mean()), "ours": expected_accuracy(post, rate, var)[0],
             "combined": 1.0 - float(combined.mean()),
             "atc": atc_predict(cr, okr, c), "doc": doc_predict(cr, okr, c), "unknown": flagged["held_out"],
             "unknown_in_sample": flagged["in_sample"]}
        )  # fmt: skip
    return {
        "seed": seed,
        "variants": list(variants),
        "clean_accuracy": float((~wrong[test_img, 0]).mean()),
        "reference_n": int(reference.n),
        "k": int(model.n_clusters_),
        "confidence_model": reference.finding("y")["confidence_model"],
        "batches": batch_rows,
        "slices": slice_rows,
        "auroc": auc_rows,
        "novel": novel_rows,
        "unknown": flag_calibration,
    }


# ------------------------------------------------------------------ summary
def _mae(rows: list[dict], method: str) -> float:
    return float(np.mean([abs(r[method] - r["actual"]) for r in rows])) if rows else float("nan")


def summarise(runs: list[dict]) -> dict:
    """Per seed, then mean and sd over seeds."""
    methods = ("ours", "combined", "atc", "doc", "confidence")
    per_seed = []
    for run in runs:
        shifted = [b for b in run["batches"] if b["change"] != "clean"]
        per_seed.append(
            {
                **{f"batch_{m}": _mae(shifted, m) for m in methods},
                **{f"slice_{m}": _mae(run["slices"], m) for m in methods},
                "batch_floor": float(np.mean([b["floor"] for b in shifted])),
                "coverage": float(np.mean([b["ours_low"] <= b["actual"] <= b["ours_high"] for b in shifted])),
                "auroc_risk": float(np.nanmean([a["risk"] for a in run["auroc"]])),
                "auroc_combined": float(np.nanmean([a["combined"] for a in run["auroc"]])),
                "auroc_confidence": float(np.nanmean([a["confidence"] for a in run["auroc"]])),
                **{f"auroc_{m}": float(np.nanmean([a[m] for a in run["auroc"]])) for m in ABLATION_MODELS},
                "confidence_only": float(run["confidence_model"]["penalty"] is None),
                **{f"novel_{m}": _mae(run["novel"], m) for m in ("ours", "combined", "atc", "doc")},
                "novel_unknown": float(np.mean([r["unknown"] for r in run["novel"]])),
                "novel_unknown_in_sample": float(np.mean([r["unknown_in_sample"] for r in run["novel"]])),
                "clean_unknown": float(run["batches"][0]["unknown"]),
                "clean_unknown_in_sample": run["unknown"]["clean"]["in_sample"],
                "like_unknown": run["unknown"]["like_reference"]["held_out"],
                "like_unknown_in_sample": run["unknown"]["like_reference"]["in_sample"],
                "distance_optimism": run["unknown"]["optimism"],
                "clean_accuracy": run["clean_accuracy"],
                **{f"batch_ours_m{m}": _mae(shifted, f"ours_m{m}") for m in PRIOR_STRENGTHS},
                "k": run["k"],
            }
        )
    keys = per_seed[0].keys()
    stats = {k: (float(np.mean([s[k] for s in per_seed])), float(np.std([s[k] for s in per_seed]))) for k in keys}
    by_change = {}
    for change in tuple(runs[0]["variants"][1:]) + ("mixed",):
        rows = [b for run in runs for b in run["batches"] if b["change"] == change]
        aucs = [a for run in runs for a in run["auroc"] if a["change"] == change]
        by_change[change] = {
            **{m: _mae(rows, m) for m in methods},
            "actual": float(np.mean([b["actual"] for b in rows])),
            "floor": float(np.mean([b["floor"] for b in rows])),
            "auroc_risk": float(np.nanmean([a["risk"] for a in aucs])) if aucs else float("nan"),
            "auroc_combined": float(np.nanmean([a["combined"] for a in aucs])) if aucs else float("nan"),
            "auroc_confidence": float(np.nanmean([a["confidence"] for a in aucs])) if aucs else float("nan"),
            **{
                f"auroc_{m}": float(np.nanmean([a[m] for a in aucs])) if aucs else float("nan") for m in ABLATION_MODELS
            },
            "error_rate": float(np.mean([a["error_rate"] for a in aucs])) if aucs else float("nan"),
        }
    return {"per_seed": per_seed, "mean_sd": stats, "by_change": by_change}


def markdown(results: dict) -> str:
    def ms(pool: str, key: str, digits: int = 3) -> str:
        m, s = results[pool]["summary"]["mean_sd"][key]
        return f"{m:.{digits}f} ± {s:.{digits}f}"

    pools = [p for p in SCENARIOS if p in results]
    lines = [
        "## Reliability without labels: predicted vs actual accuracy",
        "",
        f"`python evaluation/reliability_eval.py` ({results['config']['seeds']} seeds, mean ± sd over seeds; evaluation "
        + ", ".join(f"{p} {results[p]['eval_seconds']:.0f} s" for p in pools)
        + "; building the image pools took "
        + ", ".join(f"{p} {results[p]['build_seconds']:.0f} s" for p in pools if p in ("cad", "phantom", "nih"))
        + " on 2 cores shared with other jobs, cached after). Mean absolute error of the predicted accuracy over the "
        "shifted test batches (25/50/100 % of the images changed by one acquisition change, plus a mixed batch), and "
        "over the slices (clusters with at least 10 images in a batch). AUROC of the per-image score for the "
        "classifier's errors, mean over the changes (test images clean + changed; cad: the demo's 3 shifts, "
        "the others: 8 changes).",
        "",
        "| metric | " + " | ".join(pools) + " |",
        "|---|" + "---|" * len(pools),
    ]
    rows = [
        ("test images per batch", None),
        ("classifier accuracy, clean test images", "clean_accuracy"),
        ("batch accuracy error, **ours** (spectral)", "batch_ours"),
        ("batch accuracy error, **ours + confidence**", "batch_combined"),
        ("batch accuracy error, ATC", "batch_atc"),
        ("batch accuracy error, DoC", "batch_doc"),
        ("batch accuracy error, mean confidence", "batch_confidence"),
        ("binomial noise floor of the batch error", "batch_floor"),
        ("95 % interval covers the actual batch accuracy", "coverage"),
        ("slice accuracy error, **ours** (spectral)", "slice_ours"),
        ("slice accuracy error, **ours + confidence**", "slice_combined"),
        ("slice accuracy error, ATC", "slice_atc"),
        ("slice accuracy error, DoC", "slice_doc"),
        ("per-image error AUROC, **spectral risk**", "auroc_risk"),
        ("per-image error AUROC, **spectral risk + confidence**", "auroc_combined"),
        ("per-image error AUROC, 1 - confidence (= ATC's, DoC's per-image score)", "auroc_confidence"),
        ("per-image error AUROC, ablation: cluster + margin unpenalised (format 2)", "auroc_combined_v2"),
        ("per-image error AUROC, ablation: score refitted alone (side + margin, no clusters)", "auroc_score_refit"),
        ("combined risk: seeds where cross-validation kept the confidence alone (share)", "confidence_only"),
        ("change left out of the reference: batch error, ours", "novel_ours"),
        ("change left out of the reference: batch error, ours + confidence", "novel_combined"),
        ("change left out of the reference: batch error, ATC", "novel_atc"),
        ("change left out of the reference: batch error, DoC", "novel_doc"),
        ("change left out: share flagged unknown territory", "novel_unknown"),
        ("change left out: share flagged, in-sample threshold (formats 1-3)", "novel_unknown_in_sample"),
        ("clean batch: share flagged unknown territory (nominal 0.01)", "clean_unknown"),
        ("clean batch: share flagged, in-sample threshold (formats 1-3)", "clean_unknown_in_sample"),
        ("new images drawn like the reference: share flagged (nominal 0.01)", "like_unknown"),
        (
            "new images drawn like the reference: share flagged, in-sample threshold (formats 1-3)",
            "like_unknown_in_sample",
        ),
        (
            "unknown territory: held-out / in-sample distance at the 90th percentile (optimism factor)",
            "distance_optimism",
        ),
        ("clusters (k, automatic)", "k"),
    ] + [(f"batch accuracy error, ours with prior strength m = {m}", f"batch_ours_m{m}") for m in PRIOR_STRENGTHS]
    for label, key in rows:
        if key is None:
            lines.append(f"| {label} | " + " | ".join(str(results[p]["batch_n"]) for p in pools) + " |")
        else:
            lines.append(f"| {label} | " + " | ".join(ms(p, key, 1 if key == "k" else 3) for p in pools) + " |")
    for pool in pools:
        lines += [
            "",
            f"Per change ({pool}): actual accuracy, binomial noise floor and batch accuracy error of each method "
            "(mean over the 25/50/100 % batches and seeds), per-image AUROC.",
            "",
            "| change | actual acc. | floor | ours | ours + conf. | ATC | DoC | AUROC risk | AUROC risk + conf. | AUROC 1-conf "
            "| AUROC format-2 comb. | AUROC score refit |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for change, r in results[pool]["summary"]["by_change"].items():
            lines.append(
                f"| {change} | {r['actual']:.3f} | {r['floor']:.3f} | {r['ours']:.3f} | {r['combined']:.3f} | {r['atc']:.3f} | "
                f"{r['doc']:.3f} | {r['auroc_risk']:.3f} | {r['auroc_combined']:.3f} | {r['auroc_confidence']:.3f} | "
                f"{r['auroc_combined_v2']:.3f} | {r['auroc_score_refit']:.3f} |"
            )
    lines += ["", "Targets (issue 6):", ""] + [f"- {t}" for t in targets(results)] + [""]
    return "\n".join(lines)


def targets(results: dict) -> list[str]:
    """Issue 6's targets per scenario, for the spectral estimate and for spectral + confidence."""
    out = []
    for pool in SCENARIOS:
        if pool not in results:
            continue
        s = results[pool]["summary"]["mean_sd"]
        base = min(s["batch_atc"][0], s["batch_doc"][0])
        parts = []
        for key, label in (("ours", "spectral"), ("combined", "spectral + confidence")):
            err = s[f"batch_{key}"][0]
            parts.append(
                f"{label}: batch error {err:.3f} <= 0.03 {'holds' if err <= 0.03 else 'FAILS'}, "
                f"below ATC and DoC ({base:.3f}) {'holds' if err < base else 'FAILS'}"
            )
        for key, label in (("risk", "spectral"), ("combined", "spectral + confidence")):
            a, c = s[f"auroc_{key}"][0], s["auroc_confidence"][0]
            parts.append(f"{label} risk AUROC {a:.3f} above confidence {c:.3f} {'holds' if a > c else 'FAILS'}")
        by_change = {ch: r for ch, r in results[pool]["summary"]["by_change"].items() if ch != "mixed"}
        below = [f"{ch} {r['auroc_combined']:.3f} vs {r['auroc_confidence']:.3f}" for ch, r in by_change.items()
                 if not r["auroc_combined"] > r["auroc_confidence"]]  # fmt: skip
        parts.append(
            f"per change, spectral + confidence above confidence on {len(by_change) - len(below)} of {len(by_change)}"
            + (f" (not on: {', '.join(below)})" if below else "")
        )
        out.append(f"**{pool}** (noise floor {s['batch_floor'][0]:.3f}): " + "; ".join(parts))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seeds", type=int, default=20, help="splits of the patients (and classifier fits), each a full evaluation"
    )
    parser.add_argument("--pairs", type=int, default=600, help="phantom patients (each gives two patches)")
    parser.add_argument(
        "--cad-images",
        type=int,
        default=1800,
        help="films of the demo's dataset plan for the cad scenario (35 %% train the classifier)",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, of {list(SCENARIOS)}")
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "spectral_fast_reliability"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "evaluation" / "results")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 24 phantom patients, NIH skipped, 1 seed")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other scenarios of the existing results file (same --seeds) and rerun only --scenarios",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.pairs, args.cad_images, args.scenarios = 1, 24, 160, "cad,phantom,phantom_confounded"
    t0 = time.perf_counter()
    results: dict = {"config": {"seeds": args.seeds, "pairs": args.pairs, "variants": list(VARIANTS)}}
    pools: dict[str, dict] = {}
    for name in args.scenarios.split(","):
        if name not in SCENARIOS:
            parser.error(f"--scenarios: unknown scenario {name!r}; choose from {list(SCENARIOS)}")
        pool_name, confound = SCENARIOS[name]
        if pool_name == "nih" and not (REAL / "metadata.csv").exists():
            print(f"skipping {name}: {REAL} not found", file=sys.stderr)
            continue
        if pool_name not in pools:
            pools[pool_name] = (
                build_cad_pool(args.cad_images, args.cache, args.workers) if pool_name == "cad"
                else build_pool(pool_name, args.pairs, args.cache, args.workers)
            )  # fmt: skip
            pool = pools[pool_name]
            print(f"{pool_name}: {len(pool['labels'])} images x {len(pool.get('variants', VARIANTS))} variants "
                  f"({float(pool['seconds']):.0f} s to build)", flush=True)  # fmt: skip
        t1 = time.perf_counter()
        runs = [evaluate(pools[pool_name], seed, confound) for seed in range(args.seeds)]
        print(f"{name}: {args.seeds} seeds in {time.perf_counter() - t1:.0f} s", flush=True)
        results[name] = {"batch_n": runs[0]["batches"][0]["n"], "confound": confound, "runs": runs,
                         "build_seconds": float(pools[pool_name]["seconds"]),
                         "eval_seconds": time.perf_counter() - t1, "summary": summarise(runs)}  # fmt: skip
    results["config"]["seconds"] = time.perf_counter() - t0
    previous = args.out / "reliability.json"
    if args.update and previous.exists():
        old = json.loads(previous.read_text())
        for name in SCENARIOS:
            if name in results or name not in old:
                continue
            if len(old[name]["runs"]) != args.seeds:
                parser.error(
                    f"--update: {previous} has {len(old[name]['runs'])} seeds of {name}, this run {args.seeds}"
                )
            results[name] = old[name]
    text = markdown(results)
    print(text)
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "reliability.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
        (args.out / "reliability.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
