"""Batch sizes of a local run (spectral_fast.ingest.pacing) and the pandas-free string arrays of the planner."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest import pacing
from spectral_fast.ingest.pacing import BatchPacer
from spectral_fast.ingest.sources import FileSource, plan, string_array


def test_a_fixed_size_never_changes():
    pacer = BatchPacer(7, start=64)
    assert pacer() == 7
    pacer.done(7)
    assert pacer() == 7


def test_fast_batches_grow_within_bounds(monkeypatch):
    clock = iter([0.0, 0.001, 1.0, 10.0])
    monkeypatch.setattr(pacing.time, "perf_counter", lambda: next(clock))
    pacer = BatchPacer(None, start=64)
    assert pacer() == 64  # starts the clock at 0.0
    pacer.done(64)  # 64 files in 1 ms: grows, by at most 4x
    assert pacer() == 256
    pacer.done(256)  # 320 files in 1 s: 160 in the target half second
    assert pacer() == 160
    pacer.done(10)  # 330 files in 10 s: never below the start
    assert pacer() == 64


def test_growth_stops_at_the_cap(monkeypatch):
    monkeypatch.setattr(pacing.time, "perf_counter", iter([0.0] + [1e-6 * k for k in range(1, 50)]).__next__)
    pacer = BatchPacer(None, start=64)
    for _ in range(10):
        pacer.done(pacer())
    assert pacer() == pacing.MAX_BATCH_FILES


def test_file_batches_follow_the_pacer():
    src = FileSource(label="x", root=Path("/r"))
    src.paths = [f"/r/{i}.png" for i in range(10)]
    src.ids = [f"{i}.png" for i in range(10)]
    sizes = iter([3, 5, 100])
    batches = list(src.batches(lambda: next(sizes), None))
    assert [b.num_rows for b in batches] == [3, 5, 2]
    assert [i for b in batches for i in b.column("id").to_pylist()] == src.ids


def test_files_listed_one_by_one_share_batches(tmp_path):
    """A shell glob or a list of paths batches like a folder, not one file per batch."""
    (tmp_path / "a").mkdir()
    files = [tmp_path / "a" / f"{i}.png" for i in range(5)] + [tmp_path / f"{i}.png" for i in range(5, 7)]
    for f in files:
        f.write_bytes(b"x")
    table = pa.table({"id": ["t"], "bytes": [b"y"]})
    sources = plan([*files[:4], table, *files[4:]])
    assert [len(s.ids) for s in sources] == [4, 1, 3]
    assert sources[0].ids == ["a/0.png", "a/1.png", "a/2.png", "a/3.png"]
    assert sources[2].ids == ["a/4.png", "5.png", "6.png"]
    batches = list(sources[0].batches(64, None))
    assert [b.num_rows for b in batches] == [4]
    with pytest.raises(InvalidInputError, match="0.png"):  # duplicates still name the two inputs
        plan([files[0], tmp_path / "a" / "." / "0.png"])


@pytest.mark.parametrize("values", [[], ["a"], ["a", "bé", "", "x" * 300]])
def test_string_array_matches_pa_array(values):
    got = string_array(values)
    got.validate(full=True)
    assert got.equals(pa.array(values, pa.string()))


def test_string_array_refuses_what_pa_array_refuses():
    values = ["ok.png", "caf\udce9.png"]  # not valid UTF-8 text
    with pytest.raises(Exception) as want:
        pa.array(values, pa.string())
    with pytest.raises(want.type):
        string_array(values)
