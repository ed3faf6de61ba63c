"""File names that are not UTF-8 (issue 18): escaped ids that round-trip, and the file still profiled.

The names are made here with ``os.fsencode`` byte paths: git cannot be
trusted to keep such a name in the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from helpers import archive_samples as S
from spectral_fast.ingest.sources import escape_id, id_to_fspath

LATIN1 = b"caf\xe9.png"
WITH_BACKSLASH = b"a\\b\xff.png"


def _make(folder: Path, name: bytes, data: bytes) -> None:
    try:
        with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
            fh.write(data)
    except OSError as exc:  # a file system that insists on UTF-8 names
        pytest.skip(f"cannot create a non-UTF-8 file name here: {exc}")


def _image(cxr_dir: Path | None) -> bytes:
    if cxr_dir is not None:
        return next(iter(sorted((cxr_dir / "images").glob("*.png")))).read_bytes()
    return S.png(S.phantom(96, 80, seed=3))


def test_escape_id_round_trips_undecodable_bytes_and_leaves_utf8_alone():
    for raw in [LATIN1, WITH_BACKSLASH, b"sub/\x80\x81/x.dcm", "naïve/x.png".encode()]:
        name = os.fsdecode(raw)
        id_ = escape_id(name)
        id_.encode("utf-8")  # always valid text
        assert id_to_fspath(id_) == raw
    assert escape_id(os.fsdecode(LATIN1)) == r"caf\xe9.png"
    assert escape_id(os.fsdecode(WITH_BACKSLASH)) == r"a\\b\xff.png"
    assert escape_id("plain\\name.png") == "plain\\name.png"  # valid UTF-8: never escaped


def test_cli_profiles_a_latin1_name_next_to_a_normal_one(tmp_path, request):
    cxr = None
    if (Path(__file__).parents[2] / ".." / "shared" / "data" / "cxr-real" / "images").is_dir():
        cxr = request.getfixturevalue("cxr_real_dir")
    data = _image(cxr)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "normal.png").write_bytes(data)
    _make(folder, LATIN1, data)
    _make(folder, WITH_BACKSLASH, data)
    out = tmp_path / "out.parquet"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "spectral_fast", "profile", str(folder), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = {r["id"]: r for r in pl.read_parquet(out).iter_rows(named=True)}
    assert set(rows) == {"normal.png", r"caf\xe9.png", r"a\\b\xff.png"}
    features = [c for c in rows["normal.png"] if c.startswith("band_")] + ["mean", "std", "height", "width"]
    for id_, row in rows.items():
        assert row["status"] == "ok", (id_, row["error"])
        assert [row[c] for c in features] == [rows["normal.png"][c] for c in features]
        # the id leads back to the very file
        with open(os.path.join(os.fsencode(folder), id_to_fspath(id_)), "rb") as fh:
            assert fh.read() == data
    shutil.rmtree(folder)


def test_fast_ids_equal_the_pathlib_ids_inside_and_outside_the_root():
    """``_relative_ids`` cuts strings where it can; every id must be the one ``pathlib`` gives."""
    from spectral_fast.ingest.sources import _relative_id, _relative_ids

    latin1 = os.fsdecode(b"/data/caf\xe9.png")
    for root in [Path("/data/lists"), Path("/data"), Path("/")]:
        paths = [
            "/data/lists/a.png",
            "/data/lists/sub/b.png",
            "/data/listsx/c.png",  # a sibling whose name starts like the root
            "/data/lists",  # the root itself
            "/elsewhere/d.png",
            "/elsewhere//e.png",
            "/elsewhere/./f.png",
            "//net/g.png",
            latin1,
        ]
        assert _relative_ids(paths, root) == [_relative_id(p, root) for p in paths], root


def test_listed_paths_are_their_abspath(tmp_path):
    """Absolute normal lines of a list are taken as they are; every other line still goes through abspath."""
    from spectral_fast.ingest.sources import _path_list

    lines = ["rel/a.png", "/abs/b.png", "/abs/../c.png", "/abs//d.png", "/abs/./e.png", "//net/f.png", "/abs/g/", "./h"]
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(lines) + "\n")
    assert _path_list(str(listing)).paths == [os.path.abspath(os.path.join(tmp_path, line)) for line in lines]
