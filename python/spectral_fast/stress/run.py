"""A whole stress run: load, score, sensitivity spectrum, counterfactual per blind spot, tables out.

:func:`run_stress` is the Python API behind ``spectral-fast stress``; the
pages (``stress.html`` and the section of a report's ``report.html``) are
written by :func:`spectral_fast.render.write_stress`. See docs/method.md#stress-tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from spectral_fast._shared import progress
from spectral_fast._shared.serialize import jsonable
from spectral_fast.errors import InvalidInputError
from spectral_fast.stress.counterfactual import MAX_IMAGES, counterfactual, spot_log_gain
from spectral_fast.stress.inputs import ImageSet, labels_for, load_images, read_report_spots, read_table
from spectral_fast.stress.metrics import N_BOOT, score_images
from spectral_fast.stress.models import load_model
from spectral_fast.stress.sensitivity import Change, plan_changes, sensitivity

#: Columns of the per-spot counterfactual table.
SPOT_COLUMNS = (
    "rank", "clusters", "description", "n_inside", "n_outside", "error_inside", "error_outside", "gap",
    "rise_outside", "rise_outside_low", "rise_outside_high", "fall_inside", "fall_inside_low", "fall_inside_high",
    "verdict", "reason", "control_rise_outside", "control_rise_outside_low", "control_rise_outside_high",
    "control_fall_inside", "control_fall_inside_low", "control_fall_inside_high", "control_verdict",
    "inverse_ill_posed",
)  # fmt: skip


@dataclass
class StressResult:
    """A stress run's results: the sensitivity table, one counterfactual per blind spot, and how it was run."""

    sensitivity: pl.DataFrame | None
    spots: list[dict] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def spot_table(self) -> pl.DataFrame:
        """One row per blind spot (:data:`SPOT_COLUMNS`)."""
        rows = []
        for s in self.spots:
            row = {k: s.get(k) for k in ("rank", "description", "n_inside", "n_outside", "error_inside",
                                         "error_outside", "gap", "verdict", "reason")}  # fmt: skip
            row["clusters"] = ",".join(str(c) for c in s.get("clusters", []))
            for test, prefix in (("spot", ""), ("control", "control_")):
                for eff in ("rise_outside", "fall_inside"):
                    v = s[test][eff]
                    row[f"{prefix}{eff}"], row[f"{prefix}{eff}_low"], row[f"{prefix}{eff}_high"] = v
            row["control_verdict"] = s["control"]["verdict"]
            row["inverse_ill_posed"] = bool(s["spot"].get("inverse_ill_posed", False))
            rows.append(row)
        strings = {"clusters", "description", "verdict", "reason", "control_verdict"}
        schema = {c: pl.Utf8 if c in strings else pl.Int64 if c in ("rank", "n_inside", "n_outside")
                  else pl.Boolean if c == "inverse_ill_posed" else pl.Float64 for c in SPOT_COLUMNS}  # fmt: skip
        return pl.DataFrame(rows, schema=schema).select(SPOT_COLUMNS) if rows else pl.DataFrame(schema=schema)

    def to_json(self) -> str:
        """Everything as one JSON document (the sensitivity table as records)."""
        doc = {"meta": self.meta, "spots": self.spots,
               "sensitivity": None if self.sensitivity is None else self.sensitivity.to_dicts()}  # fmt: skip
        return json.dumps(jsonable(doc), indent=2) + "\n"

    def write(self, outdir: str | Path) -> dict[str, Path]:
        """``stress.json``, ``sensitivity.parquet`` (when run) and ``counterfactual.parquet`` into ``outdir``."""
        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "stress.json", "counterfactual": out / "counterfactual.parquet"}
        paths["json"].write_text(self.to_json())
        self.spot_table().write_parquet(paths["counterfactual"])
        if self.sensitivity is not None:
            paths["sensitivity"] = out / "sensitivity.parquet"
            self.sensitivity.write_parquet(paths["sensitivity"])
        return paths


