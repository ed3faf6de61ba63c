"""Bad input: problems of one image give an error row; problems of the call raise the
package's exceptions, naming the parameter; nothing crashes or panics through."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import spectral_fast as sf
from spectral_fast import _core
from spectral_fast.errors import InternalError, InvalidInputError, InvalidTypeError, SpectralFastError
from spectral_fast.profiling import oracle as ref
from spectral_fast.profiling.options import ProfileOptions

GOOD = np.random.default_rng(0).integers(0, 255, size=(32, 40), dtype=np.uint8)


def test_exceptions_are_also_the_builtins_users_catch():
    assert issubclass(InvalidInputError, ValueError) and issubclass(InvalidInputError, SpectralFastError)
    assert issubclass(InvalidTypeError, TypeError) and issubclass(InvalidTypeError, SpectralFastError)
    assert issubclass(InternalError, RuntimeError) and issubclass(InternalError, SpectralFastError)


def test_per_image_problems_give_error_rows_and_the_batch_goes_on(assert_matches_reference):
    nan = GOOD.astype(np.float32)
    nan[3, 4] = np.nan
    inf = GOOD.astype(np.float64)
    inf[0, 0] = -np.inf
    images = [GOOD, nan, inf, np.full((20, 20), 9, np.uint16), np.zeros((7, 50), np.int16), GOOD[:8, :8], GOOD.T]
    df = sf.profile(images, threads=2)
    assert df["status"].to_list() == ["ok", "error", "error", "error", "error", "ok", "ok"]
    assert df["error"][1] == df["error"][2] == "image contains NaN or infinite values"
    assert df["error"][3] == "image has no variation (all pixels equal)"
    assert df["error"][4] == "image is 7x50; both sides must be at least 8 px"
    assert (df["height"][4], df["width"][4]) == (7, 50)
    for i, img in enumerate(images):
        assert_matches_reference(df, i, img)  # same rows and messages as the reference


def test_an_image_with_variation_only_outside_the_crop_has_no_energy():
    img = np.zeros((40, 20), np.uint8)
    img[0, 0] = 1  # outside the centre 20 x 20 crop
    df = sf.profile(img, size=16)
    assert df["status"][0] == "error"
    assert df["error"][0] == "image has no spectral energy after mean removal and windowing"
    with pytest.raises(ref.ImageError, match="no spectral energy"):
        ref.profile_image(img, size=16)


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros(100, np.uint8), "shape"),
        (np.zeros((2, 3, 16, 16, 3), np.uint8), "shape"),
        (np.zeros((2, 16, 16, 5), np.uint8), "shape"),
        ([], "empty"),
        (np.zeros((0, 16, 16), np.uint8), "empty"),
        ([GOOD, np.zeros(64, np.uint8)], r"images\[1\]"),
    ],
)
def test_wrong_dimensions_and_empty_input_raise(images, match):
    with pytest.raises(InvalidInputError, match=match):
        sf.profile(images)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint32, np.float16, np.bool_, np.complex128, object])
def test_unsupported_dtypes_raise_a_type_error_naming_images(dtype):
    with pytest.raises(InvalidTypeError, match=r"images.*dtype"):
        sf.profile(np.ones((16, 16), dtype=dtype))
    with pytest.raises(InvalidTypeError, match=r"images\[1\] dtype"):
        sf.profile([GOOD, np.ones((16, 16), dtype=dtype)])


@pytest.mark.parametrize("images", [None, "image.png", 3, {"pixels": GOOD}])
def test_non_images_raise_a_type_error(images):
    with pytest.raises(InvalidTypeError, match="images"):
        sf.profile(images)


def test_fortran_ordered_and_strided_arrays_are_copied_not_misread():
    x = np.random.default_rng(1).normal(size=(24, 36))
    expected = sf.profile(x)
    for view in (np.asfortranarray(x), np.ascontiguousarray(x[:, ::-1])[:, ::-1], np.repeat(x, 2, axis=1)[:, ::2]):
        assert not view.flags.c_contiguous
        assert sf.profile(view).equals(expected)
    stack = np.stack([x, x * 2])
    assert sf.profile(np.asfortranarray(stack)).equals(sf.profile(stack))
    swapped = x.astype(">f8")  # non-native byte order: swapped explicitly
    assert sf.profile(swapped).equals(expected)


def test_the_core_itself_rejects_non_contiguous_arrays():
    x = np.asfortranarray(np.random.default_rng(1).normal(size=(24, 36)))
    with pytest.raises(InvalidInputError, match="C-contiguous"):
        _core.profile_numpy([x], stacked=False, options=ProfileOptions(threads=1))


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"size": 10**9}, InvalidInputError, "size"),
        ({"size": 10**30}, InvalidInputError, "size"),
        ({"size": 7}, InvalidInputError, "size"),
        ({"size": -64}, InvalidInputError, "size"),
        ({"size": 64.0}, InvalidTypeError, "size"),
        ({"bands": 0}, InvalidInputError, "bands"),
        ({"bands": 1000}, InvalidInputError, "bands"),
        ({"bands": True}, InvalidTypeError, "bands"),
        ({"bands": "32"}, InvalidTypeError, "bands"),
        ({"threads": 0}, InvalidInputError, "threads"),
        ({"threads": -1}, InvalidInputError, "threads"),
        ({"threads": 10**6}, InvalidInputError, "threads"),
        ({"spacing": "Log"}, InvalidInputError, "spacing"),
        ({"spacing": 2}, InvalidTypeError, "spacing"),
        ({"window": "hamming"}, InvalidInputError, "window"),
        ({"window": None}, InvalidTypeError, "window"),
    ],
)
def test_invalid_options_raise_naming_the_parameter(options, error, match):
    with pytest.raises(error, match=match):
        sf.profile(GOOD, **options)
    table = pa.table({"pixels": [GOOD.ravel()], "height": [32], "width": [40]})
    with pytest.raises(error, match=match):
        sf.profile(table, **options)


def test_numpy_integers_are_accepted_as_options():
    a = sf.profile(GOOD, size=np.int64(16), bands=np.uint8(8), threads=np.int32(2))
    assert a.equals(sf.profile(GOOD, size=16, bands=8, threads=2))


def test_a_bad_thread_environment_variable_is_named(monkeypatch):
    for value in ("abc", "0", "-2"):
        monkeypatch.setenv("SPECTRAL_FAST_THREADS", value)
        with pytest.raises(InvalidInputError, match="SPECTRAL_FAST_THREADS"):
            sf.profile(GOOD)
        # An explicit argument wins over the environment.
        assert sf.profile(GOOD, threads=1)["status"][0] == "ok"
    monkeypatch.setenv("SPECTRAL_FAST_THREADS", "3")
    assert _core.resolve_thread_count(None) == 3


def test_band_edges_rejects_bad_arguments():
    with pytest.raises(InvalidInputError, match="height"):
        sf.band_edges(0, 10)
    with pytest.raises(InvalidTypeError, match="width"):
        sf.band_edges(10, 2.5)
    with pytest.raises(InvalidInputError, match="bands"):
        sf.band_edges(10, 10, bands=255)
    with pytest.raises(InvalidInputError, match="spacing"):
        sf.band_edges(10, 10, spacing="geometric")


def _table(pixels, heights, widths, type_=None):
    return pa.table({"pixels": pa.array(pixels, type=type_), "height": heights, "width": widths})


def test_arrow_lengths_that_match_no_shape_raise_naming_the_row():
    good = GOOD.ravel()
    with pytest.raises(InvalidInputError, match="row 1 has 1279 pixel values"):
        sf.profile(_table([good, good[:-1]], [32, 32], [40, 40]))
    with pytest.raises(InvalidInputError, match="row 0"):
        sf.profile(_table([good], [32], [41]))
    with pytest.raises(InvalidInputError, match="negative"):
        sf.profile(_table([good], [-32], [-40]))
    with pytest.raises(InvalidInputError, match="null height"):
        sf.profile(_table([good], pa.array([None], pa.int64()), [40]))


def test_arrow_structure_problems_raise():
    good = GOOD.ravel()
    with pytest.raises(InvalidInputError, match="'pixels', 'height' and 'width'"):
        sf.profile(pa.table({"pixels": [good], "h": [32], "w": [40]}))
    with pytest.raises(InvalidTypeError, match="(?i)int64"):
        sf.profile(_table([good.astype(np.int64)], [32], [40]))
    with pytest.raises(InvalidTypeError, match="height"):
        sf.profile(pa.table({"pixels": [good], "height": [32.0], "width": [40]}))
    with pytest.raises(InvalidTypeError, match="list"):
        sf.profile(pa.table({"pixels": pa.array([b"raw"]), "height": [1], "width": [3]}))
    with pytest.raises(InvalidInputError, match="empty"):
        sf.profile(_table([], pa.array([], pa.int64()), pa.array([], pa.int64()), pa.list_(pa.uint8())))


def test_null_arrow_images_and_null_pixels_give_error_rows():
    good = GOOD.ravel()
    with_null_value = pa.array([list(good[:-1]) + [None]], type=pa.list_(pa.uint8()))
    table = pa.table(
        {
            "pixels": pa.concat_arrays([pa.array([good, None], type=pa.list_(pa.uint8())), with_null_value]),
            "height": pa.array([32, None, 32]),
            "width": pa.array([40, None, 40]),
        }
    )
    df = sf.profile(table)
    assert df["status"].to_list() == ["ok", "error", "error"]
    assert df["error"][1] == "image is missing (its pixels are null)"
    assert df["error"][2] == "image has null pixel values"
    assert df["height"].to_list() == [32, None, 32]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_panic_in_the_core_is_an_internal_error_not_a_panic_exception(threads):
    # _panic_for_tests panics inside a pool worker (or the calling thread),
    # through the same run helper as every heavy call.
    with pytest.raises(InternalError, match="deliberate panic"):
        _core._panic_for_tests(threads)
    # The pool survives and the next call works.
    assert sf.profile(GOOD, threads=threads)["status"][0] == "ok"
