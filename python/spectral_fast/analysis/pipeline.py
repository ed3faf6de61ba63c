"""Blind-spot analysis from Python: profiles + predictions -> polars tables and files.

>>> from spectral_fast.analysis.pipeline import Finding, analyze
>>> rep = analyze("profiles.parquet", "preds.csv", [Finding("pneumonia", score_col="p_pneumonia")])
>>> rep.slices          # one row per (finding, cluster)
>>> write_report(rep, "out/")   # spectral_fast.render: tables, model, report.html, reference

The steps: drop profile rows that carry an error (counted), join predictions
by id (:mod:`spectral_fast.analysis.predictions`), compute each finding's per-image
error and loss, cluster the profiles (:class:`~spectral_fast.analysis.clustering.SpectralClusters`),
then per finding the statistics and blind spots of :mod:`spectral_fast.analysis.blind_spots`
and the descriptions of :mod:`spectral_fast.analysis.describe`.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast._shared.display import NotebookView
from spectral_fast._shared.stats import ARCHIVE_SCALE_N
from spectral_fast._version import __version__
from spectral_fast.analysis.stability import STABLE
from spectral_fast.analysis.summary_types import ReportSummary
from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.tables import read_profile_options

#: Column order of ``slices.csv``.
SLICE_COLUMNS = [
    "finding", "cluster", "n", "share", "errors", "error_rate", "error_ci_low", "error_ci_high", "lift",
    "excess_errors", "error_share", "auroc", "auroc_ci_low", "auroc_ci_high", "auroc_note", "sensitivity",
    "specificity", "p_value", "p_adjusted", "blind_spot", "rank", "group", "description", "exemplars",
    "misses", "false_alarms", "expected_errors",
]  # fmt: skip


#: Blind-spot columns that say which errors a spot holds and what its label mix predicts.
SPOT_DIRECTION_COLUMNS = (
    "direction", "population", "expected_errors", "misses", "false_alarms", "n_positive", "n_negative", "label_pure",
    "stability", "stable",
)  # fmt: skip


#: Columns of ``Report.spot_evidence`` (``spot_evidence.csv``).
EVIDENCE_SCHEMA = {
    "finding": pl.Utf8, "rank": pl.Int64, "source": pl.Utf8, "variable": pl.Utf8, "kind": pl.Utf8,
    "level": pl.Utf8, "spot": pl.Float64, "rest": pl.Float64, "effect": pl.Float64, "p_value": pl.Float64,
    "p_adjusted": pl.Float64,
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One binary finding: its label column and either a score or a predicted-label column."""

    label_col: str
    score_col: str | None = None
    pred_col: str | None = None
    threshold: float = 0.5
    name: str | None = None

    @property
    def title(self) -> str:
        return self.name or self.label_col


@dataclass
class Report(NotebookView):
    """Result of :func:`analyze`; :func:`spectral_fast.render.write_report` puts it on disk."""

    slices: pl.DataFrame
    blind_spots: pl.DataFrame
    assignments: pl.DataFrame
    summary: ReportSummary
    model: Any
    descriptions: list[dict]
    table: pl.DataFrame = field(repr=False)
    #: Patient (or study) of each analysed image, from ``group_col``; None: each image its own.
    groups: np.ndarray | None = field(default=None, repr=False)
    #: Each blind spot against the rest, one row per variable (:mod:`spectral_fast.analysis.contrast`).
    spot_evidence: pl.DataFrame | None = field(default=None, repr=False)
    #: Value groups of the acquisition metadata where errors concentrate, apart from the clusters
    #: (:mod:`spectral_fast.analysis.metadata_scan`); ``metadata_masks`` holds each row's images.
    metadata_spots: pl.DataFrame | None = None
    metadata_masks: list[np.ndarray] | None = field(default=None, repr=False)