def resolve_model(
    model: str | Path | Callable[[np.ndarray], np.ndarray], threads: int | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """A callable model as is; a path (``.onnx``, ``model.json``) or ``module:function`` through ``load_model``."""
    if callable(model):
        return model
    if isinstance(model, str | Path):
        return load_model(model, threads=threads)
    raise InvalidInputError(
        f"model: expected a callable, a model file or 'module:function', got {type(model).__name__}"
    )


def _image_set(images: str | Path | ImageSet | np.ndarray, size: int | None) -> ImageSet:
    if isinstance(images, ImageSet):
        return images
    if isinstance(images, np.ndarray):
        if images.ndim != 3:
            raise InvalidInputError(f"images: expected an (N, H, W) array, got shape {images.shape}")
        return ImageSet(images.astype(np.float32), [str(i) for i in range(len(images))], images.dtype)
    return load_images(images, size)


def _labels(labels, data: ImageSet, spots, model, threshold, batch_size, id_col, label_col, on_batch):
    """Labels from a table/array, or (with a report) the model's decision XOR the report's recorded error."""
    if labels is None:
        if spots is None:
            raise InvalidInputError("labels: give a labels table or a report folder")
        missing = [i for i in data.ids if i not in spots.error_of]
        if missing:
            raise InvalidInputError(f"labels: {len(missing)} image(s) are not in the report, e.g. {missing[:3]}")
        scores = score_images(model, data.images, batch_size, on_batch)
        error = np.array([bool(spots.error_of[i]) for i in data.ids])
        return ((scores >= threshold) != error).astype(np.int64), scores
    if isinstance(labels, str | Path):
        return labels_for(read_table(labels), data.ids, id_col, label_col), None
    y = np.asarray(labels)
    if y.shape != (len(data.ids),) or not np.all(np.isin(y, (0, 1))):
        raise InvalidInputError(f"labels: expected {len(data.ids)} values 0/1")
    return y.astype(np.int64), None


def _spot_bands(images: np.ndarray, options: dict, threads: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Log10 band fractions of every image and the band edges, profiled as the report was (on this grid)."""
    from spectral_fast.profiling import band_edges, profile

    bands = int(options.get("bands", 32)) if str(options.get("bands", "?")).isdigit() else 32
    spacing = options.get("spacing") if options.get("spacing") in ("log", "linear") else "log"
    window = options.get("window") if options.get("window") in ("hann", "none") else "hann"
    table = profile(images, bands=bands, spacing=spacing, window=window, artefacts=False, threads=threads)
    cols = [f"band_{i:02d}" for i in range(bands)]
    return table.select(cols).to_numpy(), np.asarray(band_edges(images.shape[1], images.shape[2], bands, spacing))


def run_stress(
    model: str | Callable[[np.ndarray], np.ndarray],
    images: str | Path | ImageSet | np.ndarray,
    labels: str | Path | np.ndarray | None = None,
    *,
    report: str | Path | None = None,
    finding: str | None = None,
    id_col: str = "id",
    label_col: str = "label",
    size: int | None = None,
    threshold: float | None = None,
    run_sensitivity: bool = True,
    changes: list[Change] | None = None,
    base_scores: np.ndarray | None = None,
    batch_size: int = 32,
    threads: int | None = None,
    n_boot: int = N_BOOT,
    max_images: int = MAX_IMAGES,
    seed: int = 0,
    out: str | Path | None = None,
) -> StressResult:
    """Stress-test ``model`` on labelled images: its sensitivity spectrum and, with a report, each blind spot.

    Parameters
    ----------
    model : callable, path or str
        A :class:`~spectral_fast.stress.models.ScoreModel` ((N, H, W) float32 -> (N,) scores), or what
        :func:`~spectral_fast.stress.models.load_model` reads: ``model.onnx``, a ``model.json`` description,
        ``module:function``.
    images : folder, ImageSet or (N, H, W) array
        The labelled sample (a folder is read by :func:`~spectral_fast.stress.inputs.load_images`).
    labels : CSV/Parquet path, (N,) 0/1 array, or None
        None with ``report``: the model's decision XOR the report's recorded error.
    report : folder, optional
        A ``spectral-fast report`` folder: one counterfactual test per blind spot of ``finding``.
    size : int, optional
        Resize every image to size x size (needed when the files differ in shape).
    threshold : float, optional
        Decision threshold of the scores (default: the report's, else 0.5).
    run_sensitivity : bool, default True
        Run the sensitivity spectrum (band gains and simulator changes).
    changes : list of Change, optional
        The sensitivity run's changes (default
        :func:`~spectral_fast.stress.sensitivity.plan_changes`).
    base_scores : (N,) array, optional
        The model's scores of the unchanged images when already known (with ``labels``).
    batch_size, threads, n_boot, max_images, seed
        Model batch, threads (core filter and profiling, onnxruntime), bootstrap resamples,
        images per side of a counterfactual at most, seed of everything.
    out : folder, optional
        Write ``stress.json`` and the Parquet tables there.
    """
    model = resolve_model(model, threads)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size: expected a positive integer, got {batch_size!r}")
    data = _image_set(images, size)
    spots = read_report_spots(report, finding) if report is not None else None
    threshold = float(threshold if threshold is not None else spots.threshold if spots is not None else 0.5)
    n = len(data.ids)
    changes = plan_changes(*data.images.shape[1:]) if changes is None else changes
    n_changes = len(changes) if run_sensitivity else 0
    masks = []
    if spots is not None:
        cluster = np.array([spots.cluster_of.get(i, -1) for i in data.ids])
        masks = [(spot, np.isin(cluster, spot["clusters"])) for spot in spots.spots]
        masks = [(spot, m) for spot, m in masks if m.any() and not m.all()]
    # each spot against the images in no blind spot: another spot's own spectrum and failures would
    # blur the comparison (when every image is in a spot: against everything outside it)
    in_none = ~np.logical_or.reduce([m for _, m in masks]) if masks else np.ones(n, dtype=bool)
    reference = in_none if in_none.any() else None
    # model calls: the unchanged images, each change, and per spot two tests of both sides
    total = n * (int(base_scores is None) + n_changes) + sum(
        2 * (min(m.sum(), max_images) + min(((~m) if reference is None else reference).sum(), max_images))
        for _, m in masks
    )
    progress.stage(f"stress-testing the model on {n:,} images ({n_changes} changes, {len(masks)} blind spot(s))")
    with progress.bar(int(total), "stress", "img") as bar:
        y, base = _labels(labels, data, spots, model, threshold, batch_size, id_col, label_col, bar.update)
        if base is None and base_scores is not None:
            base = np.asarray(base_scores, dtype=np.float64)
            if base.shape != (n,):
                raise InvalidInputError(f"base_scores: expected {n} scores, got shape {base.shape}")
        elif base is None:
            base = score_images(model, data.images, batch_size, bar.update)
        table = None
        if run_sensitivity:
            table = sensitivity(model, data.images, y, threshold=threshold, native_dtype=data.native_dtype,
                                changes=changes, batch_size=batch_size, n_boot=n_boot, seed=seed, base_scores=base,
                                on_batch=bar.update, threads=threads)  # fmt: skip
        results = []
        if masks:
            bands, edges = _spot_bands(data.images, spots.profile_options, threads)
            for spot, inside in masks:
                centres, log_gain, weights = spot_log_gain(bands, inside, edges, reference)
                res = counterfactual(model, data.images, y, inside, centres, log_gain, weights, threshold=threshold,
                                     base_scores=base, batch_size=batch_size, n_boot=n_boot, max_images=max_images,
                                     seed=seed + int(spot["rank"]), on_batch=bar.update, threads=threads,
                                     reference=reference)  # fmt: skip
                results.append({**spot, **res})
    meta = {"n_images": n, "shape": list(data.images.shape[1:]), "threshold": threshold, "seed": seed,
            "n_boot": n_boot, "report": None if report is None else str(report),
            "finding": None if spots is None else spots.finding,
            "base_accuracy": float(np.mean((base >= threshold) == y.astype(bool)))}  # fmt: skip
    result = StressResult(table, results, meta)
    if out is not None:
        result.write(out)
    return result
