"""The CLI keeps no traps: one meaning per flag, no silent overwrite, clear errors, one-line warnings, examples."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from helpers.profile_tables import make_profiles
from spectral_fast.cli import SUBCOMMANDS, main

# These tests check how the CLI prints the package's own warnings; pytest's "error" filter
# would raise them before the CLI could print them, so they are shown as a user would see them.
pytestmark = pytest.mark.filterwarnings("default::spectral_fast.analysis.predictions.PartialMatchWarning")

FAST = ["--n-perm", "19", "--n-boot", "10"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Profiles (id column ``path``), predictions (id column ``image``) and a report made from them."""
    tmp = tmp_path_factory.mktemp("traps")
    table, _, error = make_profiles(300, 0, 0.25)
    table = table.rename({"id": "path"})
    table.write_parquet(tmp / "profiles.parquet")
    truth = np.random.default_rng(0).random(table.height) < 0.5
    preds = pl.DataFrame({"image": table["path"], "y": truth.astype(int), "p": np.where(truth != error, 0.8, 0.2)})
    preds.write_csv(tmp / "preds.csv")
    report = tmp / "report"
    code = main(["report", str(tmp / "profiles.parquet"), "--predictions", str(tmp / "preds.csv"),
                 "--pred-id-col", "image", "--profile-id-col", "path", "--label-col", "y", "--score-col", "p",
                 "-o", str(report), *FAST])  # fmt: skip
    assert code == 0
    return tmp, report


def _report(tmp, *extra):
    return ["report", str(tmp / "profiles.parquet"), "--predictions", str(tmp / "preds.csv"),
            "--label-col", "y", "--score-col", "p", *FAST, *extra]  # fmt: skip


def test_id_flags_mean_the_same_in_every_command_and_id_col_is_a_warning_alias(data, tmp_path, capsys):
    tmp, report = data
    capsys.readouterr()
    # report: the old --id-col named the predictions' id column
    assert main(_report(tmp, "--id-col", "image", "--profile-id-col", "path", "-o", str(tmp_path / "r"))) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert [e for e in err if "--id-col" in e] == [
        "spectral-fast report: warning: --id-col is deprecated; here it means --pred-id-col "
        "(the predictions' id column), use --pred-id-col"
    ]
    # predict and monitor: --profile-id-col names the profiles' id column; the old --id-col meant the same
    for command, out in (("predict", tmp_path / "risk.parquet"), ("monitor", tmp_path / "mon")):
        args = [command, str(report), str(tmp / "profiles.parquet"), "-o", str(out)]
        assert main([*args, "--profile-id-col", "path"]) == 0
        risk = pl.read_parquet(out if command == "predict" else out / "risk.parquet")
        assert risk["id"].to_list()[:2] == ["s0/0000.png", "s0/0001.png"]
        capsys.readouterr()
        assert (
            main([*args, "--id-col", "path", "--overwrite"] if command == "monitor" else [*args, "--id-col", "path"])
            == 0
        )
        assert "here it means --profile-id-col (the profiles' id column)" in capsys.readouterr().err
    # predict's predictions use --pred-id-col, as in report
    assert main(["predict", str(report), str(tmp / "profiles.parquet"), "-o", str(tmp_path / "r2.parquet"),
                 "--profile-id-col", "path", "--predictions", str(tmp / "preds.csv"), "--pred-id-col", "image"]) == 0  # fmt: skip


@pytest.mark.parametrize("command", ["report", "monitor", "demo"])
def test_commands_refuse_a_non_empty_output_folder(data, tmp_path, capsys, command):
    tmp, report = data
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = {
        "report": _report(tmp, "--pred-id-col", "image", "--profile-id-col", "path", "-o", str(out)),
        "monitor": ["monitor", str(report), str(tmp / "profiles.parquet"), "--profile-id-col", "path", "-o", str(out)],
        "demo": ["demo", "-o", str(out)],
    }[command]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"spectral-fast {command}: error: -o {out}: the folder exists and is not empty; " \
        "give --overwrite to replace its files"  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    if command != "demo":
        assert main([*args, "--overwrite"]) == 0
        assert (out / "keep.txt").read_text() == "mine" and len(list(out.iterdir())) > 1


