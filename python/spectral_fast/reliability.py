"""Reliability without labels (``docs/method.md`` section 4).

A blind-spot report knows, for a labelled reference set, which spectral
cluster each image fell in and whether the model was wrong on it. This module
turns that into predictions for new images nobody has labelled yet:

* a per-image **failure risk**: the error rate of the image's cluster,
  posterior-weighted for a mixture model;
* the **expected accuracy** of the batch and of each cluster (slice) in it,
  with a 95 % interval;
* an **unknown territory** flag for images farther from every cluster centre
  than 99 % of the reference images were.

The reference (what a report's output folder must hold besides the model) is
a :class:`Reference`, saved as ``reference.json`` + ``reference.npz`` next to
``model.json`` by :func:`write_reference`.

The maths
---------
Cluster error rates, shrunk. For one finding, cluster ``c`` of the reference
holds ``n_c`` images and ``e_c`` errors (posterior-weighted sums for a
mixture: ``n_c = sum_i pi_ic``, ``e_c = sum_i pi_ic err_i``). The rates are
the posterior means of a beta-binomial model,

    r_c = (e_c + m mu) / (n_c + m),     r_c ~ Beta(a_c, b_c),
    a_c = e_c + m mu,  b_c = n_c - e_c + m (1 - mu),

with prior mean ``mu = (E + 1/2) / (N + 1)`` (the overall rate, kept off 0
and 1 so every interval is proper) and prior strength ``m``, worth ``m``
images: by default ``m = 2`` (:data:`DEFAULT_PRIOR_STRENGTH`), so a cluster
of 2 images is pulled half way to the overall rate and one of 20 keeps 91 %
of its own. Shrinkage biases a blind spot's rate toward the mean, which is
what matters when a batch drifts into it, so the prior is kept weak: it
steadies the tiny clusters an over-segmented mixture has.
``prior_strength="auto"`` instead maximises the beta-binomial marginal
likelihood ``sum_c [B(a_c, b_c) - B(m mu, m (1 - mu))]`` (``B`` the log beta
function) over ``m`` in [0.5, 1e5] (empirical Bayes). In the benchmark the
choice barely matters (batch accuracy error 0.028-0.033 on phantoms for m
from 0 to 50 and for the fitted m; ``benches/results/reliability.md``), but
with one small, strongly elevated cluster the fitted m pulls that blind spot
toward the mean and the 95 % interval covers about 90 % of batches instead
of 94 % (the simulation of ``tests/test_reliability.py``).

Risk and expected accuracy. With posterior ``pi_ic`` (one-hot for k-means),
``risk_i = sum_c pi_ic r_c`` and the expected accuracy of a set S of images
is ``A = 1 - mean_{i in S} risk_i = 1 - sum_c w_c r_c`` with
``w_c = mean_{i in S} pi_ic``. Its variance as a prediction of the set's
actual accuracy adds the uncertainty of the rates and the Bernoulli noise of
the set's own outcomes,

    Var = sum_c w_c^2 Var(r_c) + sum_{i in S} risk_i (1 - risk_i) / |S|^2,

and the interval is ``A +- 1.96 sqrt(Var)`` clipped to [0, 1] (normal
approximation; rates of different clusters treated as independent).

Unknown territory. ``d_i = min_c ||z_i - mu_c||`` is the Euclidean distance
in the model's scaled units to the nearest cluster centre
(:meth:`~spectral_fast.cluster.SpectralClusters.transform`); an image is
unknown territory when ``d_i`` exceeds the 99th percentile of the reference
images' ``d``. The percentile is measured on the images the clusters were
fitted on, so clean new images exceed it somewhat more than 1 % of the time.
Their risk is still the nearest clusters' rate, an extrapolation: the flag
says not to trust it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast import __version__
from spectral_fast._batch_input import PROFILE_OPTIONS, band_columns, check_profile_options, prepare_batch, read_profile_options
from spectral_fast.cluster import _digest
from spectral_fast.errors import InvalidInputError
from spectral_fast.failures import Z95
from spectral_fast.report import _jsonable

__all__ = [
    "Prediction", "Reference", "build_reference", "check_profile_options", "cluster_posterior", "expected_accuracy",
    "fit_prior_strength", "load_model_dir", "predict", "read_profile_options", "shrunk_rates", "write_reference",
]  # fmt: skip

FORMAT = "spectral_fast.reference"
FORMAT_VERSION = 1
#: Percentile of the reference's distance-to-nearest-centre beyond which an image is unknown territory.
UNKNOWN_PERCENTILE = 99.0
#: Reference rows kept for the per-band two-sample tests of :mod:`spectral_fast.monitor`.
MAX_SAMPLE = 20000
#: Default prior strength of the shrinkage, in images (module docstring).
DEFAULT_PRIOR_STRENGTH = 2.0


# --------------------------------------------------------------------- shrinkage
def fit_prior_strength(errors: np.ndarray, n: np.ndarray, mu: float) -> float:
    """Beta-binomial prior strength ``m`` by maximum marginal likelihood (module docstring).

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
        ``m`` of the module docstring, in images; ``"auto"`` fits it
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


