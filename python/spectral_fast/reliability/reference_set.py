"""Reliability without labels: the reference set a report leaves for new images.

A blind-spot report knows, for a labelled reference set, which spectral
cluster each image fell in and whether the model was wrong on it. This module
turns that into predictions for new images nobody has labelled yet:

* a per-image **failure risk**: the error rate of the image's cluster,
  shrunk toward the overall rate (:mod:`spectral_fast.reliability.rates`),
  posterior-weighted for a mixture model;
* the **expected accuracy** of the batch and of each cluster (slice) in it,
  with a 95 % interval;
* an **unknown territory** flag for images farther from every cluster centre
  than the threshold of :func:`distance_threshold`: the reference's in-sample
  99th percentile scaled by the held-out / in-sample optimism factor
  (:func:`held_out_distance`, leave-patient-out centres, no refit);
* when the report had the model's scores and the new images come with theirs,
  a **combined risk** of the spectral risk and the model's confidence
  (:mod:`spectral_fast.reliability.confidence`).

The reference is a :class:`Reference`, saved as ``reference.json`` +
``reference.npz`` next to ``model.json`` by :func:`write_reference`. The
maths: ``docs/method.md#reliability-without-labels`` and
``docs/method.md#unknown-territory``; the file format versions:
``docs/CHANGELOG.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast._shared.progress import bar
from spectral_fast._shared.serialize import jsonable
from spectral_fast._shared.stats import is_probability
from spectral_fast._version import __version__
from spectral_fast.errors import InvalidInputError
from spectral_fast.profiling.tables import (
    PROFILE_OPTIONS,
    band_columns,
)
from spectral_fast.reliability.confidence import (
    fit_confidence_model,
    held_out_cluster_risk,
)
from spectral_fast.reliability.rates import (
    DEFAULT_PRIOR_STRENGTH,
    expected_accuracy,
    shrunk_rates,
)

__all__ = [
    "Reference", "build_reference", "cluster_posterior", "distance_threshold", "held_out_distance", "write_reference",
]  # fmt: skip

FORMAT = "spectral_fast.reference"
#: Version 2 adds the optional per-finding ``confidence_model``; version 3 lets it name its inputs
#: (``features``, with the signed ``score_logit``) and records its penalty; version 4 stores the unknown-territory
#: threshold corrected for in-sample optimism (``distance_calibration``: "held_out", with the in-sample threshold
#: and the factor). Versions 1-3 are still read (their threshold is the in-sample one); older readers refuse
#: a newer version with a clear error instead of misreading it.
FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
#: Percentile of the distance-to-nearest-centre of new images like the reference's beyond which an image is
#: unknown territory.
UNKNOWN_PERCENTILE = 99.0
#: Percentile at which the held-out / in-sample distance ratio (the in-sample optimism) is measured.
OPTIMISM_PERCENTILE = 90.0
#: Reference rows per step of :func:`held_out_distance` (bounds its memory to rows x clusters x features).
HELD_OUT_CHUNK = 2048
#: Reference rows kept for the per-band two-sample tests of :mod:`spectral_fast.reliability.drift`.
MAX_SAMPLE = 20000


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
        Distance to the nearest centre beyond which an image is unknown
        territory (``docs/method.md#unknown-territory``).
    findings : dict
        Per finding: ``n`` and ``errors`` per cluster (posterior-weighted),
        ``prior_strength``, ``blind_spots`` (lists of clusters) and the
        reference's mix-implied ``expected_accuracy`` with ``risk_var`` (the
        variance of the per-image risk over the reference).
    sample : ndarray of shape (m, n_features)
        Feature values of up to :data:`MAX_SAMPLE` reference images (float32),
        for the per-band tests of the monitor.
    distance_calibration : dict
        How ``distance_threshold`` was set: ``calibration`` ("held_out", or
        "in_sample" for references saved before format 4 or too small to hold
        images out), ``in_sample_threshold`` and ``optimism`` (the factor).
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
    distance_calibration: dict = field(default_factory=lambda: {"calibration": "in_sample"})

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
        from spectral_fast._shared.serialize import write_checksummed

        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "n": int(self.n),
            "features": list(self.features),
            "profile_options": self.profile_options,
            "distance_percentile": UNKNOWN_PERCENTILE,
            "distance_threshold": float(self.distance_threshold),
            "distance_calibration": jsonable(self.distance_calibration),
            "findings": jsonable(self.findings),
            "method": self.meta.get("method"),
            "k": self.meta.get("k"),
        }
        arrays = {"mix": self.mix, "counts": self.counts, "sample": self.sample}
        json_path, npz_path = write_checksummed(out / "reference.json", meta, arrays)
        return {"reference": json_path, "reference_arrays": npz_path}

    @classmethod
    def load(cls, model_dir: str | Path) -> Reference:
        """Read ``reference.json`` + ``reference.npz`` from a report's output folder (checksums verified)."""
        from spectral_fast._shared.serialize import read_checksummed

        json_path = Path(model_dir) / "reference.json"
        if not json_path.is_file():
            raise FileNotFoundError(
                f"{json_path} not found: MODEL_DIR must be the output folder of `spectral-fast report` "
                "(which writes reference.json next to model.json)"
            )
        meta, arrays = read_checksummed(
            json_path, FORMAT, READABLE_VERSIONS, what="reference", remedy="run the report again"
        )
        try:
            _check_saved(json_path, meta, arrays)
            return cls._from_saved(meta, arrays)
        except InvalidInputError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
            raise InvalidInputError(f"{json_path}: not a valid reference file ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _from_saved(cls, meta: dict, arrays: dict[str, np.ndarray]) -> Reference:
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
            # Formats 1-3 stored the in-sample percentile.
            distance_calibration=dict(meta.get("distance_calibration") or {"calibration": "in_sample"}),
        )


