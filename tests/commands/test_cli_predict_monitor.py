"""`spectral-fast predict` and `spectral-fast monitor` end to end, from a real `report` output folder."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.cli import main


def _write_with_options(table: pl.DataFrame, path, **options) -> None:
    """A Parquet file carrying the run description `spectral-fast profile` writes."""
    meta = {"version": "0.1.0", "options": {"size": None, "bands": 32, "spacing": "log", "window": "hann", **options}}
    arrow = table.to_arrow()
    pq.write_table(arrow.replace_schema_metadata({b"spectral_fast": json.dumps(meta).encode()}), path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """`spectral-fast report` on 400 profiles whose errors concentrate in a blurred slice."""
    tmp = tmp_path_factory.mktemp("cli")
    table, _, error = make_profiles(400, 0, 0.25)
    _write_with_options(table, tmp / "ref.parquet")
    rng = np.random.default_rng(0)
    truth = rng.random(table.height) < 0.5
    score = np.where(truth != error, 0.8, 0.2)  # wrong where error, by construction
    pl.DataFrame({"id": table["id"], "y": truth.astype(int), "p": score}).write_csv(tmp / "preds.csv")
    out = tmp / "report"
    code = main(["report", str(tmp / "ref.parquet"), "--predictions", str(tmp / "preds.csv"), "--pred-id-col", "id",
                 "--label-col", "y", "--score-col", "p", "-o", str(out), "--n-perm", "19", "--n-boot", "10"])  # fmt: skip
    assert code == 0
    assert (out / "reference.json").is_file()
    return out


def test_predict_cli(model_dir, tmp_path, capsys):
    batch, _, _ = make_profiles(150, 5, 0.6)
    _write_with_options(batch, tmp_path / "new.parquet")
    assert main(["predict", str(model_dir), str(tmp_path / "new.parquet"), "-o", str(tmp_path / "risk.parquet"),
                 "--json", str(tmp_path / "risk.json")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "y: expected accuracy" in out and "options checked: bands, spacing, window, size" in out
    risk = pl.read_parquet(tmp_path / "risk.parquet")
    assert risk.height == 150 and {"id", "cluster", "unknown", "risk_y"} <= set(risk.columns)
    meta = json.loads(pq.read_schema(tmp_path / "risk.parquet").metadata[b"spectral_fast.predict"])
    doc = json.loads((tmp_path / "risk.json").read_text())
    assert meta["findings"]["y"]["expected_accuracy"] == doc["findings"]["y"]["expected_accuracy"] < 0.85
    assert sum(s["n"] for s in doc["slices"]) == 150


def test_monitor_cli_and_fail_on(model_dir, tmp_path, capsys):
    batch, _, _ = make_profiles(200, 6, 0.8)
    _write_with_options(batch, tmp_path / "new.parquet")
    args = ["monitor", str(model_dir), str(tmp_path / "new.parquet"), "-o", str(tmp_path / "mon")]
    assert main(args) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("ALERT:")
    for name in ("monitor.json", "monitor.html", "risk.parquet"):
        assert (tmp_path / "mon" / name).is_file()
    assert main(args + ["--fail-on", "alert"]) == 2  # the folder is not empty: refused without --overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--fail-on", "alert", "--overwrite"]) == 1
    same, _, _ = make_profiles(200, 7, 0.25)
    _write_with_options(same, tmp_path / "same.parquet")
    assert main(["monitor", str(model_dir), str(tmp_path / "same.parquet"), "-o", str(tmp_path / "m2"),
                 "--fail-on", "alert"]) == 0  # fmt: skip


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda t, p: _write_with_options(t, p, spacing="linear"),
            "spacing: the profiles were made with spacing='linear'",
        ),
        (lambda t, p: _write_with_options(t, p, window="none"), "window: the profiles were made with window='none'"),
        (lambda t, p: _write_with_options(t, p, size=512), "size: the profiles were made with size=512"),
        (
            lambda t, p: _write_with_options(t.drop([f"band_{i}" for i in range(16, 32)]), p, bands=16),
            "bands: the profiles were made with bands=16",
        ),
        (lambda t, p: t.drop([f"band_{i}" for i in range(16, 32)]).write_parquet(p), "bands: the profiles have 16"),
        (lambda t, p: t.head(0).write_parquet(p), "empty"),
        (lambda t, p: t.with_columns(pl.lit("error").alias("status")).write_parquet(p), "all 20 rows are error rows"),
    ],
)
@pytest.mark.parametrize("command", ["predict", "monitor"])
def test_bad_input_is_a_one_line_error(model_dir, tmp_path, capsys, make, message, command):
    table, _, _ = make_profiles(20, 8, 0.0)
    make(table, tmp_path / "bad.parquet")
    assert main([command, str(model_dir), str(tmp_path / "bad.parquet"), "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"spectral-fast {command}: error: ") and message in err and "\n" not in err


def test_missing_model_dir(tmp_path, capsys):
    table, _, _ = make_profiles(5, 8, 0.0)
    table.write_parquet(tmp_path / "p.parquet")
    assert (
        main(["predict", str(tmp_path / "nope"), str(tmp_path / "p.parquet"), "-o", str(tmp_path / "r.parquet")]) == 2
    )
    assert "MODEL_DIR" in capsys.readouterr().err


def test_predict_cli_with_the_models_scores(model_dir, tmp_path, capsys):
    """The report had --score-col p, so its reference holds a confidence model; --predictions uses it."""
    batch, _, error = make_profiles(120, 9, 0.5)
    _write_with_options(batch, tmp_path / "new.parquet")
    truth = np.random.default_rng(1).random(batch.height) < 0.5
    score = np.where(truth != error, 0.8, 0.2)
    pl.DataFrame({"image": batch["id"], "prob": score}).write_csv(tmp_path / "scores.csv")
    args = ["predict", str(model_dir), str(tmp_path / "new.parquet"), "-o", str(tmp_path / "risk.parquet"),
            "--predictions", str(tmp_path / "scores.csv"), "--pred-id-col", "image"]  # fmt: skip
    assert main(args + ["--score-col", "y=prob"]) == 0
    out = capsys.readouterr().out
    assert "y: expected accuracy with the model's confidence" in out and "120 images scored by 'prob'" in out
    risk = pl.read_parquet(tmp_path / "risk.parquet")
    assert risk["risk_combined_y"].null_count() == 0 and risk["risk_combined_y"].is_between(0, 1).all()
    # the report's own score column name is the default; here it is absent from the file
    assert main(args) == 2
    assert "['p'] not found in the predictions" in capsys.readouterr().err
    assert main(args + ["--score-col", "=prob"]) == 2
    assert "use COL or FINDING=COL" in capsys.readouterr().err
    assert main(["predict", str(model_dir), str(tmp_path / "new.parquet"), "-o", str(tmp_path / "r2.parquet"),
                 "--score-col", "prob"]) == 2  # fmt: skip
    assert "--score-col needs --predictions" in capsys.readouterr().err
