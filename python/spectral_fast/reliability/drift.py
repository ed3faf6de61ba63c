"""Monitoring a new batch against the reference (``docs/method.md`` section 5).

Given a report's output folder (the cluster model and its
:class:`~spectral_fast.reliability.reference_set.Reference`) and the profiles of a new,
unlabeled batch, :func:`monitor` answers: has the mix of spectral clusters
changed, which bands moved, what accuracy does the new mix imply, is the batch
drifting toward a blind spot or away from anything seen before, and sums it
up in one verdict line.

The tests
---------
Cluster mix. ``q_c`` is the reference's share of cluster ``c`` and ``p_c``
the batch's (mean posterior; one-hot for k-means). The population stability
index is ``PSI = sum_c (p_c - q_c) ln(p_c / q_c)`` with shares floored at
1e-4 so an empty cluster stays finite; by the usual reading PSI < 0.1 is
stable, 0.1-0.25 a moderate and > 0.25 a large shift. PSI has no sampling
distribution attached (a batch of 50 images over 12 clusters reaches 0.2 by
chance), so the verdict uses the chi-square test of homogeneity of the
2 x k table of image counts (most probable cluster; reference against batch).

Bands. Each clustering feature (every band, plus artefact features) gets a
two-sample Kolmogorov-Smirnov test of the batch against the reference's
stored values; p-values are Benjamini-Hochberg adjusted over the features
(``failures.bh_adjust``). The effect is the median shift in the model's
robust units, ``(median_batch - median_reference) / scale``.

Accuracy implied by the mix. With shrunk cluster error rates ``r_c``
(:func:`spectral_fast.reliability.rates.shrunk_rates`), the change is
``D = sum_c (q_c - p_c) r_c`` (batch minus reference expected accuracy), with
variance ``sum_c (p_c - q_c)^2 Var(r_c) + Var_batch(risk) / n_b + Var_ref(risk) / n_r``
(rate uncertainty plus the sampling of both mixes) and a normal 95 % interval.

Toward a blind spot. For each blind spot of the report, a one-sided Fisher
exact test of whether its share of images is larger in the batch than in the
reference; BH over all blind spots.

Away from anything seen. By construction 1 % of reference images lie beyond
the unknown-territory distance; a one-sided binomial test says whether the
batch has more.

Verdict
-------
``alert``: some finding's implied accuracy drops by at least ``max_drop``
with an interval below 0, or at least ``unknown_alert`` of the batch is
unknown territory with a significant binomial test. ``drift``: any test
significant at ``alpha`` (mix chi-square, any band, blind-spot share,
unknown share) without an alert. ``ok``: none.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

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
    for j, name in enumerate(names):
        ref = reference_values[:, j].astype(np.float64)
        new = batch_values[:, j].astype(np.float64)
        ref, new = ref[np.isfinite(ref)], new[np.isfinite(new)]
        if len(ref) == 0 or len(new) == 0:
            rows.append({"feature": name, "ks": math.nan, "p_value": math.nan, "shift": math.nan})
            continue
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
