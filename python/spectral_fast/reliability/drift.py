"""The statistics of monitoring a new batch against the reference.

Given a report's output folder (the cluster model and its
:class:`~spectral_fast.reliability.reference_set.Reference`) and the profiles of a new,
unlabeled batch: the population stability index and a chi-square test of the
cluster mix, a two-sample KS test per feature with Benjamini-Hochberg, the
accuracy change the new mix implies (with a 95 % interval), a one-sided Fisher
test per blind spot, and a binomial test of the unknown-territory share; the
verdict (``alert``, ``drift``, ``ok``) is made in
:mod:`spectral_fast.reliability.monitoring`. Formulas and rules:
``docs/method.md#monitoring``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl

from spectral_fast._shared.progress import counted

#: Floor of cluster shares in the PSI.
PSI_FLOOR = 1e-4
#: Conventional PSI readings: below the first stable, above the second a large shift.
PSI_LEVELS = (0.1, 0.25)


def population_stability_index(batch_share: np.ndarray, reference_share: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """``PSI = sum_c (p_c - q_c) ln(p_c / q_c)``, shares floored at ``floor`` and renormalised."""
    p = np.maximum(np.asarray(batch_share, dtype=np.float64), floor)
    q = np.maximum(np.asarray(reference_share, dtype=np.float64), floor)
    p, q = p / p.sum(), q / q.sum()
    return float(((p - q) * np.log(p / q)).sum())


def mix_test(batch_counts: np.ndarray, reference_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity of the 2 x k count table (clusters empty on both sides dropped).

    Returns the statistic, degrees of freedom and p-value (p = 1 when fewer than two clusters are occupied).
    """
    from scipy.stats import chi2_contingency

    table = np.vstack([reference_counts, batch_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 0, 1.0
    chi2, p, dof, _ = chi2_contingency(table, correction=False)
    return float(chi2), int(dof), float(p)


def band_tests(
    reference_values: np.ndarray, batch_values: np.ndarray, names: list[str], scale: np.ndarray
) -> pl.DataFrame:
    """Two-sample KS test per feature with BH-adjusted p-values and the median shift in robust units.

    NaN values (a feature that does not apply to an image) are left out of
    both samples; a feature with no values on one side gets NaN.
    """
    from scipy.stats import ks_2samp

    from spectral_fast._shared.stats import bh_adjust

    rows = []
    for j, name in counted(enumerate(names), len(names), "feature tests", "feature"):
        ref = reference_values[:, j].astype(np.float64)
        new = batch_values[:, j].astype(np.float64)
        ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
        if len(ref) == 0 or len(new) == 0:
            rows.append({"feature": name, "ks": math.nan, "p_value": math.nan, "shift": math.nan})
            continue
        with warnings.catch_warnings():
            # scipy falls back from the exact to the asymptotic p-value when the exact one does not
            # converge and says so; the fallback is the documented behaviour, not a problem of the batch.
            warnings.filterwarnings("ignore", "ks_2samp: Exact calculation unsuccessful", RuntimeWarning)
            res = ks_2samp(new, ref)
        shift = (float(np.median(new)) - float(np.median(ref))) / float(scale[j])
        rows.append({"feature": name, "ks": float(res.statistic), "p_value": float(res.pvalue), "shift": shift})
    table = pl.DataFrame(
        rows, schema={"feature": pl.Utf8, "ks": pl.Float64, "p_value": pl.Float64, "shift": pl.Float64}
    )
    p = table["p_value"].to_numpy()
    q = np.full(len(p), math.nan)
    ok = np.isfinite(p)
    q[ok] = bh_adjust(p[ok])
    return table.with_columns(pl.Series("p_adjusted", q))
