"""Kill a real ``spectral-fast profile`` process with SIGKILL, then ``--resume``:
the result must equal an uninterrupted run, and no half-written output may exist.

Kill points are made deterministic by a wrapper that patches the journal so
the process SIGKILLs itself at a chosen step (between batches, inside a part
write, between renaming the output and removing the journal); one more test
kills the process from outside at whatever point it has reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

import archive_samples as S
from spectral_fast.archive import profile_archive

WRAPPER = r'''
import os, signal, sys
import spectral_fast.journal as j

mode, step = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}

def die_at(n):
    calls["n"] += 1
    if calls["n"] == n:
        os.kill(os.getpid(), signal.SIGKILL)

if mode == "between_batches":       # after the step-th part is durable
    add = j.Journal.add
    def patched(self, batch):
        add(self, batch)
        die_at(step)
    j.Journal.add = patched
elif mode == "inside_part_write":   # a part written under its temporary name, not yet renamed
    fsync = j._fsync_file
    def patched(path):
        fsync(path)
        if str(path).endswith(".parquet.tmp"):
            die_at(step)
    j._fsync_file = patched
elif mode == "after_rename":        # the output renamed into place, the journal not yet removed
    def patched(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    j.shutil.rmtree = patched

from spectral_fast.cli import main
sys.exit(main(sys.argv[3:]))
'''

BATCH = ["--batch-size", "4", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume") / "images"
    root.mkdir()
    for i in range(40):
        (root / f"img_{i:03d}.png").write_bytes(S.png(S.phantom(64, 64 + i % 5, seed=i)))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    reference = root.parent / "reference.parquet"
    profile_archive(root, reference, batch_size=4, threads=1)
    return root, pq.read_table(reference)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spectral_fast", "profile", *args], capture_output=True, text=True)


def killed(wrapper, mode: str, step: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(wrapper), mode, str(step), "profile", *args], capture_output=True, text=True)


def assert_resumes_to_reference(root, out, reference) -> None:
    parts = out.with_name(out.name + ".parts")
    for part in parts.glob("part-*.parquet"):
        pq.read_table(part)  # every journalled part is complete and readable
    res = cli(str(root), "-o", str(out), "--resume", *BATCH)
    assert res.returncode == 0, res.stderr
    table = pq.read_table(out)
    assert table.equals(reference)
    assert table.schema.metadata == reference.schema.metadata
    assert not parts.exists() and not out.with_name(out.name + ".tmp").exists()


@pytest.mark.parametrize(
    ("mode", "step"), [("between_batches", 1), ("between_batches", 6), ("inside_part_write", 3), ("after_rename", 1)]
)
def test_sigkill_then_resume_equals_an_uninterrupted_run(archive, tmp_path, mode, step):
    root, reference = archive
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    out = tmp_path / "p.parquet"
    res = killed(wrapper, mode, step, str(root), "-o", str(out), *BATCH)
    assert res.returncode == -signal.SIGKILL, res.stderr
    parts = out.with_name(out.name + ".parts")
    if mode == "after_rename":
        assert out.exists() and parts.exists()  # the case resume must de-duplicate
    else:
        assert not out.exists(), "a killed run must not leave an output file"
        assert len(list(parts.glob("part-*.parquet"))) == step - (mode == "inside_part_write")
    if mode == "inside_part_write":
        assert list(parts.glob("*.parquet.tmp")), "the interrupted part write should be visible"
    assert_resumes_to_reference(root, out, reference)


def test_sigkill_from_outside_at_any_point(archive, tmp_path):
    root, reference = archive
    out = tmp_path / "p.parquet"
    parts = out.with_name(out.name + ".parts")
    proc = subprocess.Popen([sys.executable, "-m", "spectral_fast", "profile", str(root), "-o", str(out), *BATCH])
    # Wait for the first durable part, then kill wherever the run has got to.
    while proc.poll() is None and not list(parts.glob("part-*.parquet")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_resumes_to_reference(root, out, reference)


def test_resume_refuses_other_options_after_a_kill(archive, tmp_path):
    root, _ = archive
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    out = tmp_path / "p.parquet"
    assert killed(wrapper, "between_batches", 2, str(root), "-o", str(out), *BATCH).returncode == -signal.SIGKILL
    res = cli(str(root), "-o", str(out), "--resume", "--bands", "16", *BATCH)
    assert res.returncode == 2 and "different options (bands 32 -> 16)" in res.stderr
    res = cli(str(root), "-o", str(out), *BATCH)
    assert res.returncode == 2 and "--resume" in res.stderr
    assert os.path.isdir(parts := out.with_name(out.name + ".parts")) and len(list(parts.glob("part-*"))) == 2