def expected_accuracy(posterior: np.ndarray, rate: np.ndarray, rate_var: np.ndarray) -> tuple[float, float, float, float]:
    """Expected accuracy of a set of images, its standard error and 95 % interval (module docstring).

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


# --------------------------------------------------------------------- reference
@dataclass
class Reference:
    """What a report knows about its labelled reference set, beyond the cluster model.

    Attributes
    ----------
    n : int
        Reference images.
    features : list of str
        The model's feature columns.
    profile_options : dict
        ``bands``, ``spacing``, ``window``, ``size`` of the reference profiles;
        ``"?"`` where unknown.
    mix : ndarray of shape (k,)
        Mean posterior of each cluster over the reference (the cluster mix).
    counts : ndarray of shape (k,)
        Images per cluster (most probable cluster).
    distance_threshold : float
        The reference's 99th percentile of the distance to the nearest centre.
    findings : dict
        Per finding: ``n`` and ``errors`` per cluster (posterior-weighted),
        ``prior_strength``, ``blind_spots`` (lists of clusters) and the
        reference's mix-implied ``expected_accuracy`` with ``risk_var`` (the
        variance of the per-image risk over the reference).
    sample : ndarray of shape (m, n_features)
        Feature values of up to :data:`MAX_SAMPLE` reference images (float32),
        for the per-band tests of the monitor.
    """

    n: int
    features: list[str]
    profile_options: dict
    mix: np.ndarray
    counts: np.ndarray
    distance_threshold: float
    findings: dict
    sample: np.ndarray
    meta: dict = field(default_factory=dict)

    def rates(self, finding: str) -> tuple[np.ndarray, np.ndarray]:
        """Shrunk error rate of each cluster and its variance, for one finding."""
        f = self.finding(finding)
        rate, var, _, _ = shrunk_rates(np.asarray(f["errors"]), np.asarray(f["n"]), prior_strength=f["prior_strength"])
        return rate, var

    def finding(self, name: str) -> dict:
        if name not in self.findings:
            raise InvalidInputError(f"finding: {name!r} is not in the reference; it has {sorted(self.findings)}")
        return self.findings[name]

    # ---------------------------------------------------------------- files
    def save(self, outdir: str | Path) -> dict[str, Path]:
        """Write ``reference.json`` and ``reference.npz`` into ``outdir``; returns their paths."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, npz_path = out / "reference.json", out / "reference.npz"
        np.savez(npz_path, mix=self.mix, counts=self.counts, sample=self.sample)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "n": int(self.n),
            "features": list(self.features),
            "profile_options": self.profile_options,
            "distance_percentile": UNKNOWN_PERCENTILE,
            "distance_threshold": float(self.distance_threshold),
            "findings": _jsonable(self.findings),
            "arrays": npz_path.name,
            "arrays_sha256": hashlib.sha256(npz_path.read_bytes()).hexdigest(),
            "method": self.meta.get("method"),
            "k": self.meta.get("k"),
        }
        meta["sha256"] = _digest(meta)
        json_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return {"reference": json_path, "reference_arrays": npz_path}

    @classmethod
    def load(cls, model_dir: str | Path) -> Reference:
        """Read ``reference.json`` + ``reference.npz`` from a report's output folder (checksums verified)."""
        json_path = Path(model_dir) / "reference.json"
        if not json_path.is_file():
            raise FileNotFoundError(
                f"{json_path} not found: MODEL_DIR must be the output folder of `spectral-fast report` "
                "(which writes reference.json next to model.json)"
            )
        try:
            meta = json.loads(json_path.read_text())
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{json_path}: not a spectral_fast reference file ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InvalidInputError(f"{json_path}: not a spectral_fast reference file")
        if meta.get("format_version") != FORMAT_VERSION:
            raise InvalidInputError(
                f"{json_path}: reference format version {meta.get('format_version')!r}, this spectral_fast reads "
                f"version {FORMAT_VERSION}; run the report again"
            )
        if meta.get("sha256") != _digest({k: v for k, v in meta.items() if k != "sha256"}):
            raise InvalidInputError(f"{json_path}: checksum mismatch, the file was modified after saving")
        npz_path = json_path.with_name(meta["arrays"])
        if hashlib.sha256(npz_path.read_bytes()).hexdigest() != meta["arrays_sha256"]:
            raise InvalidInputError(f"{npz_path}: checksum mismatch, the arrays were modified after saving")
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return cls(
            n=int(meta["n"]),
            features=list(meta["features"]),
            profile_options=dict(meta["profile_options"]),
            mix=arrays["mix"],
            counts=arrays["counts"],
            distance_threshold=float(meta["distance_threshold"]),
            findings=meta["findings"],
            sample=arrays["sample"],
            meta={"method": meta.get("method"), "k": meta.get("k"), "package_version": meta.get("package_version")},
        )


