"""The public API: the frame's columns, every input form giving the same rows,
feature_matrix, band_edges, GIL release and fork safety."""

from __future__ import annotations

import multiprocessing
import os
import threading

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

import spectral_fast as sf
from spectral_fast.profiling import artefacts_oracle as artefacts
from spectral_fast.profiling import oracle as ref

RNG = np.random.default_rng(42)
IMGS = [RNG.integers(0, 4096, size=(24 + 3 * k, 30 - k), dtype=np.uint16) for k in range(5)]


def test_columns_dtypes_and_order():
    df = sf.profile(IMGS[0])
    bands = [f"band_{i:02d}" for i in range(32)]
    scalars = list(ref.SCALAR_NAMES) + list(artefacts.ALL_NAMES)
    assert df.columns == bands + scalars + ["height", "width", "status", "error"]
    assert all(df.schema[c] == pl.Float64 for c in bands + scalars)
    assert df.schema["height"] == df.schema["width"] == pl.Int64
    assert df.schema["status"] == df.schema["error"] == pl.String
    assert sf.profile(IMGS[0], bands=1).columns[:2] == ["band_00", "low"]
    wide = sf.profile(IMGS[0], bands=128).columns
    assert wide[0] == "band_000" and wide[127] == "band_127"


def test_every_input_form_gives_the_same_rows():
    stack = np.stack([IMGS[0], IMGS[0] * 2, IMGS[0] + 5])
    expected = sf.profile(list(stack))
    assert sf.profile(stack).equals(expected)
    assert sf.profile(tuple(stack)).equals(expected)
    assert sf.profile(stack[0]).equals(expected[:1])

    rgb = RNG.integers(0, 255, size=(3, 20, 22, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((3, 20, 22, 1), 255, np.uint8)], axis=3)
    colour = sf.profile(list(rgb))
    assert sf.profile(rgb).equals(colour)
    assert sf.profile(rgba).equals(colour)  # alpha is ignored
    assert sf.profile(rgb[1]).equals(colour[1:2])


def _arrow_table(images, list_type):
    pixels = pa.array([im.ravel() for im in images], type=list_type)
    return pa.table(
        {
            "id": list(range(len(images))),
            "pixels": pixels,
            "height": pa.array([im.shape[0] for im in images], pa.int32()),
            "width": pa.array([im.shape[1] for im in images], pa.uint16()),
        }
    )


@pytest.mark.parametrize("list_type", [pa.list_(pa.uint16()), pa.large_list(pa.uint16())])
def test_arrow_tables_batches_and_polars_frames_match_numpy(list_type):
    expected = sf.profile(IMGS)
    table = _arrow_table(IMGS, list_type)
    assert sf.profile(table).equals(expected)
    # Several record batches, and a sliced table (non-zero offsets).
    chunked = pa.concat_tables([table.slice(0, 2), table.slice(2)])
    assert chunked.column("pixels").num_chunks == 2
    assert sf.profile(chunked).equals(expected)
    assert sf.profile(table.slice(1, 3)).equals(expected[1:4])
    # A record batch and a struct array come through __arrow_c_array__.
    batch = table.to_batches()[0]
    assert sf.profile(batch).equals(expected)
    assert sf.profile(pa.StructArray.from_arrays(batch.columns, names=batch.schema.names)).equals(expected)
    # polars exports its frames through the PyCapsule stream interface.
    assert sf.profile(pl.from_arrow(table)).equals(expected)


def test_fixed_size_lists_colour_and_float_pixels_in_arrow():
    same = [RNG.normal(size=(16, 16, 3)).astype(np.float32) for _ in range(3)]
    pixels = pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate([im.ravel() for im in same])), 16 * 16 * 3)
    table = pa.table({"pixels": pixels, "height": [16] * 3, "width": [16] * 3})
    assert sf.profile(table).equals(sf.profile(same))
    # Without a 'pixels' column, the only list column is taken.
    renamed = table.rename_columns(["img", "height", "width"])
    assert sf.profile(renamed).equals(sf.profile(same))


def test_feature_matrix_keeps_ok_rows_in_order():
    images = [IMGS[0], np.zeros((16, 16), np.uint8), IMGS[1]]
    df = sf.profile(images, bands=8)
    x = sf.feature_matrix(df)
    assert x.shape == (2, 8) and x.dtype == np.float64 and x.flags.c_contiguous
    np.testing.assert_array_equal(x[1], df.select(pl.col("^band_.*$")).row(2))
    with_low = sf.feature_matrix(df, include_low=True)
    assert with_low.shape == (2, 9)
    np.testing.assert_array_equal(with_low[:, 0], [df["low"][0], df["low"][2]])
    np.testing.assert_array_equal(with_low[:, 1:], x)
    with pytest.raises(sf.InvalidTypeError, match="df"):
        sf.feature_matrix(x)  # type: ignore[arg-type]
    with pytest.raises(sf.InvalidInputError, match="df"):
        sf.feature_matrix(df.select("status"))


def test_band_edges_defaults():
    e = sf.band_edges(512, 256)
    assert e.shape == (33,) and e[0] == 1 / 256 and e[-1] == 0.5
    np.testing.assert_array_equal(e, ref.band_edges(512, 256))


def test_the_gil_is_released_while_the_core_runs():
    # While a background thread profiles a large serial batch, this thread must
    # get to run Python code: it records whether the worker was still busy.
    images = np.random.default_rng(0).integers(0, 255, size=(48, 384, 384), dtype=np.uint8)
    done = threading.Event()

    def work():
        sf.profile(images, threads=1)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    seen_running = 0
    while not done.is_set():
        seen_running += 1
        done.wait(0.001)
    worker.join()
    # With the GIL held for the whole call this loop could not run before it ended.
    assert seen_running > 1


def _child_profiles(queue):
    try:
        df = sf.profile(IMGS, threads=2)
        queue.put(df["status"].to_list())
    except BaseException as exc:  # report, do not hang the parent
        queue.put(repr(exc))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_can_profile_in_parallel():
    sf.profile(IMGS, threads=2)  # the parent's pool exists before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_profiles, args=(queue,))
    child.start()
    # The timeout only turns a deadlock into a failure; it is not a speed bound.
    child.join(timeout=600)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the forked child hung (rayon pool inherited from the parent?)"
    assert queue.get(timeout=10) == ["ok"] * len(IMGS)
