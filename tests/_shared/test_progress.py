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
    progress.set_quiet(False)  # a CLI test run before may have left --quiet on
    monkeypatch.setenv("COLUMNS", "160")  # bars fit their descriptions whatever pytest's own width
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
    truth = np.random.default_rng(1).integers(0, 2, table.height)
    score = np.where(error != truth.astype(bool), 0.8, 0.2)  # wrong exactly on the slice's errors
    pl.DataFrame({"id": table["id"], "y": truth, "p": score}).write_csv(tmp_path / "preds.csv")
    args = ["report", str(tmp_path / "p.parquet"), "--predictions", str(tmp_path / "preds.csv"),
            "--label-col", "y", "--score-col", "p", "--n-perm", "99", "--n-boot", "10"]  # fmt: skip
    assert main([*args, "-o", str(tmp_path / "a")]) == 0
    text = terminal.getvalue()
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.startswith("spectral-fast:")]
    assert lines == [
        "spectral-fast: clustering 200 images",
        "spectral-fast: y: 99 permutations, 10 bootstrap resamples per cluster",
        f"spectral-fast: writing the report to {tmp_path / 'a'}",
    ]
    # bars of the long loops, each with its total (they clear themselves when done)
    for desc, total in (("AUROC bootstrap (10 resamples)", None), ("scan permutations", 99),
                        ("concentration permutations", 99), ("stability refits", 10)):  # fmt: skip
        assert f"{desc}:" in text and (total is None or f"/{total} " in text), desc
    terminal.seek(0)
    terminal.truncate()
    assert main([*args, "-o", str(tmp_path / "b"), "--quiet"]) == 0
    assert terminal.getvalue() == ""


def test_predict_and_monitor_show_bars_on_a_terminal_and_none_with_quiet(tmp_path, terminal, monkeypatch):
    terminal = terminal()
    import numpy as np

    from helpers.profile_tables import make_profiles
    from spectral_fast.analysis.clustering import SpectralClusters
    from spectral_fast.reliability import reference_set
    from spectral_fast.reliability.monitoring import monitor
    from spectral_fast.reliability.risk import predict

    table, _, error = make_profiles(300, 0, 0.25)
    model = SpectralClusters(4, method="kmeans", random_state=0).fit(table)
    fitted = (model, reference_set.build_reference(table, model, {"y": error}))
    batch, _, _ = make_profiles(90, 1, 0.3)
    monkeypatch.setattr(reference_set, "POSTERIOR_CHUNK", 40)
    whole = predict(fitted, batch).images
    assert "cluster posterior:" in terminal.getvalue() and "/90 " in terminal.getvalue()
    monitor(fitted, batch)
    assert "feature tests:" in terminal.getvalue()
    monkeypatch.setattr(reference_set, "POSTERIOR_CHUNK", 10_000)
    assert predict(fitted, batch).images.equals(whole)  # chunks change no value
    terminal.seek(0)
    terminal.truncate()
    progress.set_quiet(True)
    predict(fitted, batch)
    monitor(fitted, batch)
    assert terminal.getvalue() == ""
    assert np.isfinite(whole["distance"].to_numpy()).all()


def test_choosing_k_shows_a_bar_over_the_candidates(terminal):
    from helpers.profile_tables import make_profiles
    from spectral_fast.analysis.clustering import SpectralClusters

    table, _, _ = make_profiles(60, 0, 0.25)
    terminal = terminal()
    SpectralClusters("bic", method="gmm", random_state=0, n_init=1).fit(table)
    assert "choosing k (bic):" in terminal.getvalue() and "/11 " in terminal.getvalue()


def test_counted_yields_every_item_and_costs_nothing_when_off(terminal):
    assert list(progress.counted(range(5), 5, "x")) == [0, 1, 2, 3, 4]  # off: pytest's stderr is not a terminal
    assert isinstance(progress.counted([1], 1, "x"), type(iter([1])))
    terminal = terminal()
    assert list(progress.counted(range(250), 250, "loop", "it")) == list(range(250))
    assert "loop:" in terminal.getvalue() and "/250 " in terminal.getvalue()