def cluster_posterior(model: Any, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Posterior over clusters (one-hot for k-means) and distance to the nearest centre, per image."""
    distances = model.transform(table)
    if model.method == "gmm":
        posterior = np.asarray(model.predict_proba(table), dtype=np.float64)
    else:
        posterior = np.zeros_like(distances)
        posterior[np.arange(len(distances)), distances.argmin(axis=1)] = 1.0
    return posterior, distances.min(axis=1)


def build_reference(
    table: pl.DataFrame,
    model: Any,
    errors: Mapping[str, np.ndarray],
    *,
    blind_spots: Mapping[str, list[list[int]]] | None = None,
    profile_options: dict | None = None,
    prior_strength: float | str = DEFAULT_PRIOR_STRENGTH,
    max_sample: int = MAX_SAMPLE,
    seed: int = 0,
) -> Reference:
    """The reference statistics of a labelled set, for :func:`predict` and the monitor.

    Parameters
    ----------
    table : polars.DataFrame
        Reference profiles (error rows already removed), in the order of ``errors``.
    model : SpectralClusters
        The fitted cluster model.
    errors : mapping of str to ndarray of bool
        Per finding, whether the classifier was wrong on each image.
    blind_spots : mapping of str to list of list of int, optional
        Per finding, the clusters of each blind spot (from the report).
    profile_options : dict, optional
        Options the reference profiles were made with (:func:`read_profile_options`);
        the band count is always taken from the table.
    prior_strength : float or "auto"
        Shrinkage of small clusters toward the overall rate (:func:`shrunk_rates`).
    max_sample : int
        Reference rows kept for the per-band tests (a seeded random subset beyond it).
    seed : int
        Seed of that subset.
    """
    if table.height == 0:
        raise InvalidInputError("table: the reference holds no images")
    if not errors:
        raise InvalidInputError("errors: give the per-image errors of at least one finding")
    posterior, dist = cluster_posterior(model, table)
    k = posterior.shape[1]
    findings = {}
    for name, err in errors.items():
        err = np.asarray(err, dtype=np.float64)
        if err.shape != (table.height,):
            raise InvalidInputError(f"errors[{name!r}] has {err.size} values for {table.height} images")
        n_c, e_c = posterior.sum(axis=0), posterior.T @ err
        rate, var, mu, m = shrunk_rates(e_c, n_c, prior_strength=prior_strength)
        acc, _, _, _ = expected_accuracy(posterior, rate, var)
        risk = posterior @ rate
        spots = [sorted(int(c) for c in s) for s in (blind_spots or {}).get(name, [])]
        findings[name] = {
            "n": n_c.tolist(),
            "errors": e_c.tolist(),
            "error_rate": float(err.mean()),
            "prior_mean": mu,
            "prior_strength": m,
            "rate": rate.tolist(),
            "blind_spots": spots,
            "expected_accuracy": acc,
            "risk_var": float(risk.var()),
        }
    options: dict[str, Any] = {k_: "?" for k_ in PROFILE_OPTIONS}
    options.update({k_: v for k_, v in (profile_options or {}).items() if k_ in PROFILE_OPTIONS})
    options["bands"] = len(band_columns(table.columns))
    feats = list(model.features_)
    sample = table.select(feats).cast({c: pl.Float64 for c in feats}).to_numpy()
    if sample.shape[0] > max_sample:
        keep = np.sort(np.random.default_rng(seed).choice(sample.shape[0], max_sample, replace=False))
        sample = sample[keep]
    return Reference(
        n=table.height,
        features=feats,
        profile_options=options,
        mix=posterior.mean(axis=0),
        counts=np.bincount(posterior.argmax(axis=1), minlength=k).astype(np.int64),
        distance_threshold=float(np.percentile(dist, UNKNOWN_PERCENTILE)),
        findings=findings,
        sample=sample.astype(np.float32),
        meta={"method": model.method, "k": int(k)},
    )


def write_reference(report: Any, outdir: str | Path, *, profile_options: dict | None = None) -> dict[str, Path]:
    """Build the :class:`Reference` of a :class:`spectral_fast.report.Report` and save it into ``outdir``.

    The report's joined table, model, per-image errors (``error_<finding>``
    columns of its assignments) and blind spots are used; profile options come
    from ``profile_options`` or the report summary's ``"profile_options"``.
    """
    titles = list(report.summary["findings"])
    errors = {t: report.assignments[f"error_{t}"].to_numpy() for t in titles}
    spots: dict[str, list[list[int]]] = {t: [] for t in titles}
    for row in report.blind_spots.iter_rows(named=True):
        spots[row["finding"]].append([int(c) for c in str(row["clusters"]).split("+")])
    options = profile_options or report.summary.get("profile_options")
    ref = build_reference(
        report.table, report.model, errors, blind_spots=spots, profile_options=options, seed=report.summary["options"]["seed"]
    )
    return ref.save(outdir)


def load_model_dir(model_dir: str | Path) -> tuple[Any, Reference]:
    """The cluster model (``model.json``) and :class:`Reference` of a report's output folder."""
    from spectral_fast.cluster import SpectralClusters

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"MODEL_DIR {model_dir} is not a folder (give the output folder of `spectral-fast report`)")
    if not (model_dir / "model.json").is_file():
        raise FileNotFoundError(f"{model_dir / 'model.json'} not found: is {model_dir} a report's output folder?")
    model = SpectralClusters.load(model_dir / "model.json")
    reference = Reference.load(model_dir)
    if list(model.features_) != reference.features or model.n_clusters_ != len(reference.mix):
        raise InvalidInputError(f"{model_dir}: model.json and reference.json come from different runs")
    return model, reference


