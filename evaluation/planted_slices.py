"""Planted-slice benchmark: does the top blind spot recover a planted acquisition slice?

Protocol (dcbench-style, ``docs/anchors.md``): take real chest X-rays, apply
one acquisition change (``spectral_fast.simulate.acquire``) to a random 20 % of them,
give the model errors that concentrate there, run the blind-spot finder and
score its top-ranked blind spot by precision and recall against the planted
set. Per change, over several seeds.

Errors come from two models:

(a) simulated: exactly 50 % of the slice and 10 % of the rest are errors;
(b) a real small classifier (random-filter texture features + logistic
    regression, normal vs abnormal) trained on unperturbed images only,
    out-of-fold, so each image is predicted by a model that never saw it.

Finders, all with the same k rule and the same blind-spot rule:

* spectral_fast: spectral profile + artefact features, the package defaults;
* intensity: the same clustering on CleanVision-style features (brightness,
  contrast, Laplacian-variance blur, entropy);
* random: random partitions with spectral_fast's cluster sizes.

``--ablations`` (or ``--diagnostics`` alone, without the variants) also
reports two diagnostics that are told the planted labels, to say where a miss comes from: the supervised ceiling (precision at
recall 0.8 of a classifier on the features: do the features separate the
changed images at all?) and the best node of spectral_fast's cluster tree
(does the clustering hold a group the blind-spot rule could have picked?).

No step looks at the planted labels except the scoring: clusters, tree and
blind spots see only the features and the errors.

Run from the repository root::

    python evaluation/planted_slices.py                     # NIH part of ../shared/data/cxr-real, 20 seeds
    python evaluation/planted_slices.py --images DIR --labels labels.csv   # your own images
    python evaluation/planted_slices.py --quick             # 1 seed, 3 changes (smoke test)
    python evaluation/planted_slices.py --dataset nih-all --out evaluation/results/planted_nih_all
                                                            # + the 346 NIH images of ../shared/data/nih-extra

``--ablations`` adds the k-selection and feature comparisons (error model a)
that decided the defaults. Results go to ``evaluation/results/planted.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import zlib
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]

from edge_overshoot import edge_overshoot
from spectral_fast import __version__
from spectral_fast.analysis.blind_spots import find_blind_spots
from spectral_fast.analysis.cluster_tree import tree_members
from spectral_fast.analysis.clustering import SpectralClusters, auto_k, feature_columns
from spectral_fast.profiling.artefacts_oracle import FEATURE_NAMES, artefact_features
from spectral_fast.simulate import acquire

CHANGES = ("blur", "noise", "sharpen", "jpeg", "resample", "grid", "gamma")
INTENSITY = ("int_brightness", "int_contrast", "int_blur_laplacian", "int_entropy")
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cxr-real"
EXTRA_DATA = ROOT.parent / "shared" / "data" / "nih-extra"
#: Bumped whenever profile or feature maths change, so stale caches are not reused.
FEATURE_VERSION = 4


# ----------------------------------------------------------------- images
def load_images(args) -> tuple[list[np.ndarray], list[str], np.ndarray]:
    """Gray uint8/uint16 images, their ids and a binary label (for error model b)."""
    from PIL import Image

    if args.images:
        root = Path(args.images)
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff"))
        ids = [str(p.relative_to(root)) for p in files]
        labels = np.full(len(files), -1)
        if args.labels:
            lab = pl.read_csv(args.labels)
            mapping = dict(zip(lab[lab.columns[0]].cast(pl.Utf8), lab[lab.columns[1]]))
            labels = np.array([int(mapping.get(i, -1)) for i in ids])
    else:
        # nih-all: the NIH images of cxr-real and the 346 of nih-extra (other patients, same source).
        roots = [DEFAULT_DATA] + ([EXTRA_DATA] if args.dataset == "nih-all" else [])
        wanted = "nih-cxr14" if args.dataset == "nih-all" else args.dataset
        metas = [pl.read_csv(r / "metadata.csv").filter(pl.col("dataset") == wanted).select("file", "task_label")
                 for r in roots]  # fmt: skip
        files = [r / f for r, m in zip(roots, metas) for f in m["file"]]
        ids = [f for m in metas for f in m["file"]]
        labels = np.concatenate([(m["task_label"] != "normal").cast(pl.Int64).to_numpy() for m in metas])
        root = DEFAULT_DATA
    images = []
    for p in files:
        with Image.open(p) as im:
            arr = np.asarray(im)
            if arr.ndim == 3:  # RGB(A) PNGs: luma, as the profile does
                arr = np.asarray(im.convert("L"))
        images.append(arr)
    if len(images) < 20:
        raise SystemExit(f"need at least 20 images, found {len(images)} under {root}")
    return images, ids, labels


# --------------------------------------------------------------- features
def profile_rows(images: list[np.ndarray], overshoot: bool = True) -> pl.DataFrame:
    """Spectral profile + artefact + intensity features and edge overshoot (NaN unless ``overshoot``), one row per image."""
    try:
        import spectral_fast
        import spectral_fast._core

        prof = spectral_fast.profile(images)
    except ImportError:  # the compiled core is not built: the numpy oracle, same maths
        from spectral_fast.profiling.oracle import profile_image

        rows = []
        for im in images:
            p = profile_image(im)
            row = {f"band_{i:02d}": float(v) for i, v in enumerate(p.bands)}
            row.update(low=p.low, slope=p.slope, centroid=p.centroid, entropy=p.entropy, hf_ratio=p.hf_ratio)
            row.update(mean=p.mean, std=p.std, height=p.height, width=p.width)
            rows.append(row)
        prof = pl.DataFrame(rows)
    # the compiled profiler writes the artefact columns itself; the numpy oracle does not
    own = all(c in prof.columns for c in FEATURE_NAMES)
    extra = pl.DataFrame(
        [({} if own else artefact_features(im)) | intensity_features(im)
         | {"edge_overshoot": edge_overshoot(im) if overshoot else float("nan")}
         for im in images]
    )  # fmt: skip
    return pl.concat([prof, extra.select([c for c in extra.columns if c not in prof.columns])], how="horizontal")


def intensity_features(image: np.ndarray) -> dict[str, float]:
    """CleanVision-style: brightness, contrast, Laplacian-variance blur, entropy (of [0, 1] values)."""
    from scipy import ndimage

    top = 255.0 if image.dtype == np.uint8 else float(np.iinfo(image.dtype).max) if image.dtype.kind == "u" else 1.0
    x = image.astype(np.float64) / top
    hist = np.histogram(x, bins=256, range=(0.0, 1.0))[0].astype(np.float64)
    q = hist[hist > 0] / hist.sum()
    return {
        "int_brightness": float(x.mean()),
        "int_contrast": float(x.std()),
        "int_blur_laplacian": float(np.log10(ndimage.laplace(x).var() + 1e-12)),
        "int_entropy": float(-(q * np.log2(q)).sum()),
    }


def classifier_features(image: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """What the small classifier sees: a 16x16 thumbnail and random-filter texture energy on a 4x4 grid.

    The image is area-averaged to 512 px (a common CXR input size), the
    texture features are mean |response| of fixed random zero-mean 3x3
    filters per region, so the model can pick up acquisition texture the way
    CNNs do.
    """
    from scipy import ndimage

    from spectral_fast.profiling.oracle import resize

    x = resize(image.astype(np.float64) / 255.0, 512)
    thumb = x.reshape(16, 32, 16, 32).mean(axis=(1, 3)).ravel()
    tex = []
    for f in filters:
        r = np.abs(ndimage.correlate(x, f, mode="reflect"))
        tex.append(r.reshape(4, 128, 4, 128).mean(axis=(1, 3)).ravel())
    return np.concatenate([thumb, np.log(np.concatenate(tex) + 1e-6)])


# ------------------------------------------------------------------ cache
class Cache:
    """Parquet/npz cache of feature tables per (image set, change, seed)."""

    def __init__(self, folder: Path, images: list[np.ndarray], share: float) -> None:
        h = hashlib.sha256()
        for im in images:
            h.update(hashlib.sha256(np.ascontiguousarray(im).tobytes()).digest())
        h.update(f"{FEATURE_VERSION}-{share}-{__version__}".encode())
        self.folder = folder / h.hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)

    def has(self, name: str) -> bool:
        return (self.folder / f"{name}.parquet").exists()

    def get(self, name: str, make):
        path = self.folder / f"{name}.parquet"
        if path.exists():
            return pl.read_parquet(path)
        table = make()
        table.write_parquet(path)
        return table


# ------------------------------------------------------------ experiment
def with_planted_rows(clean: pl.DataFrame, replaced: pl.DataFrame, idx: np.ndarray) -> pl.DataFrame:
    """The clean profile table with the rows at ``idx`` replaced by ``replaced`` (which carries ``__index``)."""
    kept = clean.with_row_index("__index").filter(~pl.col("__index").is_in(idx.tolist()))
    return pl.concat([kept, replaced], how="diagonal_relaxed").sort("__index").drop("__index")


def planted_set(n: int, share: float, change: str, seed: int) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng([seed, zlib.crc32(change.encode())])
    idx = np.sort(rng.choice(n, int(round(share * n)), replace=False))
    return idx, rng


def simulated_errors(planted: np.ndarray, seed: int, inside: float = 0.5, outside: float = 0.1) -> np.ndarray:
    """Exactly ``inside`` of the slice and ``outside`` of the rest are errors (random which)."""
    rng = np.random.default_rng([seed, 7])
    error = np.zeros(len(planted), dtype=bool)
    for group, rate in ((planted, inside), (~planted, outside)):
        members = np.flatnonzero(group)
        error[rng.choice(members, int(round(rate * len(members))), replace=False)] = True
    return error


def classifier_errors(clean_x: np.ndarray, mixed_x: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold errors of a logistic regression trained on clean images, applied to the mixed set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    known = labels >= 0
    error = np.zeros(len(labels), dtype=bool)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    idx = np.flatnonzero(known)
    for train, test in folds.split(idx, labels[idx]):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        model.fit(clean_x[idx[train]], labels[idx[train]])
        error[idx[test]] = model.predict(mixed_x[idx[test]]) != labels[idx[test]]
    return error


def top_spot_scores(
    labels: np.ndarray,
    tree,
    k: int,
    centres: np.ndarray | None,
    error: np.ndarray,
    planted: np.ndarray,
    union: bool = False,
) -> tuple[float, float, np.ndarray]:
    """Precision and recall of the top blind spot against the planted set, and the spot's images (a mask).

    ``union``: of all declared blind spots together instead (a diagnostic: is
    the slice declared, but split over several spots?).
    """
    spots = find_blind_spots(labels, error, tree_members(tree, k), centers=centres)
    if not spots:
        return 0.0, 0.0, np.zeros(len(labels), dtype=bool)
    chosen = np.isin(labels, [c for s in (spots if union else spots[:1]) for c in s["clusters"]])
    hit = int((chosen & planted).sum())
    return hit / chosen.sum(), hit / planted.sum(), chosen


def supervised_ceiling(clean: pl.DataFrame, changed: pl.DataFrame, idx: np.ndarray, recall: float = 0.8) -> float:
    """Precision at ``recall`` of a classifier told which images are changed: how far the features separate the slice.

    A logistic regression on spectral_fast's clustering features learns clean
    against changed profiles; each image is scored by a model fitted without
    either version of it (10 folds over images), and the planted set is
    ranked by that score. Not a finder (it sees the planted labels): the
    ceiling the unsupervised finders work under.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    feats = feature_columns(clean.columns)
    x_clean = clean.select(feats).cast({c: pl.Float64 for c in feats}).to_numpy()
    x_changed = changed.select(feats).cast({c: pl.Float64 for c in feats}).to_numpy()
    typical = np.nanmedian(x_clean, axis=0)  # NaN = not applicable (hist_comb of float images), as in the clustering
    x_clean, x_changed = (np.where(np.isnan(x), typical, x) for x in (x_clean, x_changed))
    n = len(x_clean)
    planted = np.zeros(n, dtype=bool)
    planted[idx] = True
    mixed = x_clean.copy()
    mixed[idx] = x_changed
    image, x, y = np.r_[np.arange(n), idx], np.vstack([x_clean, x_changed]), np.r_[np.zeros(n), np.ones(len(idx))]
    score = np.zeros(n)
    for train, test in KFold(10, shuffle=True, random_state=0).split(np.arange(n)):
        rows = np.isin(image, train)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x[rows], y[rows])
        score[test] = model.predict_proba(mixed[test])[:, 1]
    hits = np.cumsum(planted[np.argsort(-score, kind="stable")])
    cut = int(np.searchsorted(hits, np.ceil(recall * planted.sum()))) + 1
    return float(hits[cut - 1] / cut)


