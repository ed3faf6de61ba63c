"""Archive runs: inputs (folders, lists, globs, Parquet, IPC, in-memory tables), ids,
filters, hostile file systems (symlink loops, FIFOs, unreadable files), the
output file and its metadata, and the guards around an existing output."""

from __future__ import annotations

import os
import threading

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

from helpers import archive_samples as S
from spectral_fast import __version__
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.ingest.batch import process_batch
from spectral_fast.ingest.journal import Journal
from spectral_fast.ingest.local import profile_archive, run_options


@pytest.fixture
def tree(tmp_path):
    """A small archive: nested folders, a non-image, a 16-bit PNG and a DICOM."""
    root = tmp_path / "archive"
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()
    files = {
        "a/one.png": S.png(S.phantom(40, 48, seed=1)),
        "a/b/two.png": S.png16(S.phantom(36, 40, maximum=65535, dtype=np.uint16, seed=2)),
        "c/three.dcm": S.dicom(S.phantom(32, 32, maximum=4095, dtype=np.uint16, seed=3), bits_stored=12),
        "c/notes.txt": b"not an image",
        "top.jpg": S.jpeg(S.phantom(48, 32, seed=4)),
    }
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return root


def read(path) -> pl.DataFrame:
    return pl.read_parquet(path)


def test_directory_run_ids_order_metadata(tree, tmp_path):
    out = tmp_path / "p.parquet"
    summary = profile_archive(tree, out, threads=2, batch_size=2)
    df = read(out)
    assert df["id"].to_list() == ["a/b/two.png", "a/one.png", "c/notes.txt", "c/three.dcm", "top.jpg"]
    assert summary.ok == 4 and summary.errors == 1 and summary.error_kinds == {"not_an_image": 1}
    assert df.filter(pl.col("id") == "c/three.dcm")["bit_depth"][0] == 12
    assert df.columns[:2] == ["id", "band_00"]
    assert {"format", "bit_depth", "pixel_spacing_mm", "bytes", "status", "error", "error_kind"} <= set(df.columns)
    meta = run_options(out)
    assert meta == {
        "version": __version__,
        "options": {
            "size": None,
            "bands": 32,
            "spacing": "log",
            "window": "hann",
            "artefacts": True,
            # Derived from the default memory budget (at most 100 M pixels).
            "max_pixels": summary.memory.max_pixels,
        },
    }
    assert 4096 * 4096 <= summary.memory.max_pixels <= 100_000_000
    # Nothing but the output is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "p.parquet"]
    line = summary.line()
    assert "4 profiled, 1 errors (1 not_an_image)" in line and "images/s" in line


def test_output_keeps_dictionaries_for_text_columns_only(tree, tmp_path):
    """Feature values rarely repeat: building dictionaries for them doubled the output's write cost."""
    out = tmp_path / "p.parquet"
    profile_archive(tree, out, threads=1)
    group = pq.ParquetFile(out).metadata.row_group(0)
    dictionary = {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).dictionary_page_offset is not None
    }
    assert {"id", "status", "format"} <= dictionary
    assert not dictionary & {"band_00", "slope", "mean", "peak_max", "height", "bytes"}


def test_rows_equal_process_batch_on_bytes(tree, tmp_path):
    out = tmp_path / "p.parquet"
    profile_archive(tree, out, threads=1, bands=8)
    ids = read(out)["id"].to_list()
    direct = process_batch(S.bytes_batch({i: (tree / i).read_bytes() for i in ids}), threads=2, bands=8)
    assert pa.Table.from_batches([direct]).equals(pq.read_table(out).replace_schema_metadata(None))


def test_include_exclude_and_list_and_glob_inputs(tree, tmp_path):
    out = tmp_path / "inc.parquet"
    profile_archive(tree, out, include=["*.png", "*.dcm"], exclude=["a/b/*"])
    assert read(out)["id"].to_list() == ["a/one.png", "c/three.dcm"]

    listing = tree / "list.txt"
    listing.write_text("# chosen files\na/one.png\n\n" + str(tree / "top.jpg") + "\n")
    out = tmp_path / "list.parquet"
    profile_archive(listing, out)
    assert read(out)["id"].to_list() == ["a/one.png", "top.jpg"]

    out = tmp_path / "glob.parquet"
    profile_archive(str(tree / "**" / "*.png"), out)
    assert read(out)["id"].to_list() == ["a/b/two.png", "a/one.png"]


def test_several_inputs_share_their_common_root(tree, tmp_path):
    out = tmp_path / "multi.parquet"
    profile_archive([tree / "a", tree / "c" / "three.dcm"], out)
    assert read(out)["id"].to_list() == ["a/b/two.png", "a/one.png", "c/three.dcm"]


