"""Stage lines and bars: on a terminal only, and never with --quiet."""

from __future__ import annotations

import io

import polars as pl
import pytest

from spectral_fast._shared import progress
from spectral_fast.profiling.tables import add_artefacts


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch):
    """A fake terminal as stderr; installed by the test body, as pytest's capture resets sys.stderr after setup."""
    err = Terminal()
    yield lambda: monkeypatch.setattr("sys.stderr", err) or err
    progress.set_quiet(False)


def _table(root):
    ids = sorted(str(p.relative_to(root)) for p in (root / "images").glob("*.png"))[:3]
    return pl.DataFrame({"id": ids})


def test_artefacts_show_a_stage_line_and_a_bar_on_a_terminal(cxr_real_dir, terminal):
    terminal = terminal()
    add_artefacts(_table(cxr_real_dir), cxr_real_dir, threads=1)
    text = terminal.getvalue()
    assert text.startswith("spectral-fast: artefact features of 3 images\n")
    # The bar with its description and total: it clears itself when done, so its last count depends on refresh timing.
    assert "artefacts:" in text and "/3 " in text


def test_quiet_and_pipes_show_nothing(cxr_real_dir, terminal, monkeypatch):
    terminal = terminal()
    progress.set_quiet(True)
    add_artefacts(_table(cxr_real_dir), cxr_real_dir, threads=1)
    assert terminal.getvalue() == ""
    progress.set_quiet(False)
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    add_artefacts(_table(cxr_real_dir), cxr_real_dir, threads=1)
    progress.stage("clustering 3 images")
    assert piped.getvalue() == ""


def test_report_stage_lines_on_a_terminal_and_none_with_quiet(tmp_path, terminal):
    terminal = terminal()
    import numpy as np

    from helpers.profile_tables import make_profiles
    from spectral_fast.cli import main

    table, _, error = make_profiles(200, 0, 0.25)
    table.write_parquet(tmp_path / "p.parquet")
    pl.DataFrame({"id": table["id"], "y": error.astype(int), "p": np.where(error, 0.2, 0.8)}).write_csv(
        tmp_path / "preds.csv"
    )
    args = ["report", str(tmp_path / "p.parquet"), "--predictions", str(tmp_path / "preds.csv"),
            "--label-col", "y", "--score-col", "p", "--n-perm", "19", "--n-boot", "10"]  # fmt: skip
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    lines = terminal.getvalue().splitlines()
    assert lines == [
        "spectral-fast: clustering 200 images",
        "spectral-fast: y: 19 permutations, 10 bootstrap resamples per cluster",
        f"spectral-fast: writing the report to {tmp_path / 'a'}",
    ]
    terminal.seek(0)
    terminal.truncate()
    assert main([*args, "-o", str(tmp_path / "b"), "--quiet"]) == 0
    assert terminal.getvalue() == ""
