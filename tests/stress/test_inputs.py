"""Reading a stress run's inputs: image folders, label tables, report folders; bad input is a clear error."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from PIL import Image

from spectral_fast import InvalidInputError
from spectral_fast.stress.inputs import labels_for, load_images, read_report_spots, read_table


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_reads_sorted_relative_ids_and_resizes_mixed_shapes(tmp_path):
    _save(tmp_path / "b" / "x.png", np.full((20, 30), 7, np.uint8))
    _save(tmp_path / "a.png", np.full((16, 16), 9, np.uint8))
    with pytest.raises(InvalidInputError, match="different shapes"):
        load_images(tmp_path)
    data = load_images(tmp_path, size=8)
    assert data.ids == ["a.png", "b/x.png"] and data.images.shape == (2, 8, 8)
    assert data.native_dtype == np.uint8 and data.images[1].mean() == pytest.approx(7)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="no image files"):
        load_images(tmp_path / "empty")


def test_labels_must_cover_every_image_and_be_binary(tmp_path):
    table = pl.DataFrame({"id": ["a", "b"], "y": [0, 1], "bad": [0, 2]})
    assert labels_for(table, ["b", "a"], "id", "y").tolist() == [1, 0]
    with pytest.raises(InvalidInputError, match="no label"):
        labels_for(table, ["a", "c"], "id", "y")
    with pytest.raises(InvalidInputError, match="0/1"):
        labels_for(table, ["a", "b"], "id", "bad")
    with pytest.raises(InvalidInputError, match="no such file"):
        read_table(tmp_path / "missing.csv")


def test_report_folder_spots_and_threshold(tmp_path):
    with pytest.raises(InvalidInputError, match="lacks"):
        read_report_spots(tmp_path)
    pl.DataFrame({"finding": ["f"], "rank": [1], "clusters": ["2+5"], "n": [3], "error_rate": [0.5], "lift": [2.0],
                  "description": ["d"]}).write_csv(tmp_path / "blind_spots.csv")  # fmt: skip
    pl.DataFrame({"id": ["a", "b"], "cluster": [2, 1], "error_f": [True, False]}).write_parquet(
        tmp_path / "assignments.parquet"
    )
    (tmp_path / "summary.json").write_text(json.dumps({"findings": {"f": {"threshold": 0.3}}}))
    spots = read_report_spots(tmp_path)
    assert spots.finding == "f" and spots.threshold == 0.3
    assert spots.spots[0]["clusters"] == [2, 5] and spots.cluster_of == {"a": 2, "b": 1}
    with pytest.raises(InvalidInputError, match="no finding"):
        read_report_spots(tmp_path, "g")