def analyze(
    profiles: Any,
    predictions: Any,
    findings: list[Finding],
    *,
    id_col: str = "id",
    profile_id_col: str = "id",
    match: str = "exact",
    min_match: float = 0.5,
    n_clusters: int | str = "auto",
    method: str = "gmm",
    features: str | list[str] = "auto",
    anatomy_components: int = 2,
    frequency_axis: str = "pixel",
    seed: int = 0,
    model: Any = None,
    lift_threshold: float = 1.5,
    alpha: float = 0.05,
    n_boot: int = 500,
    n_perm: int = 999,
    artefacts_from: str | Path | None = None,
    group_col: str | None = None,
    n_refits: int = 10,
    metadata: pl.DataFrame | str | Path | None = None,
    metadata_cols: list[str] | None = None,
    metadata_id_col: str | None = None,
    max_fit_samples: int | None = ARCHIVE_SCALE_N,
) -> Report:
    """Find, test and describe the clusters where a model's errors concentrate.

    Parameters
    ----------
    profiles : dataframe or path
        Profile table (``band_*`` columns, an id column; error rows are
        dropped and counted): a Parquet/CSV file or any dataframe
        (:mod:`spectral_fast._shared.frames`: polars, pandas, pyarrow, ``__arrow_c_stream__``).
    predictions : dataframe or path
        One row per image: id, true label(s) and score(s) or predicted label(s).
    findings : list of Finding
        The findings to analyse, each reported separately.
    id_col, profile_id_col, match : str
        How predictions are joined to profiles (:func:`spectral_fast.analysis.predictions.join_predictions`).
    min_match : float
        Least share of the profiles that must match a prediction (``min_match_share`` there).
    n_clusters, method, features, anatomy_components, frequency_axis : see
        :class:`spectral_fast.analysis.clustering.SpectralClusters` (``frequency_axis="field"`` falls back
        to ``"pixel"`` for profiles that cannot be re-binned)
    seed : int
        Seed of the clustering, bootstrap and permutations.
    model : SpectralClusters, optional
        A fitted model to apply instead of fitting one.
    lift_threshold, alpha, n_boot, n_perm : see :func:`spectral_fast.analysis.blind_spots.analyze_finding`
    artefacts_from : path, optional
        Folder the profile ids are relative to. When given and the table lacks
        the artefact features (:mod:`spectral_fast.profiling.artefacts_oracle`), they are
        computed from the images (numpy, about 0.2 s per 1024 px image);
        images that cannot be read get the typical value and are counted.
    group_col : str, optional
        Column of ``predictions`` naming each image's patient (or study).
        The reference written next to the report (``reference.json``) then
        holds out whole patients when it estimates each image's cluster risk,
        the combined risk's cross-validation folds and the unknown-territory
        threshold; without it every image counts as its own patient, which
        is optimistic when patients have several images. Missing values
        count as patients of their own.
    n_refits : int
        Refits of the clustering on random halves that measure each blind spot's
        stability (:mod:`spectral_fast.analysis.stability`); 0 skips it
        (``stability`` is then NaN). Each refit costs one clustering fit.
    metadata : polars.DataFrame or path, optional
        Per-image acquisition metadata (site, scanner, view, ...), joined by
        id like the predictions; ``metadata_cols`` name the columns to use
        and ``metadata_id_col`` its id column (default ``id_col``). With the
        profile's own acquisition columns they are compared between each
        blind spot and the rest (:mod:`spectral_fast.analysis.contrast`) and
        scanned for value groups with excess errors (``Report.metadata_spots``,
        :mod:`spectral_fast.analysis.metadata_scan`); they do not enter the clustering.
    max_fit_samples : int or None
        Archive scale (``docs/method.md#archive-scale``): above this many
        images the clustering (and each stability refit) is fitted on a seeded
        sample of this size and every image assigned, and the permutation
        tests draw their counts per cluster instead of shuffling images.
        None: fit on every image and shuffle at any size. Below it nothing
        changes.

    Returns
    -------
    Report
    """
    from spectral_fast._shared.frames import to_polars_or_path
    from spectral_fast._shared.progress import stage
    from spectral_fast.analysis.blind_spots import analyze_finding, image_errors
    from spectral_fast.analysis.cluster_tree import tree_members
    from spectral_fast.analysis.clustering import SpectralClusters
    from spectral_fast.analysis.contrast import compare, describe_against_rest, named, profile_variables, sentence
    from spectral_fast.analysis.describe import ProfileFeatures, describe_clusters
    from spectral_fast.analysis.metadata import align_metadata, metadata_variables
    from spectral_fast.analysis.metadata_scan import METADATA_SPOT_SCHEMA, scan_metadata
    from spectral_fast.analysis.predictions import (
        as_numeric,
        check_columns,
        join_predictions,
        read_predictions,
    )
    from spectral_fast.profiling.field_bands import can_rebin
    from spectral_fast.profiling.tables import load_usable_profiles

    if not findings:
        raise InvalidInputError(
            "findings: give at least one finding (a label column with a score or prediction column)"
        )
    if isinstance(n_refits, bool) or not isinstance(n_refits, (int, np.integer)) or n_refits < 0:
        raise InvalidInputError(f"n_refits must be an integer >= 0, got {n_refits!r}")
    m = max_fit_samples
    if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2):
        raise InvalidInputError(f"max_fit_samples must be None or an integer >= 2, got {m!r}")
    names = [f.title for f in findings]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"findings: names must be distinct, got {names}")
    profiles = to_polars_or_path(profiles, "profiles")
    profile_options = None if isinstance(profiles, pl.DataFrame) else read_profile_options(profiles)
    predictions = to_polars_or_path(predictions, "predictions")
    preds = predictions if isinstance(predictions, pl.DataFrame) else read_predictions(predictions)
    needed = [c for f in findings for c in (f.label_col, f.score_col, f.pred_col) if c] + (
        [group_col] if group_col else []
    )
    check_columns(preds, [id_col] + needed)
    table, n_input, excluded = load_usable_profiles(
        profiles, artefacts_from=artefacts_from, id_col=profile_id_col, what="the profile table"
    )
    joined = join_predictions(
        table, preds, id_col=id_col, profile_id_col=profile_id_col, match=match, min_match_share=min_match
    )
    renamed = {c: f"{c}_prediction" for c in needed if c in table.columns and c != profile_id_col}

    groups = None
    if group_col:  # images of one patient share outcomes: the reference's held-out estimates leave them out together
        column = joined[renamed.get(group_col, group_col)].cast(pl.Utf8)
        groups = column.fill_null(joined[profile_id_col].cast(pl.Utf8)).to_numpy()

    per_finding = {}
    for f in findings:
        truth = as_numeric(joined, renamed.get(f.label_col, f.label_col))
        score = as_numeric(joined, renamed.get(f.score_col, f.score_col)) if f.score_col else None
        pred = as_numeric(joined, renamed.get(f.pred_col, f.pred_col)) if f.pred_col else None
        per_finding[f.title] = (
            *image_errors(truth, score=score, pred=pred, threshold=f.threshold, finding=f.title),
            score,
        )

    stage(f"clustering {joined.height} images" if model is None else f"assigning {joined.height} images to clusters")
    draw_counts = max_fit_samples is not None and joined.height > max_fit_samples
    if model is None:
        # a resized or linear-spaced profile keeps its pixel-axis bands (profiling/field_bands.py)
        axis = frequency_axis if can_rebin(list(joined.columns), profile_options) else "pixel"
        with _fit_threads(draw_counts):
            model = SpectralClusters(
                n_clusters, method=method, features=features, anatomy_components=anatomy_components,
                frequency_axis=axis, random_state=seed, max_fit_samples=max_fit_samples,
            ).fit(joined)  # fmt: skip
        labels = model.labels_
    else:
        labels = model.predict(joined)
    distances = model.transform(joined)
    members = tree_members(model.tree_, model.n_clusters_)
    describer = ProfileFeatures(joined)
    descriptions = describe_clusters(describer, labels, distances, id_col=profile_id_col)
    aligned = None
    if metadata is not None or metadata_cols:
        if metadata is None:
            raise InvalidInputError("metadata_cols: give the metadata table too (metadata=... / --metadata FILE)")
        aligned = align_metadata(joined, metadata, list(metadata_cols or []), id_col=metadata_id_col or id_col,
                                 profile_id_col=profile_id_col, match=match)  # fmt: skip
    acquisition = metadata_variables(joined, aligned)
    feature_vars = profile_variables(joined, describer.band_cols, describer.freqs)
    evidence_rows: list[dict] = []

    spot_args = {"lift_threshold": lift_threshold, "alpha": alpha, "seed": seed, "draw_counts": draw_counts}
    slice_rows, spot_rows, summaries = [], [], {}
    meta_spot_rows: list[dict] = []
    meta_masks: list[np.ndarray] = []
    for f in findings:
        error, loss, truth, score = per_finding[f.title]
        stage(f"{f.title}: {n_perm} permutations, {n_boot} bootstrap resamples per cluster")
        res = analyze_finding(
            f.title, labels, error, truth, score, members,
            lift_threshold=lift_threshold, alpha=alpha, n_boot=n_boot, n_perm=n_perm, seed=seed,
            centers=model.cluster_centers_, draw_counts=draw_counts,
        )  # fmt: skip
        for row in res.clusters:
            d = descriptions[row["cluster"]]
            row["description"] = d["description"]
            row["exemplars"] = " | ".join(d["exemplars"])
            slice_rows.append(row)
        with _fit_threads(draw_counts):
            stability = _stability(model, joined, per_finding[f.title], res.blind_spots, labels, n_refits, n_perm,
                                   spot_args)  # fmt: skip
        for spot, stab in zip(res.blind_spots, stability):
            spot["stability"], spot["stable"] = stab, bool(stab >= STABLE) if np.isfinite(stab) else None
            inside = np.isin(labels, spot["clusters"])
            # the rest: images of the spot's population outside every spot of its direction, so that
            # fragments of one failure are not described against each other
            others = [np.isin(labels, o["clusters"]) for o in res.blind_spots if o["direction"] == spot["direction"]]
            among = _population(spot["direction"], truth, len(labels)) & (inside | ~np.any(others, axis=0))
            meta_rows, feature_rows = (compare(v.filter(among) if v.width else v, inside[among])
                                       for v in (acquisition, feature_vars))  # fmt: skip
            spot["description"] = describe_against_rest(
                sorted(meta_rows + feature_rows, key=lambda r: -abs(r["effect"]))
            )
            if spot["direction"] in POPULATION_LABEL:
                spot["description"] = f"among label-{POPULATION_LABEL[spot['direction']]} images: {spot['description']}"
            spot["metadata"] = "; ".join(sentence(r) for r in named(meta_rows)) or "no acquisition variable differs"
            for group, rows in (("metadata", meta_rows), ("profile", feature_rows)):
                evidence_rows += [{"finding": f.title, "rank": spot["rank"], "source": group, **r} for r in rows]
            spot_rows.append(_spot_row(f.title, spot))
        res.summary["stable_blind_spots"] = sum(bool(s["stable"]) for s in res.blind_spots)
        found, masks = scan_metadata(acquisition, error, truth, groups=groups, alpha=alpha,
                                     lift_threshold=lift_threshold, n_resamples=None if n_refits else 0,
                                     seed=seed)  # fmt: skip
        meta_spot_rows += [{"finding": f.title, **r} for r in found]
        meta_masks += masks
        res.summary["metadata_spots"] = len(found)
        res.summary["mean_loss"] = float(np.mean(loss))
        res.summary["threshold"] = f.threshold if f.score_col else None
        summaries[f.title] = res.summary

    slices = pl.DataFrame(slice_rows, infer_schema_length=None).select(SLICE_COLUMNS)
    spot_schema = {
        "finding": pl.Utf8, "rank": pl.Int64, "clusters": pl.Utf8, "n": pl.Int64, "share": pl.Float64,
        "errors": pl.Int64, "error_rate": pl.Float64, "error_ci_low": pl.Float64, "error_ci_high": pl.Float64,
        "lift": pl.Float64, "excess_errors": pl.Float64, "p_value": pl.Float64, "p_adjusted": pl.Float64,
        "p_scan": pl.Float64, "llr": pl.Float64, "description": pl.Utf8,
        "direction": pl.Utf8, "population": pl.Int64, "expected_errors": pl.Float64, "misses": pl.Int64,
        "false_alarms": pl.Int64, "n_positive": pl.Int64, "n_negative": pl.Int64, "label_pure": pl.Utf8,
        "stability": pl.Float64, "stable": pl.Boolean, "metadata": pl.Utf8,
    }  # fmt: skip
    blind = pl.DataFrame(spot_rows, schema=spot_schema, orient="row") if spot_rows else pl.DataFrame(schema=spot_schema)

    assign = {
        "id": joined[profile_id_col].cast(pl.Utf8),
        "cluster": pl.Series(labels, dtype=pl.Int64),
        "distance": pl.Series(distances[np.arange(len(labels)), labels], dtype=pl.Float64),
    }
    for title, (error, loss, _, _) in per_finding.items():
        assign[f"error_{title}"] = pl.Series(error, dtype=pl.Boolean)
        assign[f"loss_{title}"] = pl.Series(loss, dtype=pl.Float64)
    assignments = pl.DataFrame(assign)
    if model.method == "gmm":
        proba = model.predict_proba(joined)
        assignments = assignments.with_columns(pl.Series("probability", proba.max(axis=1)))

    summary: ReportSummary = {
        "package_version": __version__,
        "profile_options": profile_options,
        "n_profiles": n_input,
        "excluded": excluded,
        "n_analysed": joined.height,
        "k": int(model.n_clusters_),
        "k_selection": model.k_selection_,
        "features": list(model.features_),
        "findings": summaries,
        "options": {
            "n_clusters": n_clusters, "method": model.method, "scaling": model.scaling, "features": features,
            "anatomy_components": model.anatomy_components, "frequency_axis": model.frequency_axis,
            "lower_bands": model.lower_bands,
            "seed": seed, "match": match, "id_col": id_col, "group_col": group_col,
            "lift_threshold": lift_threshold, "alpha": alpha,
            "n_boot": n_boot, "n_perm": n_perm, "n_refits": n_refits, "findings": [asdict(f) for f in findings],
            "metadata_cols": list(metadata_cols or []), "max_fit_samples": max_fit_samples,
        },
    }  # fmt: skip
    evidence = (
        pl.DataFrame(evidence_rows, schema=EVIDENCE_SCHEMA) if evidence_rows else pl.DataFrame(schema=EVIDENCE_SCHEMA)
    )
    meta_spots = pl.DataFrame(meta_spot_rows, schema=METADATA_SPOT_SCHEMA, orient="row") if meta_spot_rows else \
        pl.DataFrame(schema=METADATA_SPOT_SCHEMA)  # fmt: skip
    return Report(slices, blind, assignments, summary, model, descriptions, joined, groups, evidence, meta_spots,
                  meta_masks)  # fmt: skip