def best_node(labels: np.ndarray, tree, k: int, planted: np.ndarray) -> tuple[float, float]:
    """Precision and recall of the tree node (a cluster or merged group) that best matches the planted set (F1).

    Told the planted labels, so not a finder: if even this node misses the
    target, the clustering never formed the slice and no blind-spot rule
    could have found it; if it meets the target, the rule chose another node.
    """
    best = (0.0, 0.0, 0.0)
    for node in tree_members(tree, k):
        chosen = np.isin(labels, node)
        hit = int((chosen & planted).sum())
        if hit:
            p, r = hit / chosen.sum(), hit / planted.sum()
            best = max(best, (2 * p * r / (p + r), p, r))
    return best[1], best[2]


#: The comparison row of the size-invariant bands.
FIELD_AXIS = "spectral_fast, field-axis bands"


#: Diagnostic rows (``--diagnostics``) that vary one step of spectral_fast's default finder.
KEPT_TOGETHER = "spectral_fast, different shifts not kept apart (no centres)"
K_OF_122 = "spectral_fast, k=8 (auto k at 122 images)"
ALL_SPOTS = "spectral_fast, union of all blind spots"


def finders(
    table: pl.DataFrame, seed: int, ablations: bool, diagnostics: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray, int, np.ndarray | None]]:
    """(labels, tree, k, centres) of every slice finder on one table.

    ``diagnostics`` adds :data:`KEPT_TOGETHER` (the blind-spot rule without
    cluster centres, so no merge of two qualifying siblings is a boundary)
    and :data:`K_OF_122` (the default finder at the k that ``auto_k`` gives
    122 images).
    """
    out: dict[str, tuple[np.ndarray, np.ndarray, int, np.ndarray | None]] = {}
    sf = SpectralClusters(random_state=seed).fit(table)
    out["spectral_fast"] = (sf.labels_, sf.tree_, sf.n_clusters_, sf.cluster_centers_)
    inten = SpectralClusters(random_state=seed, features=list(INTENSITY)).fit(table)
    out["intensity"] = (inten.labels_, inten.tree_, inten.n_clusters_, inten.cluster_centers_)
    # random partition with spectral_fast's sizes; its tree over the random groups' centres
    rng = np.random.default_rng([seed, 99])
    rand = rng.permutation(sf.labels_)
    z = sf.embed(table)
    centres = np.array([z[rand == c].mean(axis=0) for c in range(sf.n_clusters_)])
    from spectral_fast.analysis.cluster_tree import ward_tree

    out["random"] = (rand, ward_tree(centres, np.bincount(rand, minlength=sf.n_clusters_)), sf.n_clusters_, centres)
    # the size-invariant band axis (docs/method.md#frequencies-that-mean-the-same-across-matrix-sizes)
    fa = SpectralClusters(random_state=seed, frequency_axis="field").fit(table)
    out[FIELD_AXIS] = (fa.labels_, fa.tree_, fa.n_clusters_, fa.cluster_centers_)
    if diagnostics:
        out[KEPT_TOGETHER] = (sf.labels_, sf.tree_, sf.n_clusters_, None)
        k8 = SpectralClusters(random_state=seed, n_clusters=auto_k(122)).fit(table)
        out[K_OF_122] = (k8.labels_, k8.tree_, k8.n_clusters_, k8.cluster_centers_)
    if ablations:
        bands = [c for c in table.columns if c.startswith("band_")]
        variants = {
            "prototype: k-means, k=4, bands only, z-score": dict(method="kmeans", n_clusters=4, features=bands,
                                                                 scaling="standard", anatomy_components=0),
            "GMM, auto k, bands only": dict(features=bands),
            "GMM, auto k, z-score": dict(scaling="standard"),
            "GMM, auto k, 30 restarts": dict(n_init=30),
            "GMM, auto k, no anatomy adjustment": dict(anatomy_components=0),
            "GMM, auto k, lower bands summarised": dict(lower_bands="components"),
            "GMM, auto k, + edge overshoot": dict(features=feature_columns(table.columns) + ["edge_overshoot"]),
            "GMM, k=2": dict(n_clusters=2),
            "GMM, k=4": dict(n_clusters=4),
            "GMM, k=12": dict(n_clusters=12),
            "GMM, BIC k": dict(n_clusters="bic"),
            "GMM, silhouette k": dict(n_clusters="silhouette"),
            "k-means, auto k": dict(method="kmeans"),
            "k-means, silhouette k": dict(method="kmeans", n_clusters="silhouette"),
            "k-means, auto k, bands only": dict(method="kmeans", features=bands),
        }  # fmt: skip
        for name, params in variants.items():
            m = SpectralClusters(random_state=seed, **params).fit(table)
            out[name] = (m.labels_, m.tree_, m.n_clusters_, m.cluster_centers_)
    return out


