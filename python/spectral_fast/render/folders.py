"""A report's or a monitor run's output folder: tables, the HTML page and, for a report, the reliability reference.

Writing a folder is the rendering layer's job because it is the one layer that
sees the analysis (tables, model), the reliability reference built from it and
the HTML pages at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from spectral_fast._shared.serialize import jsonable, write_csv_safe
from spectral_fast.analysis.pipeline import Report
from spectral_fast.reliability.monitoring import MonitorResult
from spectral_fast.reliability.reference_set import write_reference
from spectral_fast.render.monitor_html import render_monitor_html
from spectral_fast.render.report_html import render_html


def write_report(report: Report, outdir: str | Path, *, image_root: str | Path | None = None) -> dict[str, Path]:
    """Write every output file of ``report`` into ``outdir`` (created) and return their paths.

    ``slices.csv``, ``blind_spots.csv``, ``spot_evidence.csv`` (each blind spot against
    the rest, per variable), ``metadata_spots.csv`` (the metadata scan's groups), ``assignments.parquet``, ``summary.json``,
    ``model.json`` (+ arrays), ``report.html`` and the reliability reference
    (``reference.json`` + arrays) that ``predict`` and ``monitor`` read.
    ``image_root`` lets the page show exemplar thumbnails.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "slices": out / "slices.csv",
        "blind_spots": out / "blind_spots.csv",
        "assignments": out / "assignments.parquet",
        "summary": out / "summary.json",
        "html": out / "report.html",
    }
    # Ids, descriptions and exemplars come from user data: no cell may start a spreadsheet formula.
    write_csv_safe(report.slices, paths["slices"])
    write_csv_safe(report.blind_spots, paths["blind_spots"])
    if report.spot_evidence is not None:
        paths["spot_evidence"] = out / "spot_evidence.csv"
        write_csv_safe(report.spot_evidence, paths["spot_evidence"])
    if report.metadata_spots is not None:
        paths["metadata_spots"] = out / "metadata_spots.csv"
        write_csv_safe(report.metadata_spots, paths["metadata_spots"])
    report.assignments.write_parquet(paths["assignments"])
    paths["summary"].write_text(json.dumps(jsonable(report.summary), indent=2) + "\n")
    paths["model"], paths["model_arrays"] = report.model.save(out / "model.json")
    paths["html"].write_text(render_html(report, image_root=image_root), encoding="utf-8")
    paths.update({f"reference_{k}": v for k, v in write_reference(report, out).items()})
    return paths


def write_monitor(
    result: MonitorResult,
    outdir: str | Path,
    *,
    image_root: str | Path | None = None,
    model_dir: str | Path | None = None,
    reference_root: str | Path | None = None,
) -> dict[str, Path]:
    """Write ``monitor.json``, ``monitor.html`` and the per-image ``risk.parquet`` into ``outdir``.

    ``image_root`` (the batch's image folder) lets the page show the farthest
    images; with ``model_dir`` (the report's folder) it shows the reference
    exemplars of their nearest clusters beside them, read under
    ``reference_root`` (default ``image_root``).
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "monitor.json", "html": out / "monitor.html", "risk": out / "risk.parquet"}
    paths["json"].write_text(result.to_json())
    html = render_monitor_html(result, image_root=image_root, reference_exemplars=reference_exemplars(model_dir),
                               reference_root=reference_root)  # fmt: skip
    paths["html"].write_text(html, encoding="utf-8")
    result.prediction.write(paths["risk"])
    return paths


def reference_exemplars(model_dir: str | Path | None) -> dict[int, list[str]]:
    """Exemplar image ids of each cluster, from a report folder's ``slices.csv`` (empty when there is none)."""
    import polars as pl

    path = Path(model_dir) / "slices.csv" if model_dir else None
    if path is None or not path.is_file():
        return {}
    slices = pl.read_csv(path, columns=["cluster", "exemplars"], schema_overrides={"exemplars": pl.Utf8})
    out: dict[int, list[str]] = {}
    for row in slices.unique("cluster", keep="first").iter_rows(named=True):
        out[int(row["cluster"])] = [i for i in (row["exemplars"] or "").split(" | ") if i]
    return out
