"""``spectral-fast stress`` end to end on a tiny folder: labels, a real report, the section in its report.html."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from PIL import Image

from helpers.stress_models import textured_images
from spectral_fast.cli import main

pytestmark = pytest.mark.slow  # profiles and reports a folder first (~1 min on a busy machine)

MODEL = "helpers.stress_models:hf_model"
FAST = ["--n-boot", "20", "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """60 textured 64 px PNGs, the first 15 blurred, labels.csv, and a report of hf_model's errors on them."""
    tmp = tmp_path_factory.mktemp("stress")
    blurred = np.arange(60) < 15
    images, labels = textured_images(60, 0, blurred=blurred)
    (tmp / "images").mkdir()
    ids = [f"img_{i:03d}.png" for i in range(60)]
    for name, im in zip(ids, images):
        Image.fromarray(np.clip(np.rint(im), 0, 255).astype(np.uint8)).save(tmp / "images" / name)
    from helpers.stress_models import hf_model

    scores = hf_model(np.clip(np.rint(images), 0, 255))
    pl.DataFrame({"id": ids, "label": labels, "score": scores}).write_csv(tmp / "labels.csv")
    assert main(["profile", str(tmp / "images"), "-o", str(tmp / "profiles.parquet"), "--quiet"]) == 0
    assert main(["report", str(tmp / "profiles.parquet"), "--predictions", str(tmp / "labels.csv"), "--label-col",
                 "label", "--score-col", "score", "-o", str(tmp / "report"), "--n-perm", "99", "--n-boot", "10",
                 "--refits", "0", "--quiet"]) == 0  # fmt: skip
    return tmp


def test_stress_with_labels_writes_tables_and_a_page(folder, capsys):
    out = folder / "out_labels"
    code = main(["stress", "--model", MODEL, "--images", str(folder / "images"), "--labels",
                 str(folder / "labels.csv"), "--out", str(out), "--batch-size", "16", "--threads", "1", *FAST])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    table = pl.read_parquet(out / "sensitivity.parquet")
    assert set(table["family"]) == {"band", "acquisition"}
    assert table.filter(pl.col("change") == "blur")["score_shift"].max() < 0
    doc = json.loads((out / "stress.json").read_text())
    assert doc["meta"]["n_images"] == 60 and doc["spots"] == []
    assert "Sensitivity spectrum" in (out / "stress.html").read_text()


def test_stress_with_a_report_tests_each_blind_spot_and_adds_one_section(folder, capsys):
    spots = pl.read_csv(folder / "report" / "blind_spots.csv")
    args = ["stress", "--model", MODEL, "--images", str(folder / "images"), "--report", str(folder / "report"),
            "--no-sensitivity", *FAST]  # fmt: skip
    for run in range(2):
        assert main([*args, "--out", str(folder / f"out_report{run}")]) == 0, capsys.readouterr().err
    spot_table = pl.read_parquet(folder / "out_report1" / "counterfactual.parquet")
    assert spot_table.height == spots.height
    html = (folder / "report" / "report.html").read_text()
    assert html.count("Stress tests: is the difference the cause?") == 1
    assert spots.height >= 1  # the blurred positives, all missed
    assert spot_table["error_inside"][0] > spot_table["error_outside"][0]
    assert spot_table["verdict"][0] in {"acquisition explains this blind spot", "partly"}


def test_stress_user_errors_exit_2(folder, capsys):
    base = ["stress", "--images", str(folder / "images"), "--out", str(folder / "bad"), "--quiet"]
    assert main([*base, "--model", "nosuchmodule_xyz:f", "--labels", str(folder / "labels.csv")]) == 2
    assert "cannot import module" in capsys.readouterr().err
    assert main([*base, "--model", MODEL]) == 2
    assert "give a labels table or a report" in capsys.readouterr().err
    assert main([*base, "--model", MODEL, "--labels", str(folder / "labels.csv"), "--label-col", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
