"""The combined risk: the spectral (cluster) risk together with the model's own confidence.

When a report had the model's scores and new images come with theirs, the
failure risk of an image can use both. :func:`fit_confidence_model` fits, on
the labelled reference, a logistic model of the error on

* ``cluster_logodds``: log-odds of the image's spectral risk (its clusters'
  error rates, :mod:`spectral_fast.reliability`), taken without the image's
  own patient (:func:`held_out_cluster_risk`), so small clusters do not look
  more predictive on the reference than they are on new images;
* ``score_logit``: the score's signed log-odds from the decision threshold
  (a model is often more wrong on one side of its threshold than the other);
* ``score_margin``: its absolute value, the model's own confidence.

The margin is free; the other two are penalised toward 0 with an L2
strength chosen by grouped cross-validation on the reference
(:func:`_choose_penalty`), so where they do not help the risk ranks images
about as the confidence does. It is for ranking images; the batch accuracy is
best taken from the spectral risk alone. The fitted model is plain JSON
inside ``reference.json``; :func:`confidence_risk` applies it. Why and how
well: ``docs/method.md#combined-risk``, ``docs/evaluations.md#reliability``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from spectral_fast._shared.stats import is_probability
from spectral_fast.errors import InvalidInputError

__all__ = [
    "CONFIDENCE_FEATURES", "FREE_FEATURE", "PENALTIES", "check_scores", "confidence_features", "confidence_risk",
    "fit_confidence_model", "held_out_cluster_risk",
]  # fmt: skip


#: Inputs the confidence model may use, in order (see :func:`confidence_features`).
CONFIDENCE_FEATURES = ("cluster_logodds", "score_logit", "score_margin")
#: The one input left unpenalised: the model's own confidence, the baseline every other input must beat.
FREE_FEATURE = "score_margin"
#: L2 strengths (on standardised inputs) tried for the other inputs; inf drops them (confidence only).
PENALTIES = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, math.inf)
#: Folds of the grouped cross-validation that picks the penalty.
CV_FOLDS = 5
#: Clip probabilities to [EPS, 1 - EPS] before taking log-odds.
_EPS = 1e-6


def _logodds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def check_scores(scores: np.ndarray, ids: Any = None, *, what: str = "scores") -> np.ndarray:
    """The scores as float64; raise naming the count and a few ids when any is missing, NaN or outside [0, 1]."""
    scores = np.asarray(scores, dtype=np.float64)
    bad = ~is_probability(scores)
    if bad.any():
        where = np.flatnonzero(bad)[:3]
        examples = [
            (ids[i] if ids is not None else int(i), None if np.isnan(scores[i]) else float(scores[i])) for i in where
        ]
        raise InvalidInputError(
            f"{what}: {int(bad.sum())} of {len(scores)} values are missing, NaN or outside [0, 1] "
            f"(e.g. {examples}); give the model's probability of the finding for every image"
        )
    return scores


def confidence_features(
    cluster_risk: np.ndarray,
    score: np.ndarray,
    threshold: float,
    features: tuple[str, ...] | list[str] = CONFIDENCE_FEATURES,
) -> np.ndarray:
    """Inputs of the confidence model, shape (n, len(features)), in the order of ``features``.

    ``cluster_logodds``: log-odds of the image's spectral (cluster) risk;
    ``score_logit``: the score's log-odds from the decision threshold,
    ``logit(score) - logit(threshold)`` (signed: a model is often more wrong
    on one side of its threshold than on the other);
    ``score_margin``: its absolute value, the model's own confidence.
    Models saved by format 2 used ``("cluster_logodds", "score_margin")``.
    """
    unknown = [f for f in features if f not in CONFIDENCE_FEATURES]
    if unknown:
        raise InvalidInputError(
            f"confidence model: unknown input(s) {unknown}; this version knows {list(CONFIDENCE_FEATURES)} "
            "(was the reference written by a newer spectral_fast?)"
        )
    signed = _logodds(score) - _logodds(np.array(threshold))
    columns = {
        "cluster_logodds": lambda: _logodds(cluster_risk),
        "score_logit": lambda: signed,
        "score_margin": lambda: np.abs(signed),
    }
    return np.column_stack([columns[f]() for f in features])


def _fit_logistic(x: np.ndarray, y: np.ndarray, penalised: np.ndarray, penalty: float) -> tuple[float, np.ndarray]:
    """Logistic regression, L2 ``penalty`` on the standardised ``penalised`` columns only; (intercept, coef) in x's units.

    ``penalty = inf`` fixes the penalised coefficients at 0. A column without
    spread gets coefficient 0.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    centre, spread = x.mean(axis=0), x.std(axis=0)
    flat = spread < 1e-12
    spread = np.where(flat, 1.0, spread)
    free = ~flat & (~penalised if math.isinf(penalty) else True)
    z = np.column_stack([np.ones(len(x)), ((x - centre) / spread)[:, free]])
    pen = np.concatenate([[False], penalised[free]])
    lam = 0.0 if math.isinf(penalty) else penalty

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        t = z @ w
        value = float(np.sum(np.logaddexp(0.0, t) - y * t) + 0.5 * lam * np.sum(w[pen] ** 2))
        grad = z.T @ (expit(t) - y) + lam * np.where(pen, w, 0.0)
        return value, grad

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    coef = np.zeros(x.shape[1])
    coef[free] = w[1:] / spread[free]
    return float(w[0] - np.sum(coef * centre)), coef


