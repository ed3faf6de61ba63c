"""Label-free risk of new images: cluster posterior, unknown territory, expected accuracy (``predict``)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast._shared.display import NotebookView
from spectral_fast._shared.frames import to_polars_or_path
from spectral_fast._shared.progress import stage
from spectral_fast._shared.serialize import jsonable
from spectral_fast._version import __version__
from spectral_fast.errors import InvalidInputError
from spectral_fast.reliability.batches import prepare_batch
from spectral_fast.reliability.confidence import check_scores, confidence_risk
from spectral_fast.reliability.rates import expected_accuracy
from spectral_fast.reliability.reference_set import (
    UNKNOWN_PERCENTILE,
    Reference,
    cluster_posterior,
)


def load_model_dir(model_dir: str | Path) -> tuple[Any, Reference]:
    """The cluster model (``model.json``) and :class:`Reference` of a report's output folder."""
    from spectral_fast.analysis.clustering import SpectralClusters

    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(
            f"MODEL_DIR {model_dir} is not a folder (give the output folder of `spectral-fast report`)"
        )
    if not (model_dir / "model.json").is_file():
        raise FileNotFoundError(f"{model_dir / 'model.json'} not found: is {model_dir} a report's output folder?")
    model = SpectralClusters.load(model_dir / "model.json")
    reference = Reference.load(model_dir)
    if list(model.features_) != reference.features or model.n_clusters_ != len(reference.mix):
        raise InvalidInputError(f"{model_dir}: model.json and reference.json come from different runs")
    return model, reference