#: Bounds of a loadable reference: far above any report's.
MAX_SAVED_IMAGES = 10**10
MAX_SAVED_FEATURES = 100_000
MAX_SAVED_CLUSTERS = 10_000


def _check_saved(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Refuse a reference whose fields and arrays do not fit together: shapes, finite rates, mix summing to 1."""
    from spectral_fast._shared.serialize import check_arrays, check_number

    check_number(path, "n", meta.get("n"), lo=1, hi=MAX_SAVED_IMAGES, integer=True)
    features = meta.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise InvalidInputError(f"{path}: features must be a list of strings")
    if not 1 <= len(features) <= MAX_SAVED_FEATURES or len(set(features)) != len(features):
        raise InvalidInputError(f"{path}: features must be 1 to {MAX_SAVED_FEATURES} distinct names")
    if not isinstance(meta.get("profile_options"), dict):
        raise InvalidInputError(f"{path}: profile_options must be an object")
    check_number(path, "distance_threshold", meta.get("distance_threshold"), lo=0, allow_inf=True)
    mix = arrays.get("mix")
    k = mix.shape[0] if isinstance(mix, np.ndarray) and mix.ndim == 1 else -1
    if not 1 <= k <= MAX_SAVED_CLUSTERS or (meta.get("k") is not None and meta.get("k") != k):
        raise InvalidInputError(f"{path}: array 'mix' must have one share per cluster (k = {meta.get('k')!r})")
    check_arrays(
        path,
        arrays,
        {"mix": ((k,), "nonneg"), "counts": ((k,), "nonneg"), "sample": ((None, len(features)), None)},
    )
    if abs(float(mix.sum()) - 1.0) > 1e-6:
        raise InvalidInputError(f"{path}: cluster shares ('mix') sum to {float(mix.sum())}, not 1")
    findings = meta.get("findings")
    if not isinstance(findings, dict) or not all(isinstance(v, dict) for v in findings.values()):
        raise InvalidInputError(f"{path}: findings must be an object of objects")
    for name, f in findings.items():
        _check_finding(path, f"findings[{name!r}]", f, k)


def _check_finding(path: Path, where: str, f: dict, k: int) -> None:
    from spectral_fast._shared.serialize import check_number

    for key, hi in (("n", None), ("errors", None), ("rate", 1.0)):
        values = f.get(key)
        if not isinstance(values, list) or len(values) != k:
            raise InvalidInputError(f"{path}: {where}.{key} must be a list of {k} numbers")
        for j, v in enumerate(values):
            check_number(path, f"{where}.{key}[{j}]", v, lo=0, hi=hi)
    for key in ("error_rate", "prior_mean", "expected_accuracy"):
        check_number(path, f"{where}.{key}", f.get(key), lo=0, hi=1)
    check_number(path, f"{where}.prior_strength", f.get("prior_strength"), lo=0, allow_inf=True)
    check_number(path, f"{where}.risk_var", f.get("risk_var"), lo=0)
    spots = f.get("blind_spots")
    if not isinstance(spots, list) or not all(
        isinstance(s, list) and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < k for c in s)
        for s in spots
    ):
        raise InvalidInputError(f"{path}: {where}.blind_spots must be lists of cluster numbers below {k}")
    conf = f.get("confidence_model")
    if conf is None:
        return
    if not isinstance(conf, dict) or not isinstance(conf.get("coef"), list):
        raise InvalidInputError(f"{path}: {where}.confidence_model must be an object with a coef list")
    for j, v in enumerate(conf["coef"]):
        check_number(path, f"{where}.confidence_model.coef[{j}]", v)
    check_number(path, f"{where}.confidence_model.intercept", conf.get("intercept"))
    check_number(path, f"{where}.confidence_model.threshold", conf.get("threshold"), lo=0, hi=1)


#: Images per step of :func:`cluster_posterior` (one progress-bar step; rows are independent).
POSTERIOR_CHUNK = 20_000


def cluster_posterior(model: Any, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Posterior over clusters (one-hot for k-means) and distance to the nearest centre, per image.

    Computed :data:`POSTERIOR_CHUNK` rows at a time behind a progress bar;
    each row's values depend on that row only, so chunking changes nothing.
    """
    if table.height <= POSTERIOR_CHUNK:
        return _posterior(model, table)
    parts = []
    with bar(table.height, "cluster posterior", "img") as progress:
        for start in range(0, table.height, POSTERIOR_CHUNK):
            parts.append(_posterior(model, table.slice(start, POSTERIOR_CHUNK)))
            progress.update(min(POSTERIOR_CHUNK, table.height - start))
    return np.concatenate([p for p, _ in parts]), np.concatenate([d for _, d in parts])


def _posterior(model: Any, table: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    distances = model.transform(table)
    if model.method == "gmm":
        posterior = np.asarray(model.predict_proba(table), dtype=np.float64)
    else:
        posterior = np.zeros_like(distances)
        posterior[np.arange(len(distances)), distances.argmin(axis=1)] = 1.0
    return posterior, distances.min(axis=1)


def held_out_distance(
    model: Any, table: pl.DataFrame, posterior: np.ndarray, groups: np.ndarray | None = None
) -> np.ndarray:
    """Each reference image's distance to the nearest centre, the centres re-estimated without its group (``docs/method.md#unknown-territory``).

    Parameters
    ----------
    model : SpectralClusters
        The model fitted on ``table``.
    table : polars.DataFrame
        The reference profiles the model was fitted on.
    posterior : ndarray of shape (n, k)
        Their cluster posterior (:func:`cluster_posterior`).
    groups : ndarray of shape (n,), optional
        Patient of each image; default: each image is its own.

    Returns
    -------
    ndarray of shape (n,)
        ``inf`` for an image whose group alone makes up every component.

    Notes
    -----
    Beyond ``max_fit_samples`` the model's centres come from a subsample; the
    correction then treats every row as a fitting row, which on average gives
    each row its due influence (about ``1 / N_c``, a few 1e-4 there).
    """
    z = model.embed(table)  # a group's pull on a centre needs the vectors, not only distances
    centres = np.asarray(model.cluster_centers_, dtype=np.float64)
    posterior = np.asarray(posterior, dtype=np.float64)
    mass = posterior.sum(axis=0)
    n = len(z)
    inverse = np.arange(n) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    order = np.argsort(inverse, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])  # first sorted row of each group
    # Steps of about HELD_OUT_CHUNK rows, cut at group boundaries (a group's images are in one step).
    cuts = np.unique(np.r_[np.append(starts, n)[np.searchsorted(starts, np.arange(0, n, HELD_OUT_CHUNK))], n])
    out = np.empty(n)
    for lo, hi in itertools.pairwise(cuts):
        rows = order[lo:hi]
        local = inverse[rows] - inverse[rows].min()
        diff = z[rows][:, None, :] - centres[None, :, :]  # (r, k, d)
        weight = posterior[rows]
        if local[-1] + 1 == len(local):  # one image per group (sorted, consecutive): its own sums, no scatter
            pull_of, own_of = weight[:, :, None] * diff, weight
        else:
            pull = np.zeros((local.max() + 1, *diff.shape[1:]))
            np.add.at(pull, local, weight[:, :, None] * diff)
            own = np.zeros((local.max() + 1, len(mass)))
            np.add.at(own, local, weight)
            pull_of, own_of = pull[local], own[local]
        left = mass[None, :] - own_of  # each component's mass without the group
        alive = left > 1e-9 * max(float(mass.max()), 1.0)
        moved = diff + pull_of / np.where(alive, left, 1.0)[:, :, None]  # z - mu^(-g)
        dist = np.where(alive, np.sqrt((moved * moved).sum(axis=2)), np.inf)
        out[rows] = dist.min(axis=1)
    return out


def distance_threshold(in_sample: np.ndarray, held_out: np.ndarray) -> tuple[float, dict]:
    """The unknown-territory threshold and how it was set: in-sample q99 x held-out optimism (``docs/method.md#unknown-territory``)."""
    base = float(np.percentile(in_sample, UNKNOWN_PERCENTILE))
    q_in = float(np.percentile(in_sample, OPTIMISM_PERCENTILE))
    held_out = np.asarray(held_out, dtype=np.float64)
    alone = ~np.isfinite(held_out)  # images whose patient makes up every component they are near
    if alone.mean() >= 1.0 - OPTIMISM_PERCENTILE / 100.0 or not q_in > 0:
        # The 90th percentile would fall among them: nothing to measure the optimism on.
        return base, {"calibration": "in_sample", "in_sample_threshold": base, "optimism": None}
    # Below the percentile's share they only need to rank last.
    q_held = float(np.percentile(np.where(alone, held_out[~alone].max(), held_out), OPTIMISM_PERCENTILE))
    factor = max(1.0, q_held / q_in)
    return base * factor, {
        "calibration": "held_out", "in_sample_threshold": base, "optimism": factor, "optimism_percentile": OPTIMISM_PERCENTILE,
    }  # fmt: skip


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
    scores: Mapping[str, np.ndarray] | None = None,
    thresholds: Mapping[str, float] | None = None,
    score_cols: Mapping[str, str] | None = None,
    groups: np.ndarray | None = None,
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
        Seed of that subset and of the confidence model's folds.
    scores : mapping of str to ndarray of float, optional
        Per finding, the model's probability for each reference image. A
        finding with scores gets a ``confidence_model``
        (:func:`fit_confidence_model`, on the images whose score is a number
        in [0, 1]), so that :func:`predict` can combine spectral risk and
        confidence when new images come with their scores.
    thresholds : mapping of str to float, optional
        Decision threshold of each scored finding (default 0.5).
    score_cols : mapping of str to str, optional
        Name of each finding's score column, recorded as the default for :func:`predict`.
    groups : ndarray of shape (n,), optional
        Patient of each reference image, when a patient has several (views,
        repeat acquisitions): the confidence model's held-out cluster risk
        and cross-validation folds, and the held-out distances that set the
        unknown-territory threshold, then leave whole patients out. Default:
        each image is its own patient.
    """
    if table.height == 0:
        raise InvalidInputError("table: the reference holds no images")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (table.height,):
            raise InvalidInputError(f"groups has {groups.size} values for {table.height} images")
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
        confidence = None
        if scores is not None and name in scores:
            sc = np.asarray(scores[name], dtype=np.float64)
            if sc.shape != (table.height,):
                raise InvalidInputError(f"scores[{name!r}] has {sc.size} values for {table.height} images")
            ok = is_probability(sc)
            threshold = float((thresholds or {}).get(name, 0.5))
            if not 0.0 < threshold < 1.0:
                raise InvalidInputError(f"thresholds[{name!r}] must lie in (0, 1), got {threshold}")
            held_out = held_out_cluster_risk(posterior, err, groups, mu, m)
            confidence = fit_confidence_model(
                held_out[ok], sc[ok], err[ok] > 0.5, threshold, groups=None if groups is None else groups[ok], seed=seed
            )
            if confidence is not None:
                confidence["score_col"] = (score_cols or {}).get(name)
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
            "confidence_model": confidence,
        }
    threshold, calibration = distance_threshold(dist, held_out_distance(model, table, posterior, groups))
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
        distance_threshold=threshold,
        findings=findings,
        sample=sample.astype(np.float32),
        meta={"method": model.method, "k": int(k)},
        distance_calibration=calibration,
    )


def write_reference(report: Any, outdir: str | Path, *, profile_options: dict | None = None) -> dict[str, Path]:
    """Build the :class:`Reference` of a :class:`spectral_fast.analysis.pipeline.Report` and save it into ``outdir``.

    The report's joined table, model, per-image errors (``error_<finding>``
    columns of its assignments), blind spots and patient groups (``group_col``
    of :func:`spectral_fast.analysis.pipeline.analyze`) are used; profile options come
    from ``profile_options`` or the report summary's ``"profile_options"``.
    """
    titles = list(report.summary["findings"])
    errors = {t: report.assignments[f"error_{t}"].to_numpy() for t in titles}
    # The model's scores (joined into report.table; renamed "<col>_prediction" when a profile column had the name).
    scores, thresholds, score_cols = {}, {}, {}
    for f in report.summary["options"]["findings"]:
        title, col = f.get("name") or f["label_col"], f.get("score_col")
        if col is None or title not in titles:
            continue
        col = f"{col}_prediction" if f"{col}_prediction" in report.table.columns else col
        scores[title] = report.table[col].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        thresholds[title], score_cols[title] = f.get("threshold", 0.5), f["score_col"]
    spots: dict[str, list[list[int]]] = {t: [] for t in titles}
    for row in report.blind_spots.iter_rows(named=True):
        spots[row["finding"]].append([int(c) for c in str(row["clusters"]).split("+")])
    options = profile_options or report.summary.get("profile_options")
    ref = build_reference(
        report.table, report.model, errors, blind_spots=spots, profile_options=options,
        seed=report.summary["options"]["seed"], scores=scores, thresholds=thresholds, score_cols=score_cols,
        groups=report.groups,
    )  # fmt: skip
    return ref.save(outdir)