def changed_rows(
    images: list[np.ndarray],
    idx: np.ndarray,
    rng: np.random.Generator,
    change: str,
    filters: np.ndarray | None,
    overshoot: bool = True,
) -> pl.DataFrame:
    """Feature rows of the images at ``idx`` after ``change`` (drawn from ``rng``), with ``__index``.

    With ``filters``, also the small classifier's features (``__clf``) of the
    changed images; without ``overshoot`` their edge overshoot is NaN.
    """
    changed = [acquire.apply(images[i], change, rng=rng) for i in idx]
    rows = profile_rows(changed, overshoot)
    if filters is not None:
        rows = rows.with_columns(pl.Series("__clf", [classifier_features(im, filters).tolist() for im in changed]))
    return rows.with_columns(pl.Series("__index", idx.astype(np.int64)))


def classifier_filters() -> np.ndarray:
    """The small classifier's 8 fixed random zero-mean, unit-norm 3x3 filters."""
    filters = np.random.default_rng(12345).normal(size=(8, 3, 3))
    filters -= filters.mean(axis=(1, 2), keepdims=True)
    return filters / np.linalg.norm(filters, axis=(1, 2), keepdims=True)


def run(args, checkpoint=None) -> dict:
    """Every change and seed of ``args``; ``checkpoint(result)`` after each seed, with the seeds done so far."""
    images, ids, labels = load_images(args)
    n = len(images)
    cache = Cache(Path(args.cache), images, args.share)
    t0 = time.perf_counter()
    clean = cache.get("clean", lambda: profile_rows(images))
    filters = classifier_filters()
    use_b = not args.lean and (labels >= 0).sum() >= 20 and len(set(labels[labels >= 0])) == 2
    clean_x = (
        cache.get(
            "clean_clf", lambda: pl.DataFrame(np.array([classifier_features(im, filters) for im in images]))
        ).to_numpy()
        if use_b
        else None
    )
    print(f"{n} images; clean features in {time.perf_counter() - t0:.0f} s", flush=True)

    records, ceiling, overshoot = [], [], {}

    def result() -> dict:
        medians = {c: float(np.nanmedian(v)) for c, v in overshoot.items() if np.isfinite(v).any()}
        out = {"n_images": n, "share": args.share, "seeds": len({r["seed"] for r in records}), "version": __version__,
               "records": records,
               "edge_overshoot": {"clean": dict(zip(ids, clean["edge_overshoot"].to_list())), "planted_median": medians}}  # fmt: skip
        return out | ({"supervised_ceiling": ceiling} if ceiling else {})

    for change in args.changes:
        for seed in range(args.first_seed, args.seeds):
            idx, rng = planted_set(n, args.share, change, seed)
            name = f"{change}_{seed}"  # full rows; "_lean": no classifier features, no edge overshoot
            name += "" if not args.lean or cache.has(name) else "_lean"
            make = partial(changed_rows, images, idx, rng, change, filters if use_b else None, overshoot=not args.lean)
            planted_rows = cache.get(name, make)
            overshoot.setdefault(change, []).extend(planted_rows["edge_overshoot"].to_list())
            replaced = planted_rows.select(clean.columns + ["__index"])
            table = with_planted_rows(clean, replaced, idx)
            planted = np.zeros(n, dtype=bool)
            planted[idx] = True
            errors = {"a": simulated_errors(planted, seed)}
            if use_b:
                mixed_x = clean_x.copy()
                mixed_x[idx] = np.array(planted_rows["__clf"].to_list())
                errors["b"] = classifier_errors(clean_x, mixed_x, labels, seed)
            results = finders(table, seed, args.ablations, args.diagnostics)
            if args.ablations or args.diagnostics:
                lab, tree, k, _ = results["spectral_fast"]
                node_p, node_r = best_node(lab, tree, k, planted)
                ceiling.append({"change": change, "seed": seed,
                                "precision_at_recall_0.8": supervised_ceiling(clean, replaced, idx),
                                "best_node_precision": node_p, "best_node_recall": node_r})  # fmt: skip
            scored = [(f, v, False) for f, v in results.items()]
            if args.diagnostics:
                scored.append((ALL_SPOTS, results["spectral_fast"], True))
            for model_name, error in errors.items():
                for finder, (lab, tree, k, centres), union in scored:
                    if model_name == "b" and finder not in ("spectral_fast", "intensity", "random"):
                        continue
                    p, r, chosen = top_spot_scores(lab, tree, k, centres, error, planted, union)
                    records.append(
                        {"change": change, "seed": seed, "errors": model_name, "finder": finder, "k": k,
                         "precision": p, "recall": r, "slice_error_rate": float(error[planted].mean()),
                         "other_error_rate": float(error[~planted].mean()),
                         # which images cost precision and recall: on real data some "clean" ones may already
                         # carry the change (e.g. a vendor's edge enhancement)
                         "false_positives": [ids[i] for i in np.flatnonzero(chosen & ~planted)],
                         "missed": [ids[i] for i in np.flatnonzero(planted & ~chosen)]}
                    )  # fmt: skip
            print(f"{change} seed {seed}: done ({time.perf_counter() - t0:.0f} s)", flush=True)
            if checkpoint:  # the seeds done so far, so that a stopped run keeps them
                checkpoint(result())
    return result()