def test_partial_match_error_names_ids_of_both_sides_and_min_match_accepts_less(data, tmp_path, capsys):
    tmp, _ = data
    preds = pl.read_csv(tmp / "preds.csv")
    few = preds.head(100).with_columns(pl.col("image").str.split("/").list.last())  # bare names, a third of them
    few.write_csv(tmp_path / "few.csv")
    args = ["report", str(tmp / "profiles.parquet"), "--predictions", str(tmp_path / "few.csv"),
            "--pred-id-col", "image", "--profile-id-col", "path", "--label-col", "y", "--score-col", "p", *FAST]  # fmt: skip
    assert main([*args, "--match", "basename", "-o", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "only 100 of 300 profiles matched a prediction by basename id (at least 50% needed)" in err
    assert "profile ids without a prediction e.g. ['s0/0100.png'" in err
    assert "prediction ids (all 100 matched) e.g. ['0000.png', '0001.png', '0002.png']" in err
    assert "match='stem'" in err and "'basename'" not in err.split("To go on:")[1]
    assert "--min-match" in err
    assert main([*args, "--match", "basename", "--min-match", "0.3", "-o", str(tmp_path / "b")]) == 0
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["n_analysed"] == 100
    with pytest.raises(SystemExit) as exc:  # argparse's usage error
        main([*args, "--match", "basename", "--min-match", "1.5", "-o", str(tmp_path / "c")])
    assert exc.value.code == 2
    assert "expected a fraction in (0, 1]" in capsys.readouterr().err


def test_warnings_are_one_line_cli_messages(data, tmp_path, capsys):
    tmp, _ = data
    preds = pl.read_csv(tmp / "preds.csv")
    pl.concat([preds, preds.head(3)]).write_csv(tmp_path / "dup.csv")
    args = ["report", str(tmp / "profiles.parquet"), "--predictions", str(tmp_path / "dup.csv"),
            "--pred-id-col", "image", "--profile-id-col", "path", "--label-col", "y", "--score-col", "p", *FAST,
            "-o", str(tmp_path / "r")]  # fmt: skip
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["spectral-fast report: warning: joined 300 images; 3 duplicate prediction ids (first kept)"]


@pytest.mark.parametrize("command", ["report", "predict", "monitor"])
def test_a_missing_images_folder_is_an_error(data, tmp_path, capsys, command):
    tmp, report = data
    missing = tmp_path / "no-such-folder"
    if command == "report":
        args = _report(tmp, "--pred-id-col", "image", "--profile-id-col", "path", "-o", str(tmp_path / "r"))
    else:
        out = tmp_path / ("r.parquet" if command == "predict" else "m")
        args = [command, str(report), str(tmp / "profiles.parquet"), "--profile-id-col", "path", "-o", str(out)]
    assert main([*args, "--images", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"spectral-fast {command}: error: --images {missing}: no such folder " \
        "(the folder the profile ids are relative to)"  # fmt: skip


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_help_ends_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out.rstrip().splitlines()
    example = text.index("example:")
    assert text[example + 1].strip().startswith(f"spectral-fast {command} ")
    assert all(line.startswith("  ") for line in text[example + 1 :])


def test_quiet_prints_only_the_final_line(data, tmp_path, capsys):
    tmp, report = data
    capsys.readouterr()
    assert main(_report(tmp, "--pred-id-col", "image", "--profile-id-col", "path", "-o", str(tmp_path / "r"),
                        "--quiet")) == 0  # fmt: skip
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"wrote {tmp_path / 'r' / 'report.html'}"] and out.err == ""
    assert main(["predict", str(report), str(tmp / "profiles.parquet"), "--profile-id-col", "path",
                 "-o", str(tmp_path / "x.parquet"), "--quiet"]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"wrote {tmp_path / 'x.parquet'}"] and out.err == ""