# --------------------------------------------------------------------- predict
@dataclass
class Prediction(NotebookView):
    """Result of :func:`predict`.

    Attributes
    ----------
    images : polars.DataFrame
        One row per usable image: ``id``, ``cluster``, ``distance`` (to the
        nearest centre), ``unknown`` (bool), ``probability`` (mixtures),
        ``risk_<finding>`` per finding, and ``risk_combined_<finding>`` when
        scores were given (null for images without one).
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
        meta[b"spectral_fast.predict"] = json.dumps(jsonable(self.summary)).encode()
        pq.write_table(arrow.replace_schema_metadata(meta), path)
        return path


def predict(
    model_dir: str | Path | tuple[Any, Reference],
    profiles: Any,
    *,
    findings: list[str] | None = None,
    options: dict | None = None,
    id_col: str | None = None,
    profile_id_col: str | None = None,
    artefacts_from: str | Path | None = None,
    predictions: Any = None,
    score_cols: Mapping[str, str] | None = None,
    prediction_id_col: str | None = None,
    match: str = "exact",
    min_match: float = 0.5,
) -> Prediction:
    """Failure risk, expected accuracy and unknown-territory flags for unlabeled images.

    Parameters
    ----------
    model_dir : path or (SpectralClusters, Reference)
        A report's output folder (``model.json`` + ``reference.json``), or the loaded pair.
    profiles : dataframe or path
        Profiles of the new images, made with the reference's options: a
        Parquet/CSV file or any dataframe (polars, pandas, pyarrow,
        ``__arrow_c_stream__``).
    findings : list of str, optional
        Findings to predict (default: all of the reference's).
    options : dict, optional
        Profile options of ``profiles`` when it is a DataFrame (a Parquet
        file's own metadata is read otherwise).
    id_col : str, default "id"
        Id column of ``predictions``, as in :func:`spectral_fast.analyze`.
        Before 0.2 it named the profiles' id column: a call that passes
        ``id_col`` without ``profile_id_col`` and either no ``predictions``
        or predictions without that column keeps that meaning, with a
        ``DeprecationWarning``.
    profile_id_col : str, default "id"
        Id column of the profiles (row numbers when absent).
    artefacts_from : path, optional
        Image folder the ids are relative to, to compute artefact features the
        model needs and the profiles lack.
    predictions : dataframe or path, optional
        The model's scores for the new images (CSV or Parquet; one row per
        image). With them, each finding whose reference has a confidence
        model (the report was given scores) also gets ``risk_combined_<finding>``
        (:func:`confidence_risk`: spectral risk and the model's confidence
        together; references of format 2, with the older two-input model,
        work too) and a batch accuracy from it. Images without a score get
        null there and are counted (``summary["findings"][f]["combined"]``).
    score_cols : mapping of str to str, optional
        Score column per finding (default: the column the report used).
    prediction_id_col : str, optional
        Deprecated spelling of ``id_col`` (with it, ``id_col`` keeps its old
        meaning, the profiles' id column).
    match : str
        How ids are compared (:func:`spectral_fast.analysis.predictions.join_predictions`).
    min_match : float
        Least share of the images that must match a prediction.

    Returns
    -------
    Prediction

    Raises
    ------
    InvalidInputError
        Empty batch, only error rows, or profiles made with other options
        (the message names the option); with ``predictions``: a reference
        without a confidence model, a missing score column, scores that are
        missing, NaN or outside [0, 1] for a matched image, or too few ids
        matching (with examples from both sides).
    """
    model, reference = load_model_dir(model_dir) if not isinstance(model_dir, tuple) else model_dir
    names = list(reference.findings) if findings is None else list(findings)
    for name in names:
        reference.finding(name)
    preds = None if predictions is None else _read_predictions(predictions)
    id_col, pred_id_col = id_columns(id_col, profile_id_col, prediction_id_col, preds)
    table, info = prepare_batch(profiles, reference, options=options, id_col=id_col, artefacts_from=artefacts_from)
    stage(f"predict: cluster posterior and risk of {table.height} images")
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
    batch_scores = (
        None if preds is None
        else _batch_scores(table, id_col, reference, names, preds, score_cols, pred_id_col, match, min_match)
    )  # fmt: skip
    for name in names:
        rate, var = reference.rates(name)
        f = reference.finding(name)
        cols[f"risk_{name}"] = pl.Series(posterior @ rate, dtype=pl.Float64)
        combined = None
        if batch_scores is not None and name in batch_scores:
            score, col = batch_scores[name]
            scored = ~np.isnan(score)
            risk_c = np.full(n, np.nan)
            risk_c[scored] = confidence_risk(f["confidence_model"], (posterior @ rate)[scored], score[scored])
            cols[f"risk_combined_{name}"] = pl.Series(risk_c, dtype=pl.Float64).fill_nan(None)
            combined = {
                "score_col": col, "n_scored": int(scored.sum()), "n_unscored": int((~scored).sum()),
                "expected_accuracy": 1.0 - float(risk_c[scored].mean()) if scored.any() else float("nan"),
            }  # fmt: skip
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
            "combined": combined,
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
            "calibration": reference.distance_calibration.get("calibration", "in_sample"),
        },
        "findings": per_finding,
    }
    return Prediction(pl.DataFrame(cols), pl.DataFrame(slice_rows), summary, posterior, table)


def id_columns(
    id_col: str | None,
    profile_id_col: str | None,
    prediction_id_col: str | None,
    predictions: pl.DataFrame | None,
    *,
    stacklevel: int = 3,
) -> tuple[str, str]:
    """The (profile, predictions) id columns of :func:`predict` from its arguments, old spellings included.

    ``id_col`` names the predictions' id column and ``profile_id_col`` the
    profiles', as in :func:`spectral_fast.analyze`. Before 0.2 ``predict``
    and ``monitor`` took ``id_col`` for the profiles' and
    ``prediction_id_col`` for the predictions'; such calls keep working with
    a ``DeprecationWarning``: any call with ``prediction_id_col``, and one
    with ``id_col`` but no ``profile_id_col`` when there are no predictions
    or the predictions lack that column.
    """
    old = "predict/monitor: id_col now names the id column of the predictions (as in analyze); "
    if prediction_id_col is not None:
        if id_col is not None and profile_id_col is not None:
            raise InvalidInputError(
                "id columns: give id_col (predictions) and profile_id_col (profiles); "
                "prediction_id_col is the old spelling of id_col"
            )
        warnings.warn(
            old
            + f"pass id_col={prediction_id_col!r} instead of prediction_id_col"
            + (f" and profile_id_col={id_col!r} instead of id_col" if id_col is not None else ""),
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return (id_col or profile_id_col or "id"), prediction_id_col
    if id_col is not None and profile_id_col is None and (predictions is None or id_col not in predictions.columns):
        warnings.warn(
            old + f"for the profiles' id column pass profile_id_col={id_col!r}",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return id_col, "id"
    return (profile_id_col or "id"), (id_col or "id")


def _read_predictions(predictions: Any) -> pl.DataFrame:
    from spectral_fast.analysis.predictions import read_predictions

    predictions = to_polars_or_path(predictions, "predictions")
    return predictions if isinstance(predictions, pl.DataFrame) else read_predictions(predictions)


def _batch_scores(
    table: pl.DataFrame,
    id_col: str,
    reference: Reference,
    names: list[str],
    preds: pl.DataFrame,
    score_cols: Mapping[str, str] | None,
    prediction_id_col: str,
    match: str,
    min_match: float,
) -> dict[str, tuple[np.ndarray, str]]:
    """Per finding with a confidence model: the batch's scores in table order (NaN: no prediction) and the column."""
    from spectral_fast.analysis.predictions import as_numeric, check_columns, join_predictions

    models = {n: reference.finding(n).get("confidence_model") for n in names}
    models = {n: m for n, m in models.items() if m}
    if not models:
        raise InvalidInputError(
            f"predictions: the reference of finding(s) {names} has no confidence model to combine scores with "
            "(the report was made without a score column); run the report with scores, or predict without them"
        )
    cols = {}
    for name, model in models.items():
        col = (score_cols or {}).get(name) or model.get("score_col")
        if not col:
            raise InvalidInputError(f"score_cols: name the score column of finding {name!r}")
        cols[name] = col
    check_columns(preds, [prediction_id_col, *dict.fromkeys(cols.values())])
    right = preds.select([prediction_id_col, *dict.fromkeys(cols.values())]).with_columns(
        pl.lit(True).alias("__sf_scored")
    )
    if prediction_id_col in cols.values():
        raise InvalidInputError(f"predictions: the id column {prediction_id_col!r} cannot also be a score column")
    left = table.select(pl.col(id_col).cast(pl.Utf8))
    joined = join_predictions(
        left, right, id_col=prediction_id_col, profile_id_col=id_col, match=match, min_match_share=min_match
    )
    back = left.join(joined.drop("prediction_id", strict=False), on=id_col, how="left", maintain_order="left")
    scored = back["__sf_scored"].fill_null(False).to_numpy()
    ids = back[id_col].to_list()
    out = {}
    for name, col in cols.items():
        values = as_numeric(back, col)
        check_scores(values[scored], [i for i, s in zip(ids, scored) if s], what=f"score column {col!r}")
        out[name] = (np.where(scored, values, np.nan), col)
    return out
