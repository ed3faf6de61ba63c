"""Per-cluster error rates shrunk toward the overall rate, and the expected accuracy of a batch.

A beta-binomial model: ``r_c = (e_c + m mu) / (n_c + m)`` with the overall rate ``mu`` as prior mean
and a weak prior strength ``m`` (2 images by default). The maths and the reasons:
``docs/method.md#reliability-without-labels``.
"""

from __future__ import annotations

import math

import numpy as np

from spectral_fast._shared.stats import Z95
from spectral_fast.errors import InvalidInputError

#: Default prior strength of the shrinkage, in images (``docs/method.md#reliability-without-labels``).
DEFAULT_PRIOR_STRENGTH = 2.0


# --------------------------------------------------------------------- shrinkage
def fit_prior_strength(errors: np.ndarray, n: np.ndarray, mu: float) -> float:
    """Beta-binomial prior strength ``m`` by maximum marginal likelihood (``docs/method.md#reliability-without-labels``).

    Parameters
    ----------
    errors, n : ndarray of shape (k,)
        Errors and images per cluster (may be fractional: posterior-weighted).
    mu : float
        Prior mean in (0, 1).

    Returns
    -------
    float
        ``m`` in [0.5, 1e5]; large when the clusters do not differ beyond chance.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import betaln

    errors = np.asarray(errors, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    keep = n > 0
    errors, n = errors[keep], n[keep]
    if len(n) < 2:
        return 1e5  # one cluster: nothing to tell rates apart, pool completely

    def negloglik(log_m: float) -> float:
        m = math.exp(log_m)
        a0, b0 = m * mu, m * (1.0 - mu)
        return -float(np.sum(betaln(errors + a0, n - errors + b0) - betaln(a0, b0)))

    res = minimize_scalar(negloglik, bounds=(math.log(0.5), math.log(1e5)), method="bounded")
    return float(math.exp(res.x))


def shrunk_rates(
    errors: np.ndarray, n: np.ndarray, *, prior_strength: float | str = DEFAULT_PRIOR_STRENGTH
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Shrunk per-cluster error rates and their posterior variances.

    Parameters
    ----------
    errors, n : ndarray of shape (k,)
        Errors and images per cluster.
    prior_strength : float or "auto", default 2
        ``m`` of ``docs/method.md#reliability-without-labels``, in images; ``"auto"`` fits it
        (:func:`fit_prior_strength`), 0 means no shrinkage.

    Returns
    -------
    rate, variance : ndarray of shape (k,)
        Posterior mean and variance of each cluster's error rate.
    mu, m : float
        Prior mean and strength used.
    """
    errors = np.asarray(errors, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if errors.shape != n.shape or (errors < 0).any() or (errors > n + 1e-9).any():
        raise InvalidInputError("errors and n must have the same shape with 0 <= errors <= n")
    total_n, total_e = float(n.sum()), float(errors.sum())
    if total_n <= 0:
        raise InvalidInputError("n: the reference holds no images")
    mu = (total_e + 0.5) / (total_n + 1.0)
    if isinstance(prior_strength, str):
        if prior_strength != "auto":
            raise InvalidInputError(f"prior_strength must be a number >= 0 or 'auto', got {prior_strength!r}")
        m = fit_prior_strength(errors, n, mu)
    else:
        m = float(prior_strength)
        if not m >= 0 or not math.isfinite(m):
            raise InvalidInputError(f"prior_strength must be a number >= 0 or 'auto', got {prior_strength!r}")
    # A few pseudo-images keep an empty, unshrunk cluster defined (its rate is then mu).
    a = errors + max(m, 1e-6) * mu
    b = n - errors + max(m, 1e-6) * (1.0 - mu)
    rate = a / (a + b)
    var = a * b / ((a + b) ** 2 * (a + b + 1.0))
    return rate, var, mu, m


def expected_accuracy(
    posterior: np.ndarray, rate: np.ndarray, rate_var: np.ndarray
) -> tuple[float, float, float, float]:
    """Expected accuracy of a set of images, its standard error and 95 % interval (``docs/method.md#reliability-without-labels``).

    Parameters
    ----------
    posterior : ndarray of shape (n, k)
        Cluster posterior of each image (rows sum to 1).
    rate, rate_var : ndarray of shape (k,)
        Shrunk cluster error rates and their variances.

    Returns
    -------
    accuracy, se, low, high : float
        NaN for an empty set.
    """
    posterior = np.asarray(posterior, dtype=np.float64)
    if posterior.shape[0] == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    risk = posterior @ rate
    w = posterior.mean(axis=0)
    n = posterior.shape[0]
    var = float((w * w * rate_var).sum() + (risk * (1.0 - risk)).sum() / (n * n))
    acc = 1.0 - float(risk.mean())
    se = math.sqrt(max(var, 0.0))
    return acc, se, max(0.0, acc - Z95 * se), min(1.0, acc + Z95 * se)
