"""Batch sizes of a local run (spectral_fast.ingest.pacing) and the pandas-free string arrays of the planner."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from spectral_fast.ingest import pacing
from spectral_fast.ingest.pacing import BatchPacer
from spectral_fast.ingest.sources import FileSource, string_array


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