def _fit_threads(archive: bool) -> Any:
    """Context of the clustering fits: at archive scale one OpenMP thread (scikit-learn's k-means start of each
    mixture). Those fits see at most ``max_fit_samples`` rows, where a second thread's synchronisation each
    iteration cost 7x the CPU of one thread on a busy 2-core machine (``docs/benchmarks.md``); below it unchanged."""
    if not archive:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="openmp")


#: The label whose images a directional spot is compared within (misses: positives, false alarms: negatives).
POPULATION_LABEL = {"misses": 1, "false_alarms": 0}


def _population(direction: str, truth: np.ndarray | None, n: int) -> np.ndarray:
    """Images a spot is described against: those of its direction's label, as its errors were counted
    (``docs/method.md#describing-a-blind-spot``); every image for ``both`` or without labels."""
    if truth is None or direction not in POPULATION_LABEL:
        return np.ones(n, dtype=bool)
    return np.asarray(truth) == POPULATION_LABEL[direction]


def _spot_row(finding: str, spot: dict) -> dict:
    """A blind spot's row; its images are described against the rest (per-cluster texts stay in slices.csv)."""
    return {
        "finding": finding,
        "rank": spot["rank"],
        "clusters": spot["name"],
        **{k: spot[k] for k in ("n", "share", "errors", "error_rate", "error_ci_low", "error_ci_high", "lift")},
        **{k: spot[k] for k in ("excess_errors", "p_value", "p_adjusted", "p_scan", "llr")},
        "description": spot["description"],
        **{k: spot[k] for k in SPOT_DIRECTION_COLUMNS},
        "metadata": spot["metadata"],
    }