def test_duplicate_ids_are_refused(tree, tmp_path):
    listing = tree / "twice.txt"
    listing.write_text("a/one.png\na/one.png\n")
    with pytest.raises(InvalidInputError, match="more than once"):
        profile_archive(listing, tmp_path / "x.parquet")
    table = pa.table({"id": ["a/one.png"], "bytes": [b"x"]})
    with pytest.raises(InvalidInputError, match="same id 'a/one.png'"):
        profile_archive([tree, table], tmp_path / "x.parquet")


def test_parquet_ipc_and_in_memory_tables(tree, tmp_path):
    names = ["a/one.png", "c/three.dcm", "c/notes.txt"]
    blobs = [(tree / n).read_bytes() for n in names]
    table = pa.table({"key": names, "image": blobs, "label": [1, 0, 1]})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=2)
    with pa.ipc.new_file(tmp_path / "in.arrow", table.schema) as w:
        w.write_table(table, max_chunksize=1)
    outs = []
    for i, src in enumerate([tmp_path / "in.parquet", tmp_path / "in.arrow", table, pl.from_arrow(table)]):
        out = tmp_path / f"t{i}.parquet"
        profile_archive(src, out, id_column="key", batch_size=2)
        outs.append(pq.read_table(out).replace_schema_metadata(None))
    assert outs[0]["id"].to_pylist() == names
    assert all(o.equals(outs[0]) for o in outs[1:])
    # Defaults: "id"/"path" and "bytes"/the only binary column.
    plain = pa.table({"path": names, "data": blobs})
    profile_archive(plain, tmp_path / "plain.parquet")
    assert read(tmp_path / "plain.parquet")["id"].to_list() == names
    with pytest.raises(InvalidInputError, match="no 'id' or 'path' column"):
        profile_archive(pa.table({"name": names, "data": blobs}), tmp_path / "bad.parquet")


def test_process_batch_accepts_polars_views_and_is_pure():
    items = {"a": S.png(S.phantom(32, 32)), "b": b"junk"}
    batch = S.bytes_batch(items)
    views = pl.DataFrame({"id": list(items), "bytes": list(items.values())}).to_arrow().to_batches()[0]
    assert pa.types.is_binary_view(views.schema.field("bytes").type) or pa.types.is_large_binary(
        views.schema.field("bytes").type
    )
    first = process_batch(batch, threads=2)
    assert process_batch(batch, threads=1).equals(first)
    assert process_batch(views, threads=2).equals(first)
    # Tables (Ray Data's pyarrow batches, polars frames) give a table back.
    as_table = process_batch(pa.Table.from_batches([batch, batch]), threads=2)
    assert isinstance(as_table, pa.Table) and as_table.num_rows == 4
    assert as_table.to_batches()[1].equals(first)
    assert process_batch(pl.from_arrow(pa.Table.from_batches([batch])), threads=2).to_batches()[0].equals(first)
    with pytest.raises(InvalidInputError, match="'bytes'"):
        process_batch(pa.record_batch({"id": ["a"]}))
    with pytest.raises(InvalidInputError, match="bands"):
        process_batch(batch, bands=0)
    with pytest.raises(InvalidTypeError):
        process_batch({"id": ["a"]})


def test_symlink_loops_fifos_and_unreadable_files(tmp_path):
    root = tmp_path / "hostile"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.png").write_bytes(S.png(S.phantom(32, 32)))
    os.symlink("..", root / "sub" / "up")  # a folder loop: walked once, never forever
    os.symlink("self.png", root / "self.png")  # a file symlink loop
    os.symlink("gone.png", root / "broken.png")
    os.mkfifo(root / "pipe.png")  # opening it would block: must be reported, not read
    os.symlink("/proc/self/mem", root / "mem.png")  # regular file that fails to read (EIO), even for root
    locked = root / "locked.png"
    locked.write_bytes(S.png(S.phantom(32, 32)))
    locked.chmod(0)
    out = tmp_path / "h.parquet"
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("s", profile_archive(root, out, threads=2)))
    worker.start()
    worker.join(timeout=120)  # a hang would be a FIFO opened or a loop followed
    assert not worker.is_alive(), "profile_archive hung on a FIFO or symlink loop"
    rows = {r["id"]: r for r in read(out).iter_rows(named=True)}
    assert set(rows) == {"broken.png", "locked.png", "mem.png", "pipe.png", "self.png", "sub/ok.png"}
    assert rows["sub/ok.png"]["status"] == "ok"
    for name in ("broken.png", "self.png", "pipe.png", "mem.png"):
        assert rows[name]["status"] == "error" and rows[name]["error_kind"] == "unreadable", name
    assert "symbolic links" in rows["self.png"]["error"]
    assert "No such file" in rows["broken.png"]["error"]
    assert "not a regular file" in rows["pipe.png"]["error"]
    if os.geteuid() != 0:  # root reads mode-000 files
        assert rows["locked.png"]["error_kind"] == "unreadable" and "Permission denied" in rows["locked.png"]["error"]


