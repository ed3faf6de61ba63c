"""ProfileOptions into the core: every field reaches it, the keyword form still
works, and what is not a ProfileOptions is refused clearly.

Tolerance against the oracle: ``conftest.RTOL`` / ``ATOL``, as in test_parity.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

import spectral_fast as sf
from spectral_fast import _core
from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.profiling import ProfileOptions
from spectral_fast.profiling.artefacts_oracle import ALL_NAMES as ARTEFACT_NAMES

RNG = np.random.default_rng(15)
IMG = RNG.integers(0, 4096, size=(80, 96), dtype=np.uint16)
ALL_SET = ProfileOptions(bands=8, spacing="linear", window="none", size=64, artefacts=False, threads=1)


def test_every_field_reaches_the_core_and_matches_the_oracle(assert_matches_reference):
    df = sf.profile(IMG, ALL_SET)
    # bands, size: 8 band columns of the 64 x 64 resize; artefacts=False: no artefact columns.
    assert [c for c in df.columns if c.startswith("band_")] == [f"band_{i:02d}" for i in range(8)]
    assert not set(ARTEFACT_NAMES) & set(df.columns)
    # spacing, window (and size, bands) through the numbers.
    assert_matches_reference(df, 0, IMG, size=64, bands=8, spacing="linear", window="none")
    # The old keyword call gives the same frame, bit for bit.
    old = sf.profile(IMG, size=64, bands=8, spacing="linear", window="none", artefacts=False, threads=1)
    assert df.equals(old)


@pytest.mark.parametrize(
    "field, value",
    [("size", None), ("bands", 32), ("spacing", "log"), ("window", "hann"), ("artefacts", True), ("threads", 2)],
)
def test_each_field_on_its_own_changes_what_the_keyword_changes(field, value):
    opts = dataclasses.replace(ALL_SET, **{field: value})
    assert sf.profile(IMG, opts).equals(sf.profile(IMG, **dataclasses.asdict(opts)))
    # A keyword overrides the options object.
    assert sf.profile(IMG, ALL_SET, **{field: value}).equals(sf.profile(IMG, opts))


def test_threads_is_read_from_the_object():
    with pytest.raises(InvalidInputError, match=r"threads must be None or an integer in \[1, 1024\], got -1"):
        sf.profile(IMG, ProfileOptions(threads=-1))


def test_arrow_input_reads_the_object_too():
    table = pa.table({"pixels": [IMG.ravel()], "height": [80], "width": [96]})
    assert sf.profile(table, ALL_SET).equals(sf.profile(IMG, ALL_SET))


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        ({"bands": 0}, InvalidInputError, r"bands must be an integer in \[1, 254\], got 0"),
        ({"size": 7}, InvalidInputError, "size must be None or an integer"),
        ({"spacing": "cubic"}, InvalidInputError, "spacing must be 'log' or 'linear', got 'cubic'"),
        ({"window": "hamming"}, InvalidInputError, "window must be 'hann' or 'none', got 'hamming'"),
        ({"threads": 0}, InvalidInputError, "threads must be None or an integer"),
        ({"bands": 8.0}, InvalidTypeError, "bands must be an integer, got float"),
        ({"spacing": 1}, InvalidTypeError, "spacing must be a string, got int"),
        ({"artefacts": "no"}, InvalidTypeError, "artefacts must be True or False, got str"),
    ],
)
def test_invalid_values_in_the_object_raise_as_the_keywords_do(overrides, error, match):
    with pytest.raises(error, match=match):
        sf.profile(IMG, ProfileOptions(**overrides))
    with pytest.raises(error, match=match):
        sf.profile(IMG, **overrides)


@pytest.mark.parametrize("bad", [{"bands": 8}, 8, "log", object()])
def test_an_object_that_is_not_profile_options_is_refused(bad):
    with pytest.raises(InvalidTypeError, match=r"options must be a spectral_fast\.ProfileOptions"):
        sf.profile(IMG, bad)
    with pytest.raises(InvalidTypeError, match=r"options must be a spectral_fast\.ProfileOptions"):
        sf.process_batch(pa.record_batch({"id": pa.array([], pa.string()), "bytes": pa.array([], pa.binary())}), bad)


def test_the_core_itself_names_a_missing_attribute():
    with pytest.raises(InvalidTypeError, match=r"options must be a spectral_fast\.ProfileOptions, got dict"):
        _core.profile_numpy([IMG], stacked=False, options={"bands": 8})  # type: ignore[arg-type]


def test_an_unknown_keyword_is_still_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword argument 'band'"):
        sf.profile(IMG, band=8)