# --------------------------------------------------------------------- predict
@dataclass
class Prediction:
    """Result of :func:`predict`.

    Attributes
    ----------
    images : polars.DataFrame
        One row per usable image: ``id``, ``cluster``, ``distance`` (to the
        nearest centre), ``unknown`` (bool), ``probability`` (mixtures), and
        ``risk_<finding>`` per finding.
    slices : polars.DataFrame
        One row per (finding, cluster) present in the batch: ``n``, ``share``,
        ``expected_accuracy`` with ``ci_low`` / ``ci_high``, the cluster's
        shrunk ``reference_error_rate`` and ``reference_n``, ``blind_spot``.
    summary : dict
        Batch-level results per finding, unknown-territory counts, excluded rows.
    posterior : ndarray of shape (n, k)
        Cluster posterior of each image (one-hot for k-means).
    table : polars.DataFrame
        The profile rows used (error rows removed), in the order of :attr:`images`.
    """

    images: pl.DataFrame
    slices: pl.DataFrame
    summary: dict
    posterior: np.ndarray = field(repr=False)
    table: pl.DataFrame | None = field(repr=False, default=None)

    def write(self, path: str | Path) -> Path:
        """Write :attr:`images` as Parquet, with the summary in the file metadata (key ``spectral_fast.predict``)."""
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrow = self.images.to_arrow()
        meta = dict(arrow.schema.metadata or {})
        meta[b"spectral_fast.predict"] = json.dumps(_jsonable(self.summary)).encode()
        pq.write_table(arrow.replace_schema_metadata(meta), path)
        return path