def merge_results(parts: list[dict]) -> dict:
    """One result from runs of the same image set made side by side (e.g. one per change)."""
    first = parts[0]
    for p in parts[1:]:
        if (p["n_images"], p["share"]) != (first["n_images"], first["share"]):
            raise SystemExit("--merge: the runs differ in image count or share")
    out = dict(first, records=[r for p in parts for r in p["records"]])
    out["seeds"] = len({r["seed"] for r in out["records"]})
    out["edge_overshoot"] = {
        "clean": first["edge_overshoot"]["clean"],
        "planted_median": {c: v for p in parts for c, v in p["edge_overshoot"]["planted_median"].items()},
    }
    if any(p.get("supervised_ceiling") for p in parts):
        out["supervised_ceiling"] = [r for p in parts for r in p.get("supervised_ceiling", [])]
    return out


# ----------------------------------------------------------------- tables
def summarise(result: dict) -> str:
    rec = pl.DataFrame(result["records"])
    per_change = rec.group_by("change", maintain_order=True).agg(pl.col("seed").n_unique())
    seeds = (f"{result['seeds']} seeds" if per_change["seed"].n_unique() == 1
             else "seeds " + ", ".join(f"{c} {s}" for c, s in per_change.iter_rows()))  # fmt: skip
    lines = [
        f"Planted-slice benchmark: {result['n_images']} images, {result['share']:.0%} planted, "
        f"{seeds}; top blind spot, precision / recall, mean ± sd over seeds "
        f"(0 / 0 when no blind spot was declared).",
        "",
    ]
    for model_name, title in (("a", "(a) simulated errors: 50 % in the slice, 10 % outside"),
                              ("b", "(b) errors of a small classifier trained on unperturbed images")):  # fmt: skip
        sub = rec.filter(pl.col("errors") == model_name)
        if sub.height == 0:
            continue
        lines += [f"### {title}", ""]
        if model_name == "b":
            rates = (
                sub.filter(pl.col("finder") == "spectral_fast")
                .group_by("change", maintain_order=True)
                .agg(pl.col("slice_error_rate").mean(), pl.col("other_error_rate").mean())
            )
            lines += ["Error rate in the slice / outside: " + ", ".join(
                f"{r['change']} {r['slice_error_rate']:.2f}/{r['other_error_rate']:.2f}" for r in rates.iter_rows(named=True)
            ), ""]  # fmt: skip
        finders_ = list(dict.fromkeys(sub["finder"]))
        changes = list(dict.fromkeys(sub["change"]))
        lines.append("| finder | " + " | ".join(changes) + " |")
        lines.append("|---|" + "---|" * len(changes))
        for f in finders_:
            cells = []
            for c in changes:
                g = sub.filter((pl.col("finder") == f) & (pl.col("change") == c))
                p, r = g["precision"].to_numpy(), g["recall"].to_numpy()
                cells.append(f"{p.mean():.2f}±{p.std():.2f} / {r.mean():.2f}±{r.std():.2f}")
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
        lines.append("")
    if result.get("supervised_ceiling"):
        ceiling = (
            pl.DataFrame(result["supervised_ceiling"])
            .group_by("change", maintain_order=True)
            .agg(pl.col("precision_at_recall_0.8", "best_node_precision", "best_node_recall").mean())
        )
        lines += [
            "Supervised ceiling (told the planted labels; precision at recall 0.8 of a logistic regression on "
            "spectral_fast's features, scored out-of-fold, mean over seeds): "
            + ", ".join(f"{r['change']} {r['precision_at_recall_0.8']:.2f}" for r in ceiling.iter_rows(named=True)),
            "",
            "Best node of spectral_fast's cluster tree (told the planted labels; the cluster or merged group "
            "with the highest F1, precision / recall, mean over seeds): "
            + ", ".join(
                f"{r['change']} {r['best_node_precision']:.2f} / {r['best_node_recall']:.2f}"
                for r in ceiling.iter_rows(named=True)
            ),
            "",
        ]
    lines += recurring_false_positives(rec, overshoot=result.get("edge_overshoot"))
    if result.get("edge_overshoot") and "false_positives" in rec.columns:
        n_planted = int(round(result["share"] * result["n_images"]))
        scored = haloed_unscored(rec, result["edge_overshoot"]["clean"], n_planted)
        lines += [
            f"Precision of spectral_fast (error model a) if the {scored['n_haloed']} clean images in the top "
            "decile of edge overshoot already carry sharpening and are left unscored (as scored in brackets): "
            + ", ".join(f"{c} {p:.2f} ({q:.2f})" for c, (p, q) in scored["precision"].items()),
            "",
        ]
    return "\n".join(lines)


