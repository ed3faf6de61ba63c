"""Statistics shared by the analysis and reliability layers: intervals, AUROC, tests, multiple testing."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


#: Above this many images a cluster's AUROC interval uses the Hanley-McNeil
#: normal approximation instead of the bootstrap (which would re-rank it 500 times).
BOOTSTRAP_MAX_N = 5000


def wilson_interval(k: np.ndarray | int, n: np.ndarray | int, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n`` (NaN where n = 0)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    # at k = 0 or k = n the bound equals 0 or 1 up to rounding (5e-17): make it exact
    return np.where(lo < 1e-12, 0.0, lo), np.where(hi > 1.0 - 1e-12, 1.0, hi)


def auroc(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN with one class."""
    from scipy.stats import rankdata

    truth = np.asarray(truth, dtype=bool)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_auroc(
    truth: np.ndarray, score: np.ndarray, rng: np.random.Generator, n_boot: int = 500
) -> tuple[float, float]:
    """Percentile 95 % bootstrap interval of the AUROC (resamples lacking a class are skipped)."""
    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any():
        return float("nan"), float("nan")
    n = len(truth)
    if n > BOOTSTRAP_MAX_N:
        return hanley_mcneil_interval(truth, score)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        t = truth[idx]
        if t.any() and not t.all():
            values.append(auroc(t, score[idx]))
    if len(values) < 20:
        return float("nan"), float("nan")
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def hanley_mcneil_interval(truth: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """Normal-approximation 95 % interval of the AUROC (Hanley & McNeil 1982), for large clusters."""
    a = auroc(truth, score)
    n1, n2 = int(truth.sum()), int((~truth).sum())
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    se = math.sqrt(max(a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n2 - 1) * (q2 - a * a), 0.0) / (n1 * n2))
    return max(0.0, a - Z95 * se), min(1.0, a + Z95 * se)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1): ``scipy.stats.false_discovery_control``.

    Any NaN makes every adjusted value NaN (the family is undefined); values a
    rounding above 1 (e.g. from a survival function) count as 1.
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any():
        return np.full(p.shape, np.nan)
    return np.asarray(false_discovery_control(np.clip(p, 0.0, 1.0), method="bh"), dtype=np.float64)


def enrichment_p(errors_in: int, n_in: int, errors_total: int, n_total: int) -> float:
    """One-sided hypergeometric p-value: this many or more errors in a group of n_in."""
    from scipy.stats import hypergeom

    if n_in == 0:
        return 1.0
    return float(hypergeom.sf(errors_in - 1, n_total, errors_total, n_in))


def bernoulli_llr(errors_in: int, n_in: int, errors_total: int, n_total: int) -> float:
    """Kulldorff's Bernoulli log-likelihood ratio for an elevated rate inside a group (0 if not elevated)."""
    c, n, C, N = errors_in, n_in, errors_total, n_total
    if n == 0 or n == N or c / n <= (C - c) / (N - n):
        return 0.0

    def ll(k: float, m: float) -> float:
        if m == 0:
            return 0.0
        p = k / m
        return (k * math.log(p) if k > 0 else 0.0) + ((m - k) * math.log(1.0 - p) if m > k else 0.0)

    return ll(c, n) + ll(C - c, N - n) - ll(C, N)


def mutual_information(labels: np.ndarray, error: np.ndarray, k: int) -> float:
    """Mutual information (nats) between cluster and error."""
    n = len(labels)
    joint = np.zeros((k, 2))
    np.add.at(joint, (labels, error.astype(np.int64)), 1.0)
    joint /= n
    pc, pe = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pc @ pe)[nz])).sum())


def worst_share(labels: np.ndarray, error: np.ndarray, k: int, coverage: float) -> float:
    """Share of all errors held by the highest-error clusters covering ``coverage`` of the images.

    Clusters are taken by error rate, highest first; the cluster that crosses
    the coverage contributes the covered fraction of its errors.
    """
    n, total = len(labels), int(error.sum())
    if total == 0:
        return float("nan")
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    errs = np.bincount(labels, weights=error.astype(np.float64), minlength=k)
    rate = np.divide(errs, sizes, out=np.zeros(k), where=sizes > 0)
    budget, held = coverage * n, 0.0
    for c in np.argsort(-rate, kind="stable"):
        take = min(sizes[c], budget)
        if take <= 0:
            break
        held += errs[c] * take / sizes[c]
        budget -= take
    return float(held / total)


def is_probability(score: np.ndarray) -> np.ndarray:
    """Per value: a number in [0, 1] (NaN and infinities are not), the one rule for model scores."""
    return np.isfinite(score) & (score >= 0.0) & (score <= 1.0)
