"""ProfileOptions through the archive path: the journal keeps the option dict
that runs wrote before ProfileOptions existed (so their partial runs resume),
and process_batch takes the object or the keywords alike."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import archive_samples as S
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.ingest.batch import DEFAULT_MAX_PIXELS, checked_options, process_batch
from spectral_fast.ingest.journal import Journal
from spectral_fast.ingest.local import profile_archive, run_options
from spectral_fast.profiling import ProfileOptions

#: What profile_archive(..., bands=16, window="none") recorded before ProfileOptions, keys in this order.
LEGACY = {
    "size": None,
    "bands": 16,
    "spacing": "log",
    "window": "none",
    "artefacts": True,
    "max_pixels": DEFAULT_MAX_PIXELS,
}


@pytest.fixture
def listing(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(5):
        (folder / f"img{k}.png").write_bytes(S.png(S.phantom(40 + 2 * k, 48, seed=k)))
    return folder


def _batch(folder, names):
    return pa.record_batch(
        {"id": pa.array(names, pa.string()), "bytes": pa.array([(folder / n).read_bytes() for n in names], pa.binary())}
    )


def test_checked_options_records_the_old_dict_exactly():
    options, schema = checked_options(ProfileOptions(bands=16, window="none", threads=3), max_pixels=DEFAULT_MAX_PIXELS)
    assert json.dumps(options) == json.dumps(LEGACY)  # same keys, same order, same values; no threads
    assert [c for c in schema.names if c.startswith("band_")] == [f"band_{i:02d}" for i in range(16)]


def test_a_run_records_the_old_dict(listing, tmp_path):
    out = tmp_path / "p.parquet"
    profile_archive(listing, out, bands=16, window="none", threads=1, progress=False)
    assert json.dumps(run_options(out)["options"]) == json.dumps(LEGACY)


def test_a_partial_run_journalled_with_the_old_dict_resumes(listing, tmp_path):
    # A journal as the code before ProfileOptions left it: the literal dict, two rows done, then killed.
    out = tmp_path / "p.parquet"
    first = sorted(p.name for p in listing.iterdir())[:2]
    journal = Journal(out, LEGACY, resume=False, overwrite=False)
    _, schema = checked_options(ProfileOptions(bands=16, window="none"), max_pixels=DEFAULT_MAX_PIXELS)
    journal.open(schema)
    journal.add(process_batch(_batch(listing, first), bands=16, window="none", threads=1))
    journal.abandon()
    assert json.loads((tmp_path / "p.parquet.parts" / "run.json").read_text())["options"] == LEGACY

    with pytest.raises(InvalidInputError, match="different options"):
        profile_archive(listing, out, resume=True, bands=32, window="none", threads=1, progress=False)
    summary = profile_archive(listing, out, resume=True, bands=16, window="none", threads=1, progress=False)
    assert (summary.skipped, summary.ok) == (2, 3)
    fresh = tmp_path / "fresh.parquet"
    profile_archive(listing, fresh, bands=16, window="none", threads=1, progress=False)
    got, want = pq.read_table(out), pq.read_table(fresh)
    assert got.equals(want) and got.schema.metadata == want.schema.metadata


def test_process_batch_takes_the_object_or_the_keywords(listing):
    batch = _batch(listing, sorted(p.name for p in listing.iterdir()))
    opts = ProfileOptions(bands=8, spacing="linear", window="none", size=32, artefacts=False, threads=1)
    got = process_batch(batch, opts)
    assert got.equals(
        process_batch(batch, size=32, bands=8, spacing="linear", window="none", artefacts=False, threads=1)
    )
    assert got.equals(process_batch(batch, ProfileOptions(), **{k: v for k, v in vars(opts).items()}))
    table = process_batch(pa.Table.from_batches([batch]), opts)  # the table path passes the object on
    assert table.to_batches()[0].equals(got)
    assert np.all(np.array(got.column("status").to_pylist()) == "ok")


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        ({"bands": 0}, InvalidInputError, r"bands must be an integer in \[1, 254\], got 0"),
        ({"spacing": "cubic"}, InvalidInputError, "spacing must be 'log' or 'linear', got 'cubic'"),
        ({"threads": -1}, InvalidInputError, r"threads must be None or an integer in \[1, 1024\], got -1"),
        ({"artefacts": "no"}, InvalidTypeError, "artefacts must be True or False"),
    ],
)
def test_invalid_options_fail_before_any_file_is_touched(listing, tmp_path, overrides, error, match):
    with pytest.raises(error, match=match):
        checked_options(ProfileOptions(**overrides), max_pixels=DEFAULT_MAX_PIXELS)
    with pytest.raises(error, match=match):
        profile_archive(listing, tmp_path / "p.parquet", progress=False, **overrides)
    assert not list(tmp_path.glob("p.parquet*"))


def test_checked_options_refuses_loose_values():
    with pytest.raises(InvalidTypeError, match=r"options must be a spectral_fast\.ProfileOptions"):
        checked_options({"bands": 16}, max_pixels=DEFAULT_MAX_PIXELS)  # type: ignore[arg-type]
