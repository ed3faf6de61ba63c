"""``spectral-fast profile``: exit codes, one-line messages, the summary line, and the
progress bar only on a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import polars as pl
import pytest

from helpers import archive_samples as S


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spectral_fast", "profile", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(6):
        (root / f"{i}.png").write_bytes(S.png(S.phantom(48, 48, seed=i)))
    (root / "bad.png").write_bytes(b"")
    return root


def test_success_prints_one_summary_line_and_no_progress_when_piped(images, tmp_path):
    out = tmp_path / "p.parquet"
    res = cli(str(images), "-o", str(out), "--threads", "2", "--batch-size", "3")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # no progress bar: stderr is not a terminal
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 2
    # What the memory budget chose, then the summary.
    assert re.fullmatch(r"memory budget .*: 2 threads, images up to [\d,]+ pixels \(estimated peak .*\)", lines[0])
    assert re.fullmatch(
        r"6 profiled, 1 errors \(1 empty\) in \d+\.\d s \(\d+\.\d images/s\) -> .*p\.parquet", lines[1]
    ), lines[1]
    df = pl.read_parquet(out)
    assert df.height == 7 and df.filter(pl.col("status") == "ok").height == 6


def test_options_reach_the_profile(images, tmp_path):
    out = tmp_path / "p.parquet"
    args = ["--size", "32", "--bands", "8", "--spacing", "linear", "--window", "none", "--max-pixels", "1000"]
    assert cli(str(images), "-o", str(out), *args, "--quiet").returncode == 1  # 48x48 > 1000 pixels: all errors
    out = tmp_path / "q.parquet"
    res = cli(str(images), "-o", str(out), *args[:-2], "--quiet")
    assert res.returncode == 0 and res.stdout == "" and res.stderr == ""
    df = pl.read_parquet(out)
    assert [c for c in df.columns if c.startswith("band_")] == [f"band_{i:02d}" for i in range(8)]


def test_nothing_profiled_is_exit_1_with_one_line(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_bytes(b"not a png")
    res = cli(str(tmp_path / "junk"), "-o", str(tmp_path / "p.parquet"))
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0
    assert "no image could be profiled" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{missing}", "-o", "{out}"], "does not exist"),
        (["{images}", "-o", "{out}", "--bands", "0"], "bands"),
        (["{images}", "-o", "{out}", "--batch-size", "0"], "batch_size"),
        (["{images}", "-o", "{out}", "--threads", "0"], "threads"),
        (["{images}", "-o", "{tmp}/nowhere/p.parquet"], "output folder"),
    ],
)
def test_invalid_input_is_exit_2_with_one_line(images, tmp_path, args, message):
    fill = {
        "missing": str(tmp_path / "missing"),
        "out": str(tmp_path / "p.parquet"),
        "images": str(images),
        "tmp": str(tmp_path),
    }
    res = cli(*[a.format(**fill) for a in args])
    assert res.returncode == 2
    assert res.stderr.startswith("spectral-fast profile: error:") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_progress_bar_on_a_terminal_and_not_with_quiet(images, tmp_path):
    def on_tty(*args: str) -> tuple[int, str]:
        master, slave = pty.openpty()
        # A fresh pty is 0 columns wide; give it a real terminal's size.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        proc = subprocess.Popen(
            [sys.executable, "-m", "spectral_fast", "profile", *args], stdout=slave, stderr=slave, close_fds=True
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        return proc.wait(), b"".join(chunks).decode(errors="replace")

    code, text = on_tty(str(images), "-o", str(tmp_path / "a.parquet"), "--batch-size", "2")
    assert code == 0
    assert "img/s" in text and "7/7" in text  # tqdm's rate and count
    assert "6 profiled" in text
    code, text = on_tty(str(images), "-o", str(tmp_path / "b.parquet"), "--quiet")
    assert code == 0 and text.strip() == ""


def test_help_lists_the_subcommand():
    res = subprocess.run([sys.executable, "-m", "spectral_fast", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "profile" in res.stdout
    res = cli("--help")
    assert res.returncode == 0 and "--resume" in res.stdout and "--max-pixels" in res.stdout
