"""DICOM acquisition tags, decoded by the core, become a blind spot's metadata evidence and description."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.ndimage import gaussian_filter

from helpers import archive_samples as S
from spectral_fast import Finding, analyze
from spectral_fast.analysis.metadata import metadata_variables
from spectral_fast.ingest.batch import process_batch

pytest.importorskip("pydicom")


def _archive(n: int = 90, n_spot: int = 30, seed: int = 0):
    """DICOMs of two vendors: the spot's (AGFA, 70 kV, blurred) and the rest's (FUJIFILM, 125 kV); errors in the spot."""
    rng = np.random.default_rng(seed)
    files = {}
    for i in range(n):
        spot = i < n_spot
        img = rng.normal(2000, 300, (96, 96))
        img = gaussian_filter(img, 2.0 if spot else 0.5)
        arr = np.clip(img, 0, 4095).astype(np.uint16)
        tags = {"Manufacturer": b"AGFA" if spot else b"FUJIFILM", "KVP": b"70" if spot else b"125"}
        tags["StationName"] = f"ST{i % 3}".encode()  # the same mix inside and outside: must not be named
        files[f"{i:03d}.dcm"] = S.with_raw_elements(S.dicom(arr, bits_stored=12), tags)
    table = pl.from_arrow(process_batch(S.bytes_batch(files)))
    inside = np.arange(n) < n_spot
    truth = rng.integers(0, 2, n)
    error = rng.random(n) < np.where(inside, 0.6, 0.05)
    preds = pl.DataFrame({"id": list(files), "y": truth, "hat": np.where(error, 1 - truth, truth)})
    return table, preds, inside


def test_the_tags_are_acquisition_variables():
    table, _, _ = _archive(n=12, n_spot=4)
    variables = metadata_variables(table)
    assert {"dicom_manufacturer", "dicom_kvp", "dicom_station", "dicom_modality"} <= set(variables.columns)
    assert "dicom_grid" not in variables.columns  # all null: left out
    assert variables["dicom_manufacturer"].to_list()[:5] == ["AGFA"] * 4 + ["FUJIFILM"]


def test_a_vendor_blind_spot_shows_its_tags_with_association_tests():
    table, preds, _ = _archive()
    report = analyze(
        table, preds, [Finding("y", pred_col="hat")], n_clusters=2, n_perm=199, n_boot=50, n_refits=0, seed=0
    )
    assert report.blind_spots.height >= 1
    spot = report.blind_spots.row(0, named=True)
    evidence = report.spot_evidence.filter((pl.col("rank") == spot["rank"]) & (pl.col("source") == "metadata"))
    by = {r["variable"]: r for r in evidence.to_dicts()}
    assert by["dicom_manufacturer"]["level"] == "AGFA" and by["dicom_manufacturer"]["spot"] > 0.9
    assert by["dicom_manufacturer"]["p_adjusted"] < 1e-6
    assert by["dicom_kvp"]["level"] == "70" and by["dicom_kvp"]["p_adjusted"] < 1e-6
    assert by["dicom_station"]["p_adjusted"] > 0.05  # tested, not named
    assert "DICOM manufacturer AGFA" in spot["metadata"] and "DICOM tube voltage 70 kV" in spot["metadata"]
    assert "DICOM station" not in spot["metadata"]