def _grouped_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Fold of each row; all rows of a group (a patient) in the same fold, groups dealt in a seeded random order."""
    uniq, inverse = np.unique(groups, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(uniq))
    return (np.argsort(order) % n_folds)[inverse]


def fit_confidence_model(
    cluster_risk: np.ndarray,
    score: np.ndarray,
    error: np.ndarray,
    threshold: float,
    *,
    groups: np.ndarray | None = None,
    features: tuple[str, ...] | list[str] = CONFIDENCE_FEATURES,
    penalties: tuple[float, ...] = PENALTIES,
    seed: int = 0,
) -> dict | None:
    """Logistic model of the error on the reference: P(error) from spectral risk and the model's confidence.

    A deployer who has the model's scores wants one per-image risk that uses
    both: the cluster's error rate (acquisition-driven failures the score
    does not see), the score's margin (hard cases within a cluster) and its
    side of the threshold. The margin, the model's own confidence, is left
    unpenalised; the other inputs get an L2 penalty (on standardised inputs)
    whose strength is chosen from ``penalties`` by grouped ``CV_FOLDS``-fold
    cross-validated log-loss on the reference (rows of one group, a patient,
    in the same fold): the one with the lowest held-out loss
    (:func:`_choose_penalty`). ``inf`` in the list drops them, so when the
    cluster and the score's side do not help on held-out reference images
    the risk ranks images as the confidence does, and when they help little
    a strong penalty keeps their weight small.

    Parameters
    ----------
    cluster_risk, score, error : ndarray of shape (n,)
        Per reference image: the spectral risk held out from the image's own
        outcome (:func:`held_out_cluster_risk`), the model's probability, and
        whether it was wrong.
    threshold : float
        The model's decision threshold.
    groups : ndarray of shape (n,), optional
        Patient (or any unit whose images share outcomes) of each image, for
        the folds; default: each image its own group.
    features : sequence of str
        Inputs, from :data:`CONFIDENCE_FEATURES`; must include :data:`FREE_FEATURE`.
    penalties : tuple of float
        Candidate L2 strengths; one value fixes it (no cross-validation).
    seed : int
        Seed of the fold assignment.

    Returns
    -------
    dict or None
        ``features``, ``intercept``, ``coef``, ``threshold`` (what
        :func:`confidence_risk` needs; plain JSON, saved in ``reference.json``),
        ``n``, the chosen ``penalty`` (None: infinite, confidence only) and
        ``cv`` (per candidate penalty: held-out log-loss and the standard
        error of its difference from the best); None when the
        reference has errors of one kind only (nothing to fit).
    """
    error = np.asarray(error, dtype=bool)
    if error.all() or not error.any():
        return None
    features = list(features)
    if FREE_FEATURE not in features:
        raise InvalidInputError(f"features: must include {FREE_FEATURE!r} (the model's confidence), got {features}")
    if not penalties or any(not (p >= 0) for p in penalties):
        raise InvalidInputError(f"penalties: give at least one L2 strength >= 0 (inf allowed), got {penalties}")
    x = confidence_features(cluster_risk, score, threshold, features)
    y = error.astype(np.float64)
    penalised = np.array([f != FREE_FEATURE for f in features])
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    if groups.shape != y.shape:
        raise InvalidInputError(f"groups has {groups.size} values for {y.size} images")
    chosen, cv = _choose_penalty(x, y, penalised, groups, penalties, seed)
    intercept, coef = _fit_logistic(x, y, penalised, chosen)
    return {
        "features": features,
        "intercept": intercept,
        "coef": [float(c) for c in coef],
        "threshold": float(threshold),
        "n": len(y),
        "penalty": None if math.isinf(chosen) else float(chosen),
        "cv": cv,
    }


def _choose_penalty(
    x: np.ndarray, y: np.ndarray, penalised: np.ndarray, groups: np.ndarray, penalties: tuple[float, ...], seed: int
) -> tuple[float, list[dict]]:
    """The penalty of :func:`fit_confidence_model` by grouped cross-validation: the lowest held-out log-loss.

    Every candidate's held-out log-loss per image; the chosen penalty is the
    one with the lowest mean (on a tie, the larger penalty, toward the
    confidence alone; ``docs/evaluations.md#reliability`` compares it with the
    one-standard-error rule). The standard error of each candidate's
    difference from the best is still recorded. Returns the
    penalty and, per candidate, ``penalty`` (None: inf), ``logloss`` and
    ``se`` (None when not cross-validated).
    """

    def record(losses: list, ses: list) -> list[dict]:
        return [
            {"penalty": None if math.isinf(p) else float(p), "logloss": l_, "se": s_}
            for p, l_, s_ in zip(penalties, losses, ses)
        ]  # fmt: skip

    nothing = [None] * len(penalties)
    n_folds = min(CV_FOLDS, len(np.unique(groups)))
    if len(penalties) == 1 or n_folds < 2:
        return penalties[0], record(nothing, nothing)
    fold = _grouped_folds(groups, n_folds, seed)
    usable = [k for k in range(n_folds) if 0 < y[fold != k].sum() < (fold != k).sum()]
    if not usable:  # no fold to judge on: keep to the confidence alone
        return math.inf, record(nothing, nothing)
    rows = np.isin(fold, usable)
    loss = np.zeros((len(penalties), len(y)))
    for j, penalty in enumerate(penalties):
        for k in usable:
            train, test = fold != k, fold == k
            intercept, coef = _fit_logistic(x[train], y[train], penalised, penalty)
            t = intercept + x[test] @ coef
            loss[j, test] = np.logaddexp(0.0, t) - y[test] * t
    mean = loss[:, rows].mean(axis=1)
    best = int(np.argmin(mean))
    _, group_of = np.unique(groups[rows], return_inverse=True)
    n_groups, n_rows = int(group_of.max()) + 1, int(rows.sum())
    ses = []
    for j in range(len(penalties)):
        per_group = np.bincount(group_of, weights=loss[j, rows] - loss[best, rows], minlength=n_groups)
        ses.append(float(per_group.std(ddof=1) * math.sqrt(n_groups) / n_rows) if n_groups > 1 else 0.0)
    tied = [j for j in range(len(penalties)) if mean[j] <= mean[best]]
    chosen = max(tied, key=lambda j: penalties[j])
    return penalties[chosen], record([float(v) for v in mean], ses)


def confidence_risk(model: Mapping[str, Any], cluster_risk: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per-image failure risk from the confidence model (:func:`fit_confidence_model`; format 2 models too)."""
    features = model.get("features", ["cluster_logodds", "score_margin"])
    coef = np.asarray(model["coef"], dtype=np.float64)
    if len(coef) != len(features):
        raise InvalidInputError(f"confidence model: {len(coef)} coefficients for {len(features)} inputs {features}")
    z = model["intercept"] + confidence_features(cluster_risk, score, model["threshold"], features) @ coef
    from scipy.special import expit

    return expit(z)


def held_out_cluster_risk(
    posterior: np.ndarray, error: np.ndarray, groups: np.ndarray | None, prior_mean: float, prior_strength: float
) -> np.ndarray:
    """Each reference image's spectral risk from cluster rates without its group's outcomes (shrunk as :func:`shrunk_rates`).

    The confidence model is fitted on these: with an image's own outcome (or
    its patient's other images) in its cluster's rate, small clusters look
    more predictive on the reference than they are on new images.
    """
    posterior = np.asarray(posterior, dtype=np.float64)
    error = np.asarray(error, dtype=np.float64)
    groups = np.arange(len(error)) if groups is None else np.asarray(groups)
    _, inverse = np.unique(groups, return_inverse=True)
    n_g = np.zeros((inverse.max() + 1, posterior.shape[1]))
    e_g = np.zeros_like(n_g)
    np.add.at(n_g, inverse, posterior)
    np.add.at(e_g, inverse, posterior * error[:, None])
    a0 = max(prior_strength, 1e-6)
    rates = (posterior.T @ error - e_g[inverse] + a0 * prior_mean) / (posterior.sum(axis=0) - n_g[inverse] + a0)
    return np.clip((posterior * rates).sum(axis=1), 0.0, 1.0)
