"""The memory budget of a run: sizes, the threads / image-limit rules, and a budgeted run on real images."""

from __future__ import annotations

from pathlib import Path

import pytest

from spectral_fast.cli import main
from spectral_fast.errors import InvalidInputError
from spectral_fast.ingest.budget import (
    BYTES_PER_PIXEL,
    MIN_IMAGE_PIXELS,
    RESERVE,
    default_budget,
    parse_size,
    plan_memory,
)
from spectral_fast.ingest.local import profile_archive, run_options

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cxr-real" / "images"
GIB = 1 << 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2G", 2 * GIB), ("512M", 512 << 20), ("1.5GiB", 3 * GIB // 2), ("64k", 64 << 10), ("4096", 4096), (123, 123)],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "2X", "-1G", "0", "G", True, 0])
def test_parse_size_refuses(bad):
    with pytest.raises(InvalidInputError, match="max_memory"):
        parse_size(bad)


def test_default_budget_is_half_the_available_memory_at_most_4_gib(monkeypatch):
    assert 0 < default_budget() <= 4 * GIB
    from spectral_fast.ingest import budget

    for available, expected in [(3 * GIB + 5, 1536 << 20), (3 * GIB - 5, GIB), (64 * GIB, 4 * GIB), (100, 512 << 20)]:
        monkeypatch.setattr(budget, "available_memory", lambda a=available: a)
        assert default_budget() == expected, available


def test_derived_limit_fills_each_threads_share():
    plan = plan_memory(2 * GIB, threads=2, max_pixels=None, default_max_pixels=100_000_000)
    assert plan.threads == 2
    assert plan.max_pixels == (2 * GIB - RESERVE) // (2 * BYTES_PER_PIXEL)
    assert plan.peak_estimate <= 2 * GIB
    # A large budget stops at the default limit.
    big = plan_memory(64 * GIB, threads=2, max_pixels=None, default_max_pixels=100_000_000)
    assert (big.threads, big.max_pixels) == (2, 100_000_000)


def test_threads_are_dropped_before_the_limit_goes_under_a_4096_square_image():
    plan = plan_memory(1 * GIB, threads=4, max_pixels=None, default_max_pixels=100_000_000)
    assert plan.threads == 1 and plan.max_pixels >= MIN_IMAGE_PIXELS
    assert plan.peak_estimate <= 1 * GIB and "4 threads would not fit" in plan.line()


def test_explicit_limit_is_kept_with_fewer_threads():
    plan = plan_memory(4 * GIB, threads=4, max_pixels=50_000_000, default_max_pixels=100_000_000)
    assert plan.max_pixels == 50_000_000
    assert plan.threads == (4 * GIB - RESERVE) // (BYTES_PER_PIXEL * 50_000_000) == 2


def test_budget_too_small_for_one_thread_is_refused():
    with pytest.raises(InvalidInputError, match=r"too small for even one thread.*--max-memory"):
        plan_memory(512 << 20, threads=1, max_pixels=None, default_max_pixels=100_000_000)
    with pytest.raises(InvalidInputError, match="max_pixels=100,000,000"):
        plan_memory(2 * GIB, threads=1, max_pixels=100_000_000, default_max_pixels=100_000_000)


@pytest.mark.skipif(not REAL.is_dir(), reason="real CXR images not available")
def test_budgeted_run_on_real_images_records_the_chosen_limit(tmp_path, capsys):
    files = sorted(REAL.glob("*.png"))[:4]
    out = tmp_path / "p.parquet"
    summary = profile_archive(files, out, threads=2, max_memory="1G")
    assert summary.ok == 4
    assert summary.memory.threads == 1 and summary.memory.max_pixels >= MIN_IMAGE_PIXELS
    assert run_options(out)["options"]["max_pixels"] == summary.memory.max_pixels
    # A resume keeps the recorded limit even under another budget.
    again = profile_archive(files, out, threads=2, max_memory="3G", resume=True)
    assert again.memory.max_pixels == summary.memory.max_pixels and again.skipped == 4
    # The CLI prints what it chose, and refuses a budget too small for one thread.
    assert main(["profile", str(files[0]), "-o", str(tmp_path / "c.parquet"), "--max-memory", "2G"]) == 0
    assert "memory budget 2.0 GiB: " in capsys.readouterr().out
    assert main(["profile", str(files[0]), "-o", str(tmp_path / "d.parquet"), "--max-memory", "300M"]) != 0
    assert "too small for even one thread" in capsys.readouterr().err
    with pytest.raises(InvalidInputError, match="engine='local' only"):
        profile_archive(files, tmp_path / "e.parquet", engine="ray", max_memory="2G")
