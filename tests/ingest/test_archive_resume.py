"""Kill a real ``spectral-fast profile`` process with SIGKILL, then ``--resume``:
the result must equal an uninterrupted run, and no half-written output may exist.
The same for ``--resume --retry-errors`` on real CXRs truncated, then repaired.

Kill points are made deterministic by a wrapper that patches the journal so
the process SIGKILLs itself at a chosen step (between batches, inside a part
write, between renaming the output and removing the journal); one more test
kills the process from outside at whatever point it has reached.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import polars as pl
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
import pytest

from helpers import archive_samples as S
from spectral_fast.ingest.local import profile_archive

WRAPPER = r"""
import os, signal, sys
import spectral_fast.ingest.journal as j

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
        if str(path).endswith(".arrow.tmp"):
            die_at(step)
    j._fsync_file = patched
elif mode == "after_rename":        # the output renamed into place, the journal not yet removed
    def patched(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    j.shutil.rmtree = patched

from spectral_fast.cli import main
sys.exit(main(sys.argv[3:]))
"""

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
    return subprocess.run(
        [sys.executable, str(wrapper), mode, str(step), "profile", *args], capture_output=True, text=True
    )


def kill_after_parts(tmp_path, root, n: int):
    """Profile ``root`` with the CLI until its ``n``-th part is durable, then SIGKILL it; the output path."""
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    out = tmp_path / "p.parquet"
    res = killed(wrapper, "between_batches", n, str(root), "-o", str(out), *BATCH)
    assert res.returncode == -signal.SIGKILL, res.stderr
    return out


def assert_resumes_to_reference(root, out, reference) -> None:
    parts = out.with_name(out.name + ".parts")
    for part in parts.glob("part-*.arrow"):
        pa.ipc.open_file(pa.OSFile(str(part), "rb")).read_all()  # every journalled part is complete and readable
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
        assert len(list(parts.glob("part-*.arrow"))) == step - (mode == "inside_part_write")
    if mode == "inside_part_write":
        assert list(parts.glob("*.arrow.tmp")), "the interrupted part write should be visible"
    assert_resumes_to_reference(root, out, reference)


def test_a_journal_of_parquet_parts_from_an_earlier_version_resumes(archive, tmp_path):
    """Parts were Parquet files before they were Arrow IPC: a journal left by such a run still resumes whole."""
    root, reference = archive
    out = kill_after_parts(tmp_path, root, 3)
    parts = out.with_name(out.name + ".parts")
    ipc = sorted(parts.glob("part-*.arrow"))
    assert len(ipc) == 3
    for part in ipc[:2]:  # two old-style parts, then one new: numbering and order must carry across
        pq.write_table(pa.ipc.open_file(pa.OSFile(str(part), "rb")).read_all(), part.with_suffix(".parquet"))
        part.unlink()
    assert_resumes_to_reference(root, out, reference)


def test_sigkill_from_outside_at_any_point(archive, tmp_path):
    root, reference = archive
    out = tmp_path / "p.parquet"
    parts = out.with_name(out.name + ".parts")
    proc = subprocess.Popen([sys.executable, "-m", "spectral_fast", "profile", str(root), "-o", str(out), *BATCH])
    # Wait for the first durable part, then kill wherever the run has got to.
    while proc.poll() is None and not list(parts.glob("part-*.arrow")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_resumes_to_reference(root, out, reference)


def test_resume_refuses_other_options_after_a_kill(archive, tmp_path):
    root, _ = archive
    out = kill_after_parts(tmp_path, root, 2)
    res = cli(str(root), "-o", str(out), "--resume", "--bands", "16", *BATCH)
    assert res.returncode == 2 and "different options (bands 32 -> 16)" in res.stderr
    res = cli(str(root), "-o", str(out), *BATCH)
    assert res.returncode == 2 and "--resume" in res.stderr
    assert os.path.isdir(parts := out.with_name(out.name + ".parts")) and len(list(parts.glob("part-*"))) == 2


# ---------------------------------------------------------------- --retry-errors

RETRY = ["--batch-size", "1", "--threads", "1", "--quiet"]


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, NaN equal to NaN (the real images have NaN features; pyarrow's equals says NaN != NaN)."""
    return pl.from_arrow(a).equals(pl.from_arrow(b))


@pytest.fixture(scope="module")
def repaired(tmp_path_factory):
    """Six real CXRs, two of them truncated (error rows), a first run, then both files repaired.

    Returns the folder, the first run's output, and the table an uninterrupted
    ``--resume --retry-errors`` run makes from it.
    """
    if not S.REAL_IMAGES.is_dir():
        pytest.skip(f"real CXRs not found at {S.REAL_IMAGES}")
    tmp_path = tmp_path_factory.mktemp("retry")
    root = tmp_path / "images"
    root.mkdir()
    real = sorted(S.REAL_IMAGES.glob("nih__*.png"))[:6]
    for f in real:
        (root / f.name).write_bytes(f.read_bytes())
    broken = [root / real[1].name, root / real[4].name]
    for f in broken:
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 3])  # a truncated PNG: a 'corrupt' error row
    first = tmp_path / "first.parquet"
    assert cli(str(root), "-o", str(first), *RETRY).returncode == 0
    rows = pq.read_table(first).to_pylist()
    assert [r["id"] for r in rows if r["status"] == "error"] == [f.name for f in broken]
    for f in broken:
        f.write_bytes((S.REAL_IMAGES / f.name).read_bytes())
    expected = tmp_path / "expected.parquet"
    shutil.copy(first, expected)
    res = cli(str(root), "-o", str(expected), "--resume", "--retry-errors", "--batch-size", "1", "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "2 profiled, 0 errors" in res.stdout and "2 earlier errors retried, 4 already done" in res.stdout
    return root, first, pq.read_table(expected)


def test_retry_errors_replaces_the_error_rows_and_recomputes_nothing_else(repaired, tmp_path):
    root, first, expected = repaired
    before = pq.read_table(first)
    # The retried rows replace the error rows: no duplicate, every row ok, and
    # they equal a fresh run of the repaired files; the other rows are the first run's, untouched.
    ids = expected.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 6 and set(expected.column("status").to_pylist()) == {"ok"}
    errors = [r["id"] for r in before.to_pylist() if r["status"] == "error"]
    assert ids == [i for i in before.column("id").to_pylist() if i not in errors] + errors  # new rows follow the old
    fresh = tmp_path / "fresh.parquet"
    assert cli(str(root), "-o", str(fresh), *RETRY).returncode == 0
    assert same(expected.sort_by("id"), pq.read_table(fresh).sort_by("id"))
    kept = before.filter(pa.compute.equal(before.column("status"), "ok"))
    assert same(expected.slice(0, 4), kept)
    # Without --retry-errors a resume keeps the error rows (they are done, as before).
    out = tmp_path / "plain.parquet"
    shutil.copy(first, out)
    res = cli(str(root), "-o", str(out), "--resume", "--batch-size", "1", "--threads", "1")
    assert res.returncode == 0 and "0 profiled, 0 errors, 6 already done" in res.stdout
    assert same(pq.read_table(out), before)
    # --retry-errors continues a run; alone it is a user error.
    res = cli(str(root), "-o", str(tmp_path / "new.parquet"), "--retry-errors", *RETRY)
    assert res.returncode == 2 and "needs resume=True (--resume)" in res.stderr


@pytest.mark.parametrize(
    ("mode", "then_retry"), [("between_batches", True), ("between_batches", False), ("after_rename", True)]
)
def test_sigkill_during_a_retry_loses_nothing(repaired, tmp_path, mode, then_retry):
    root, first, expected = repaired
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    out = tmp_path / "p.parquet"
    shutil.copy(first, out)
    # Killed once the first retried row is durable (or after the output was renamed, before the journal went).
    res = killed(wrapper, mode, 1, str(root), "-o", str(out), "--resume", "--retry-errors", *RETRY)
    assert res.returncode == -signal.SIGKILL, res.stderr
    parts = out.with_name(out.name + ".parts")
    assert len(list(parts.glob("part-*.arrow"))) == (1 if mode == "between_batches" else 2)
    if mode == "between_batches":
        assert same(pq.read_table(out), pq.read_table(first))  # the old rows are all still there
    args = ["--resume", "--retry-errors"] if then_retry else ["--resume"]
    res = cli(str(root), "-o", str(out), *args, *RETRY)
    assert res.returncode == 0, res.stderr
    table = pq.read_table(out)
    ids = table.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 6, "a retried row and the error row it replaces must not both survive"
    assert not parts.exists()
    if then_retry:
        assert same(table, expected)
        assert table.schema.metadata == expected.schema.metadata
    else:
        # The row retried before the kill superseded its error row; the other error row is kept as it was.
        status = dict(zip(ids, table.column("status").to_pylist()))
        errors = [r["id"] for r in pq.read_table(first).to_pylist() if r["status"] == "error"]
        assert [status[i] for i in errors] == ["ok", "error"]
        assert same(
            table.filter(pa.compute.equal(table.column("id"), errors[0])),
            expected.filter(pa.compute.equal(expected.column("id"), errors[0])),
        )