def predict(
    model_dir: str | Path | tuple[Any, Reference],
    profiles: pl.DataFrame | str | Path,
    *,
    findings: list[str] | None = None,
    options: dict | None = None,
    id_col: str = "id",
    artefacts_from: str | Path | None = None,
) -> Prediction:
    """Failure risk, expected accuracy and unknown-territory flags for unlabeled images.

    Parameters
    ----------
    model_dir : path or (SpectralClusters, Reference)
        A report's output folder (``model.json`` + ``reference.json``), or the loaded pair.
    profiles : polars.DataFrame or path
        Profiles of the new images, made with the reference's options.
    findings : list of str, optional
        Findings to predict (default: all of the reference's).
    options : dict, optional
        Profile options of ``profiles`` when it is a DataFrame (a Parquet
        file's own metadata is read otherwise).
    id_col : str
        Id column of the profiles (row numbers when absent).
    artefacts_from : path, optional
        Image folder the ids are relative to, to compute artefact features the
        model needs and the profiles lack.

    Returns
    -------
    Prediction

    Raises
    ------
    InvalidInputError
        Empty batch, only error rows, or profiles made with other options
        (the message names the option).
    """
    model, reference = load_model_dir(model_dir) if not isinstance(model_dir, tuple) else model_dir
    names = list(reference.findings) if findings is None else list(findings)
    for name in names:
        reference.finding(name)
    table, info = prepare_batch(profiles, reference, options=options, id_col=id_col, artefacts_from=artefacts_from)
    posterior, dist = cluster_posterior(model, table)
    labels = posterior.argmax(axis=1)
    unknown = dist > reference.distance_threshold
    n = table.height
    cols: dict[str, Any] = {
        "id": table[id_col].cast(pl.Utf8),
        "cluster": pl.Series(labels, dtype=pl.Int64),
        "distance": pl.Series(dist, dtype=pl.Float64),
        "unknown": pl.Series(unknown, dtype=pl.Boolean),
    }
    if model.method == "gmm":
        cols["probability"] = pl.Series(posterior.max(axis=1), dtype=pl.Float64)
    slice_rows, per_finding = [], {}
    for name in names:
        rate, var = reference.rates(name)
        f = reference.finding(name)
        cols[f"risk_{name}"] = pl.Series(posterior @ rate, dtype=pl.Float64)
        acc, se, lo, hi = expected_accuracy(posterior, rate, var)
        known = ~unknown
        acc_known = expected_accuracy(posterior[known], rate, var)[0]
        per_finding[name] = {
            "expected_accuracy": acc, "se": se, "ci_low": lo, "ci_high": hi,
            "expected_errors": float((posterior @ rate).sum()),
            "expected_accuracy_known": acc_known,
            "reference_expected_accuracy": f["expected_accuracy"],
            "reference_error_rate": f["error_rate"],
            "prior_strength": f["prior_strength"],
        }  # fmt: skip
        in_spot = {c for s in f["blind_spots"] for c in s}
        for c in np.unique(labels):
            inside = labels == c
            a, s_, l_, h_ = expected_accuracy(posterior[inside], rate, var)
            slice_rows.append(
                {
                    "finding": name, "cluster": int(c), "n": int(inside.sum()), "share": float(inside.mean()),
                    "expected_accuracy": a, "se": s_, "ci_low": l_, "ci_high": h_,
                    "reference_error_rate": float(rate[c]), "reference_n": float(f["n"][c]),
                    "blind_spot": int(c) in in_spot, "unknown": int(unknown[inside].sum()),
                }
            )  # fmt: skip
    summary = {
        "package_version": __version__,
        "n_input": info["n_input"],
        "n": n,
        "excluded": {k: info[k] for k in ("error_rows", "error_examples", "artefact_failures") if k in info},
        "options_checked": info["options_checked"],
        "unknown": {
            "n": int(unknown.sum()),
            "share": float(unknown.mean()),
            "threshold": reference.distance_threshold,
            "percentile": UNKNOWN_PERCENTILE,
        },
        "findings": per_finding,
    }
    return Prediction(pl.DataFrame(cols), pl.DataFrame(slice_rows), summary, posterior, table)
