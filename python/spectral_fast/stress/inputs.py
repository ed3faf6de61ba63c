"""What a stress run reads: a folder of images as one (N, H, W) stack, labels, and a report folder's blind spots.

Images are read with Pillow (colour as luma), ids are paths relative to the
folder (as ``spectral-fast profile`` names them), and all must share one
shape unless ``size`` resizes them (centre square crop, area averaging).
Labels come from a CSV/Parquet table, or from a report: the report records
each image's error, so with the same model the label is the model's decision
XOR its error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from spectral_fast.errors import InvalidInputError

#: File name endings read as images.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class ImageSet:
    """Images (N, H, W) float32 in their stored grey values, their ids and the files' dtype."""

    images: np.ndarray
    ids: list[str]
    native_dtype: np.dtype


def _read(path: Path, size: int | None) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "I;16", "I;16B", "I;16L", "I", "F"):
            im = im.convert("L")
        if size is not None:
            side = min(im.size)
            left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
            im = im.crop((left, top, left + side, top + side))
            if im.mode != "L":
                im = im.convert("F")
            im = im.resize((size, size), Image.Resampling.BOX)
        return np.asarray(im)


def load_images(folder: str | Path, size: int | None = None, ids: list[str] | None = None) -> ImageSet:
    """The images under ``folder`` (recursively; or only ``ids``, relative paths), sorted by id."""
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInputError(f"images: {root} is not a folder")
    if ids is None:
        ids = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not ids:
        raise InvalidInputError(f"images: no image files ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    arrays = []
    for i in ids:
        try:
            arrays.append(_read(root / i, size))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"images: cannot read {root / i}: {exc}") from exc
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise InvalidInputError(f"images: {len(shapes)} different shapes (e.g. {sorted(shapes)[:3]}); give a size "
                                "to resize them to one square")  # fmt: skip
    dtype = arrays[0].dtype if len({a.dtype for a in arrays}) == 1 else np.dtype(np.float32)
    return ImageSet(np.stack(arrays).astype(np.float32), list(ids), np.dtype(dtype))


def read_table(path: str | Path) -> pl.DataFrame:
    """A CSV or Parquet table."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"labels: no such file {p}")
    return pl.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pl.read_csv(p, infer_schema_length=None)


def labels_for(table: pl.DataFrame, ids: list[str], id_col: str, label_col: str) -> np.ndarray:
    """0/1 label of each id from ``table`` (every id must be there)."""
    for c in (id_col, label_col):
        if c not in table.columns:
            raise InvalidInputError(f"labels: no column {c!r} (columns: {', '.join(table.columns)})")
    lookup = dict(zip(table[id_col].cast(pl.Utf8).to_list(), table[label_col].to_list()))
    missing = [i for i in ids if i not in lookup]
    if missing:
        raise InvalidInputError(f"labels: {len(missing)} image(s) have no label, e.g. {missing[:3]}")
    y = np.array([lookup[i] for i in ids], dtype=np.float64)
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise InvalidInputError(f"labels: column {label_col!r} must hold 0/1")
    return y.astype(np.int64)


@dataclass
class ReportSpots:
    """What a stress run takes from a report folder for one finding."""

    finding: str
    threshold: float
    cluster_of: dict[str, int]
    error_of: dict[str, bool]
    spots: list[dict]  # rank, clusters (list of int), n, error_rate, lift, description
    profile_options: dict


def read_report_spots(report_dir: str | Path, finding: str | None = None) -> ReportSpots:
    """Blind spots, assignments and threshold of ``finding`` (default: the report's first) from a report folder."""
    root = Path(report_dir)
    needed = [root / n for n in ("blind_spots.csv", "assignments.parquet", "summary.json")]
    absent = [p.name for p in needed if not p.is_file()]
    if absent:
        raise InvalidInputError(f"report: {root} lacks {', '.join(absent)} (is it a `spectral-fast report` folder?)")
    summary = json.loads((root / "summary.json").read_text())
    findings = list(summary.get("findings", {}))
    finding = findings[0] if finding is None and findings else finding
    if finding not in findings:
        raise InvalidInputError(f"report: no finding {finding!r}; it has {', '.join(findings) or 'none'}")
    threshold = summary["findings"][finding].get("threshold")
    spots = pl.read_csv(root / "blind_spots.csv", schema_overrides={"clusters": pl.Utf8, "description": pl.Utf8})
    spots = spots.filter(pl.col("finding") == finding).sort("rank")
    assign = pl.read_parquet(root / "assignments.parquet")
    rows = [
        {"rank": r["rank"], "clusters": [int(c) for c in re.findall(r"\d+", str(r["clusters"]))],
         "n": r["n"], "error_rate": r["error_rate"], "lift": r["lift"], "description": r["description"]}
        for r in spots.iter_rows(named=True)
    ]  # fmt: skip
    return ReportSpots(
        finding,
        0.5 if threshold is None else float(threshold),
        dict(zip(assign["id"].to_list(), assign["cluster"].to_list())),
        dict(zip(assign["id"].to_list(), assign[f"error_{finding}"].to_list())),
        rows,
        summary.get("profile_options") or {},
    )