def haloed_unscored(rec: pl.DataFrame, clean_overshoot: dict[str, float], n_planted: int, top: float = 0.1) -> dict:
    """Mean precision per change when clean images in the ``top`` share of edge overshoot are not counted.

    The planted labels call every unchanged image clean, but some real
    images were sharpened before they were archived; scoring them as false
    positives charges the finder for finding them. Returns ``{"n_haloed":
    int, "precision": {change: (unscored, as_scored)}}``.
    """
    values = {i: v for i, v in clean_overshoot.items() if v == v}  # NaN: too small or no usable edge
    cut = np.quantile(list(values.values()), 1.0 - top) if values else np.inf
    haloed = {i for i, v in values.items() if v > cut}
    sub = rec.filter((pl.col("errors") == "a") & (pl.col("finder") == "spectral_fast"))
    out: dict[str, list[tuple[float, float]]] = {}
    for r in sub.iter_rows(named=True):
        hits = round(r["recall"] * n_planted)
        kept = sum(i not in haloed for i in r["false_positives"])
        unscored = hits / (hits + kept) if hits + kept else 0.0
        out.setdefault(r["change"], []).append((unscored, r["precision"]))
    return {"n_haloed": len(haloed),
            "precision": {c: tuple(float(x) for x in np.mean(v, axis=0)) for c, v in out.items()}}  # fmt: skip