@pytest.mark.parametrize("how", ["list", "glob", "file"])
def test_a_listed_or_globbed_fifo_is_an_error_row_not_a_hang(tmp_path, how):
    """The core refuses to open a FIFO named in a list, a glob or an argument (no ``stat`` on the Python side)."""
    root = tmp_path / "in"
    root.mkdir()
    (root / "ok.png").write_bytes(S.png(S.phantom(32, 32)))
    os.mkfifo(root / "pipe.png")
    listing = tmp_path / "files.txt"
    listing.write_text(f"{root / 'ok.png'}\n{root / 'pipe.png'}\n")
    inputs = {"list": [listing], "glob": [str(root / "*.png")], "file": [root / "ok.png", root / "pipe.png"]}[how]
    out = tmp_path / "f.parquet"
    done = {}
    worker = threading.Thread(target=lambda: done.setdefault("s", profile_archive(inputs, out, threads=2)))
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "profile_archive hung on a FIFO"
    rows = {r["id"].rsplit("/", 1)[-1]: r for r in read(out).iter_rows(named=True)}
    assert rows["ok.png"]["status"] == "ok"
    assert rows["pipe.png"]["error_kind"] == "unreadable"
    assert rows["pipe.png"]["error"] == "not a regular file (FIFO, socket or device); not read"


def test_existing_output_is_guarded(tree, tmp_path):
    out = tmp_path / "p.parquet"
    profile_archive(tree / "a", out)
    first = pq.read_table(out)
    with pytest.raises(InvalidInputError, match="--resume.*--overwrite"):
        profile_archive(tree / "a", out)
    with pytest.raises(InvalidInputError, match=r"different options \(bands 32 -> 16\)"):
        profile_archive(tree / "a", out, resume=True, bands=16)
    profile_archive(tree, out, overwrite=True, bands=16)
    assert read(out).height == 5 and "band_15" in read(out).columns and "band_16" not in read(out).columns
    profile_archive(tree / "a", out, overwrite=True)
    assert pq.read_table(out).equals(first)


def test_resume_extends_a_finished_output_with_new_files(tree, tmp_path):
    out = tmp_path / "p.parquet"
    s1 = profile_archive(tree, out, include=["*.png"])
    s2 = profile_archive(tree, out, resume=True)
    assert (s1.ok, s2.skipped, s2.ok + s2.errors) == (2, 2, 3)
    assert sorted(read(out)["id"].to_list()) == sorted(
        ["a/b/two.png", "a/one.png", "c/notes.txt", "c/three.dcm", "top.jpg"]
    )


def test_output_inside_the_input_folder_is_not_profiled(tree):
    out = tree / "profiles.parquet"
    profile_archive(tree, out)
    profile_archive(tree, out, resume=True)
    assert "profiles.parquet" not in read(out)["id"].to_list()
    assert read(out).height == 5


def test_a_second_writer_is_locked_out(tree, tmp_path):
    out = tmp_path / "p.parquet"
    holder = Journal(out, {"x": 1}, resume=False, overwrite=False)
    holder._take_lock()
    holder.tmp.write_bytes(b"the other run's output in progress")
    try:
        with pytest.raises(InvalidInputError, match="another spectral-fast run"):
            profile_archive(tree, out)
        assert holder.tmp.exists(), "a refused run must not touch the live run's files"
    finally:
        holder._release()
        holder.tmp.unlink()
    profile_archive(tree, out)


def test_invalid_arguments(tree, tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        profile_archive(tmp_path / "nope", tmp_path / "p.parquet")
    with pytest.raises(InvalidInputError, match="batch_size"):
        profile_archive(tree, tmp_path / "p.parquet", batch_size=0)
    with pytest.raises(InvalidInputError, match="max_pixels"):
        profile_archive(tree, tmp_path / "p.parquet", max_pixels=0)
    with pytest.raises(InvalidInputError, match="output folder"):
        profile_archive(tree, tmp_path / "missing" / "p.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="no file to profile"):
        profile_archive(tmp_path / "empty", tmp_path / "p.parquet")
    assert not (tmp_path / "p.parquet").exists()