#: Permutations of the scan in each stability refit: the refit only has to name the spots, not test them finely.
REFIT_PERM = 199


def _stability(model, table, finding, spots, labels, n_refits, n_perm, spot_args) -> list[float]:
    """Stability of each blind spot of one finding over refits of the clustering on half-samples (NaN when skipped)."""
    from sklearn.base import clone

    from spectral_fast.analysis.blind_spots import find_blind_spots
    from spectral_fast.analysis.cluster_tree import tree_members, ward_tree
    from spectral_fast.analysis.clustering import fit_rows_of
    from spectral_fast.analysis.stability import refit_spots, stability_scores

    if not spots or n_refits == 0:
        return [float("nan")] * len(spots)
    error, _, truth, _ = finding
    # At archive scale a refit fits on half the main fit's sample, as it fits on half the images below it.
    half_sample = None if model.max_fit_samples is None else max(int(model.max_fit_samples) // 2, 2)

    def fit_assign(rows, seed):
        refit = clone(model).set_params(n_clusters=int(model.n_clusters_), random_state=seed, n_init=1,
                                        max_fit_samples=half_sample)  # fmt: skip
        pick = fit_rows_of(len(rows), half_sample, seed)  # the refit's own sample, drawn here: only it is read
        refit.fit(table[rows if pick is None else rows[pick]])
        labels = refit.predict(table)
        if pick is None:
            return labels, tree_members(refit.tree_, refit.n_clusters_), refit.cluster_centers_
        # the tree weighs clusters by their sizes among all of `rows`, as a fit on them would
        tree = ward_tree(refit.cluster_centers_, np.maximum(np.bincount(labels[rows], minlength=refit.n_clusters_), 1))
        return labels, tree_members(tree, refit.n_clusters_), refit.cluster_centers_

    def find(lab, members, centres):
        found = find_blind_spots(lab, error, members, truth=truth, centers=centres, n_perm=min(n_perm, REFIT_PERM),
                                 **spot_args)  # fmt: skip
        return [(np.isin(lab, s["clusters"]), s["direction"]) for s in found]

    refits = refit_spots(fit_assign, find, len(labels), n_refits, spot_args["seed"])
    return stability_scores([(np.isin(labels, s["clusters"]), s["direction"]) for s in spots], refits)