def recurring_false_positives(rec: pl.DataFrame, min_seeds: int = 5, overshoot: dict | None = None) -> list[str]:
    """Clean images inside spectral_fast's top blind spot (error model a) in at least ``min_seeds`` seeds, per change.

    A clean image that keeps joining a planted slice usually already looks
    like it (on the NIH images: edge enhancement by the vendor's console), so
    it is listed with how often it was a false positive and, given
    ``overshoot`` (``{"clean": {id: value}, "planted_median": {change: value}}``),
    with its edge overshoot as a percentile of the clean images': an
    independent check for sharpening, which the bands cannot tell from
    natural detail.
    """
    if "false_positives" not in rec.columns:
        return []
    sub = rec.filter((pl.col("errors") == "a") & (pl.col("finder") == "spectral_fast"))
    counts = (
        sub.select("change", pl.col("false_positives").alias("id")).explode("id").drop_nulls("id")
        .group_by("change", "id").len().filter(pl.col("len") >= min_seeds)
        .sort(["change", "len", "id"], descending=[False, True, False])
    )  # fmt: skip
    if counts.height == 0:
        return []
    lines = [f"Clean images inside spectral_fast's top blind spot in at least {min_seeds} seeds (error model a)"
             + ("; in brackets, how many seeds and the image's edge overshoot as a percentile of the clean images"
                if overshoot else "") + ":", ""]  # fmt: skip
    clean = np.array([v for v in (overshoot or {}).get("clean", {}).values() if v == v])  # NaN: no usable edge

    def rank(value: float | None) -> str:
        if value is None or value != value or clean.size == 0:
            return "n/a"
        pct = round(100 * float(np.mean(clean < value)))
        return f"{pct}{'th' if 10 <= pct % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(pct % 10, 'th')}"

    for change in dict.fromkeys(counts["change"]):
        rows = counts.filter(pl.col("change") == change)
        if overshoot:
            median = rank(overshoot["planted_median"].get(change))
            head = f"- {change} (planted copies: median edge overshoot at the {median} percentile of the clean images)"
            cells = [f"{r['id']} ({r['len']}; {rank(overshoot['clean'].get(r['id']))})"
                     for r in rows.iter_rows(named=True)]  # fmt: skip
        else:
            head, cells = f"- {change}", [f"{r['id']} ({r['len']})" for r in rows.iter_rows(named=True)]
        lines.append(head + ": " + ", ".join(cells))
    return lines + [""]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", help="folder of images (default: the NIH part of ../shared/data/cxr-real)")
    parser.add_argument("--labels", help="CSV of id,label (0/1) for the classifier error model, with --images")
    parser.add_argument(
        "--dataset",
        default="nih-cxr14",
        help="dataset of ../shared/data/cxr-real to use; nih-all: its NIH images and ../shared/data/nih-extra",
    )
    parser.add_argument("--changes", nargs="+", default=list(CHANGES), choices=list(acquire.CHANGES))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. seeds-1 (for --merge)")
    parser.add_argument("--share", type=float, default=0.2, help="share of images in the planted slice")
    parser.add_argument("--ablations", action="store_true", help="also compare k rules, scalings and feature sets")
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="also the supervised ceiling and best tree node (told the planted labels), without --ablations' variants",
    )
    parser.add_argument(
        "--lean",
        action="store_true",
        help="error model a only, no edge overshoot of the changed images: about a third of the time per planted set",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="merge the results of runs made side by side (e.g. one per change) into --out, run nothing",
    )
    parser.add_argument("--quick", action="store_true", help="1 seed, blur/jpeg/gamma: a smoke test")
    parser.add_argument("--cache", default="/tmp/spectral_fast_planted")
    parser.add_argument("--out", default=str(ROOT / "evaluation" / "results" / "planted"))
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.changes = 1, ["blur", "jpeg", "gamma"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(result: dict) -> str:
        table = summarise(result)
        out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
        out.with_suffix(".md").write_text(table + "\n")
        return table

    result = merge_results([json.loads(Path(p).read_text()) for p in args.merge]) if args.merge else run(args, write)
    print(write(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
