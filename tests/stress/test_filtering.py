"""The core's radial filter against the numpy oracle, and the core's resize of a stack.

Parity target: 1e-9 of the image's range in float64 (measured ~1e-15), for
odd and even sides, one gain curve or one per image, and real chest X-rays;
5e-6 for float32 images, which the core filters in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.stress.filter_oracle import radial_filter as oracle
from spectral_fast.stress.filtering import radial_filter, resize_images

TOL = 1e-9


def _relative_error(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.ptp(x), 1e-300))


@st.composite
def filter_case(draw):
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(2, 40)), draw(st.integers(2, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    m = draw(st.integers(1, 6))
    per_image = draw(st.booleans())
    rng = np.random.default_rng(seed)
    images = rng.normal(100, 30, size=(n, h, w)) * draw(st.sampled_from([1e-3, 1.0, 1e4]))
    radii = np.sort(rng.choice(np.linspace(0, 0.8, 200), size=m, replace=False))
    gains = rng.uniform(0.05, 8.0, size=(n, m) if per_image else (m,))
    return images, radii, gains


@settings(max_examples=80, deadline=None)
@given(filter_case())
def test_core_matches_the_oracle_for_any_size_and_gain_shape(case):
    images, radii, gains = case
    got = radial_filter(images, radii, gains, threads=2)
    assert got.dtype == np.float64 and got.shape == images.shape
    assert _relative_error(got, oracle(images, radii, gains), images) < TOL


def test_float32_is_filtered_in_float32_within_its_rounding_and_a_single_image_works():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, size=(4, 31, 24)).astype(np.float32)
    radii, gains = np.array([0.05, 0.2, 0.45]), np.array([1.5, 0.5, 2.0])
    got = radial_filter(x, radii, gains)
    assert got.dtype == np.float32
    assert _relative_error(got.astype(np.float64), oracle(x, radii, gains), x) < 5e-6
    one = radial_filter(x[2].astype(np.float64), radii, gains)
    assert one.shape == (31, 24)
    assert _relative_error(one, oracle(x[2], radii, gains), x[2]) < TOL


def test_thread_counts_give_identical_results_and_the_mean_is_kept():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 20, 17))
    gains = rng.uniform(0.2, 4, size=(7, 3))
    one = radial_filter(x, [0.1, 0.2, 0.4], gains, threads=1)
    np.testing.assert_array_equal(one, radial_filter(x, [0.1, 0.2, 0.4], gains, threads=3))
    np.testing.assert_allclose(one.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-12)


def test_empty_stack_gives_an_empty_result():
    assert radial_filter(np.zeros((0, 8, 8)), [0.1], [1.0]).shape == (0, 8, 8)


@pytest.mark.parametrize(
    ("images", "radii", "gains", "match"),
    [
        (np.zeros((2, 1, 8)), [0.1], [1.0], "sides >= 2"),
        (np.zeros((2, 2, 8, 8)), [0.1], [1.0], "images"),
        (np.zeros((2, 8, 8)), [0.2, 0.1], [1.0, 1.0], "strictly increasing"),
        (np.zeros((2, 8, 8)), [], [], "radii"),
        (np.zeros((2, 8, 8)), [[0.1]], [1.0], "radii"),
        (np.zeros((2, 8, 8)), [0.1, np.nan], [1.0, 1.0], "radii"),
        (np.zeros((2, 8, 8)), [0.1, 0.2], [1.0, 0.0], "gains"),
        (np.zeros((2, 8, 8)), [0.1, 0.2], [1.0], "gains"),
        (np.zeros((2, 8, 8)), [0.1, 0.2], np.ones((3, 2)), "gains"),
        (np.zeros((2, 8, 8)), [0.1], [np.inf], "gains"),
    ],
)
def test_bad_arguments_raise_the_oracles_errors(images, radii, gains, match):
    with pytest.raises(InvalidInputError, match=match):
        oracle(images, radii, gains)
    with pytest.raises(InvalidInputError, match=match):
        radial_filter(images, radii, gains)


def test_non_numeric_images_and_bad_threads_are_clear_errors():
    with pytest.raises(InvalidInputError, match="real numbers"):
        radial_filter(np.array([["a", "b"], ["c", "d"]]), [0.1], [1.0])
    with pytest.raises(InvalidInputError, match="threads"):
        radial_filter(np.zeros((1, 4, 4)), [0.1], [1.0], threads=0)
    with pytest.raises(InvalidTypeError, match="threads"):
        radial_filter(np.zeros((1, 4, 4)), [0.1], [1.0], threads=1.5)


@pytest.mark.real_data
def test_core_matches_the_oracle_on_real_chest_xrays(cxr_real_dir):
    from PIL import Image

    paths = sorted((cxr_real_dir / "images").glob("*.png"))[:4]
    rng = np.random.default_rng(5)
    radii = np.geomspace(0.004, 0.5, 12)
    for path in paths:
        x = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
        crop = x[: x.shape[0] - 1, : x.shape[1] - 3]  # odd sides as well as the file's own
        for img in (x, crop):
            gains = rng.uniform(0.25, 4.0, size=(1, radii.size))
            got = radial_filter(img[None], radii, gains)
            assert _relative_error(got, oracle(img[None], radii, gains), img) < TOL


def test_resize_averages_when_shrinking_and_keeps_dtype():
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    got = resize_images(x, (2, 3))
    assert got.dtype == np.float32 and got.shape == (2, 2, 3)
    np.testing.assert_allclose(got, x.reshape(2, 2, 2, 3, 2).mean(axis=(2, 4)))
    np.testing.assert_array_equal(resize_images(x.astype(np.float64), (4, 6)), x)
    up = resize_images(np.array([[0.0, 1.0], [2.0, 3.0]]), (4, 4))
    assert up.shape == (4, 4) and up[0, 0] == 0.0 and up[-1, -1] == 3.0


def test_resize_rejects_bad_sizes():
    with pytest.raises(InvalidInputError, match="height"):
        resize_images(np.zeros((1, 4, 4)), (-1, 3))
    with pytest.raises(InvalidInputError, match="size"):
        resize_images(np.zeros((1, 4, 4)), (0, 3))
    with pytest.raises(InvalidInputError, match="images"):
        resize_images(np.zeros(4), (2, 2))
