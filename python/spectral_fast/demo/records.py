"""The demo's files: what a user has (predictions.csv), what only the demo knows (truth.csv), and the report read back."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from spectral_fast.demo.plan import SHIFTS, ImageSpec


def write_predictions(path: Path, specs: list[ImageSpec], labels: np.ndarray, scores: np.ndarray) -> None:
    """Image, true label, model score: what a user has. No acquisition setting."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["image", "finding", "score"])
        for s, y, p in zip(specs, labels, scores):
            out.writerow([s.name, int(y), f"{p:.6f}"])


def write_truth(path: Path, specs: list[ImageSpec]) -> None:
    """How each test image was acquired: what only the demo knows."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["image", "setting", "change", "strength", "finding_kind"])
        for s in specs:
            change, strength = SHIFTS.get(s.setting, ("", ""))
            out.writerow([s.name, s.setting, change, strength, s.finding or ""])


def read_report(report_dir: Path) -> tuple[list[dict], dict[str, int]]:
    """The report's blind spots for the finding (in rank order) and each image's cluster."""
    import polars as pl

    spots = pl.read_csv(report_dir / "blind_spots.csv", schema_overrides={"clusters": pl.Utf8})
    spots = spots.filter(pl.col("finding") == "finding").sort("rank")
    assign = pl.read_parquet(report_dir / "assignments.parquet")
    rows = spots.select("rank", "clusters", "n", "error_rate", "lift", "description").to_dicts()
    return rows, dict(zip(assign["id"].to_list(), assign["cluster"].to_list()))
