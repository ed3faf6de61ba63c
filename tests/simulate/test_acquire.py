"""Acquisition simulator: each change moves the spectral profile the way its physics says.

Directions are checked on a phantom and on real chest X-rays (512 px centre
crops of images in ``../shared/data/cxr-real``), because a simulator that only
works on its own phantoms would prove nothing about the benchmark. Every
function must also keep dtype, shape and range, be deterministic when seeded,
and reject bad arguments with a message naming the parameter.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.profiling import oracle as reference
from spectral_fast.simulate import acquire
from spectral_fast.simulate import phantom as synth

CROP = 512
#: Real images used: three NIH PNGs (1024 px, one pneumonia) and one MHH (640 px, another site).
REAL_FILES = ("nih__00000710_003.png", "nih__00000772_002.png", "nih__00000773_001.png", "mhh__006f3a8a.png")


def data_dir() -> Path | None:
    """The real-CXR folder: $SPECTRAL_FAST_DATA (the folder or its parent), else ../shared/data/cxr-real."""
    candidates = []
    env = os.environ.get("SPECTRAL_FAST_DATA")
    if env:
        candidates += [Path(env), Path(env) / "cxr-real"]
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cxr-real")
    for folder in candidates:
        if (folder / "images").is_dir():
            return folder
    return None


def centre_crop(img: np.ndarray, side: int = CROP) -> np.ndarray:
    top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
    return np.ascontiguousarray(img[top : top + side, left : left + side])


def load_real(name: str) -> np.ndarray:
    from PIL import Image

    folder = data_dir()
    if folder is None or not (folder / "images" / name).is_file():
        pytest.skip("real CXR data not found (set SPECTRAL_FAST_DATA)")
    with Image.open(folder / "images" / name) as im:
        return centre_crop(np.asarray(im.convert("L")))


IMAGES = ("phantom", *(pytest.param(name, marks=pytest.mark.real_data) for name in REAL_FILES))


@pytest.fixture(scope="module", params=IMAGES)
def base(request) -> np.ndarray:
    if request.param == "phantom":
        return centre_crop(synth.phantom(768, seed=11))
    return load_real(request.param)


def prof(img: np.ndarray) -> reference.Profile:
    return reference.profile_image(img)


def band_centres(n: int = CROP) -> np.ndarray:
    return reference.band_centres(reference.band_edges(n, n, 32, "log"), "log")


def axis_power(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power along the horizontal (ky = 0) and vertical (kx = 0) frequency axes."""
    x = img.astype(np.float64)
    x = x - x.mean()
    x = x * (reference.hann(x.shape[0])[:, None] * reference.hann(x.shape[1])[None, :])
    power = np.abs(np.fft.rfft2(x)) ** 2
    return power[0, :], power[: x.shape[0] // 2 + 1, 0]


def energy_above(img: np.ndarray, cutoff: float) -> float:
    """Share of (windowed, mean-removed) energy at radial frequency above ``cutoff`` cycles/px."""
    x = img.astype(np.float64)
    x = (x - x.mean()) * (reference.hann(x.shape[0])[:, None] * reference.hann(x.shape[1])[None, :])
    power = np.abs(np.fft.rfft2(x)) ** 2
    r, w = reference.radial_frequency(*x.shape)
    return float((w * power)[r > cutoff].sum() / (w * power).sum())


# ------------------------------------------------------------------ directions


def test_blur_lowers_high_band_energy(base):
    before, after = prof(base), prof(acquire.blur(base, 1.5))
    assert after.hf_ratio < 0.5 * before.hf_ratio
    assert (after.bands[-4:] - before.bands[-4:]).mean() < -0.5  # > 3x less in the top bands
    assert abs(after.low - before.low) < 0.05  # coarse anatomy untouched


def test_noise_raises_high_band_energy(base):
    before, after = prof(base), prof(acquire.noise(base, 6.0, rng=1))
    assert after.hf_ratio > 1.5 * before.hf_ratio
    assert (after.bands[-4:] - before.bands[-4:]).min() > 0.2
    assert abs(after.mean - before.mean) < 1.0  # zero-mean noise


def test_sharpen_raises_high_mid_bands_not_low(base):
    before, after = prof(base), prof(acquire.sharpen(base, 1.0, radius=2.0))
    c = band_centres()
    high_mid = (c > 0.08) & (c < 0.3)
    assert (after.bands - before.bands)[high_mid].min() > 0.1
    assert abs(after.low - before.low) < 0.05


@pytest.mark.parametrize("factor", [2.0, 4.0])
def test_resample_removes_energy_above_new_nyquist(base, factor):
    nyquist = 0.5 / factor
    before = energy_above(base, nyquist)
    after = energy_above(acquire.resample(base, factor), nyquist)
    assert after < 0.25 * before


@pytest.mark.parametrize(("period", "angle"), [(3.3, 0.0), (3.3, 90.0), (5.0, 0.0), (1.5, 0.0)])
def test_grid_adds_a_peak_at_the_grid_frequency(base, period, angle):
    out = acquire.grid(base, period, amplitude=0.2, angle=angle)
    f = 1.0 / period
    alias = abs(f - round(f))  # a period under 2 px folds back below Nyquist
    # The radial band holding the (aliased) frequency gains energy.
    edges = reference.band_edges(CROP, CROP, 32, "log")
    band = int(np.searchsorted(edges, alias, side="right")) - 1
    assert prof(out).bands[band] - prof(base).bands[band] > 0.3
    # And the 2-D spectrum has a peak on the axis across which the lines repeat:
    # a local maximum at the (aliased) fundamental, among the strongest above
    # the anatomy's low frequencies. (Narrow strips have strong harmonics, whose
    # aliases can match the fundamental: at period 5 the third folds onto the second.)
    horizontal, vertical = axis_power(out)
    axis = horizontal if angle == 0.0 else vertical
    local = np.convolve(axis, np.ones(5), mode="same")  # a frequency between bins leaks into both
    k = int(round(alias * CROP))
    lo = int(0.05 * CROP)
    assert local[k] >= local[k - 4 : k + 5].max() * 0.999
    assert local[k] >= 0.5 * local[lo:].max()
    before = np.convolve(axis_power(base)[0 if angle == 0.0 else 1], np.ones(5), mode="same")
    assert local[k] > 100 * before[k]


def _block_periodicity(img: np.ndarray) -> float:
    """Power at k/8 cycle/px (k = 1..3) of the mean gradient magnitude along each axis, over its median.

    Each 8x8 block is coded on its own, so the steps at block boundaries have
    random signs from block to block and largely cancel in the linear 2-D
    spectrum; their magnitudes do not. Averaging |difference| along rows
    (columns) gives a 1-D signal that is periodic with 8 px after JPEG coding,
    i.e. energy at multiples of 1/8 cycle/px on the horizontal (vertical)
    frequency axis. The standard blockiness detector of image forensics.
    """
    x = img.astype(np.float64)
    ratios = []
    for axis in (0, 1):
        g = np.abs(np.diff(x, axis=axis)).mean(axis=axis)
        g = g[: len(g) // 8 * 8]  # whole blocks, so k/8 falls on a bin
        power = np.abs(np.fft.rfft(g - g.mean())) ** 2
        ratios.append(np.mean([power[k * len(g) // 8] for k in (1, 2, 3)]) / np.median(power[1:]))
    return float(min(ratios))


@pytest.mark.parametrize("quality", [30, 75])
def test_jpeg_adds_block_periodicity_and_lowers_high_bands(base, quality):
    out = acquire.jpeg(base, quality)
    assert _block_periodicity(base) < 10.0  # none of the test images carries JPEG blocks
    assert _block_periodicity(out) > 50.0
    assert prof(out).hf_ratio < 0.95 * prof(base).hf_ratio


def test_gamma_changes_mean_and_std(base):
    before = prof(base)
    brighter, darker = prof(acquire.gamma(base, 0.7)), prof(acquire.gamma(base, 1.5))
    assert brighter.mean > before.mean + 5 and darker.mean < before.mean - 5
    # A power law stretches one end of the grey scale and compresses the other:
    # the spread changes, by an amount (and sign) that depends on the histogram.
    assert abs(brighter.std / before.std - 1) > 0.005 and abs(darker.std / before.std - 1) > 0.005


def test_bit_depth_raises_high_frequency_quantisation_noise(base):
    out = acquire.bit_depth(base, 5)
    assert len(np.unique(out)) <= 32
    assert prof(out).hf_ratio > 1.2 * prof(base).hf_ratio
    assert abs(float(out.mean()) - float(base.mean())) < 1.0  # levels sit mid-interval


# ------------------------------------------------------------------ physics of the noise model


def test_noise_sigma_is_grey_levels_at_mid_grey_and_grows_with_brightness():
    img = np.full((256, 512), 0.5)
    img[:, 256:] = 0.9
    img[:, :128] = 0.1
    out = acquire.noise(img, 6.0, rng=0)
    diff = (out - img) * 255.0
    mid, bright, dark = diff[:, 128:256].std(), diff[:, 256:].std(), diff[:, :128].std()
    assert mid == pytest.approx(6.0, rel=0.03)
    ratio = acquire.NOISE_DYNAMIC_RANGE ** (0.4 / 2)  # u = 0.9 vs 0.5
    assert bright / mid == pytest.approx(ratio, rel=0.05)
    assert dark / mid == pytest.approx(1 / ratio, rel=0.05)


@pytest.mark.parametrize("dtype_bits", [(np.uint8, 8), (np.uint16, 12), (np.uint16, 16)])
def test_noise_strength_is_in_8_bit_grey_levels_at_any_depth(dtype_bits):
    dtype, bits = dtype_bits
    top = 2**bits - 1
    img = np.full((256, 256), round(top / 2), dtype=dtype)
    img[0, 0] = top  # marks a 16-bit image as 16-bit (the depth is inferred from the maximum)
    out = acquire.noise(img, 6.0, rng=0).astype(np.float64)
    assert (out - img)[1:, 1:].std() * 255.0 / top == pytest.approx(6.0, rel=0.05)


def test_noise_is_deterministic_with_a_seed():
    img = synth.phantom(256, seed=1)
    a, b = acquire.noise(img, 6.0, rng=5), acquire.noise(img, 6.0, rng=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, acquire.noise(img, 6.0, rng=6))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(acquire.apply(img, "noise", rng=g1), acquire.apply(img, "noise", rng=g2))
    assert np.array_equal(acquire.apply(img, "noise", 6.0, rng=5), a)


def test_grid_keeps_the_mean():
    img = np.linspace(0.2, 0.8, 300 * 200).reshape(300, 200)
    out = acquire.grid(img, 3.3, amplitude=0.3, angle=30.0)
    assert out.mean() == pytest.approx(img.mean(), rel=2e-3)
    assert np.abs(out - img).max() > 0.02


def test_jpeg_of_16_bit_images_goes_through_8_bits():
    img = synth.phantom(256, bits=16, seed=2)
    out = acquire.jpeg(img, 90)
    assert out.dtype == np.uint16
    assert len(np.unique(out)) <= 256
    assert np.abs(out.astype(float) - img).mean() < 0.01 * 65535


def test_resample_keeps_odd_shapes():
    img = synth.phantom((301, 250), seed=3)
    out = acquire.resample(img, 3.0)
    assert out.shape == img.shape
    assert np.abs(out.astype(float) - img).mean() < 10


# ------------------------------------------------------------------ dtype and range


def _inputs() -> dict[str, np.ndarray]:
    img8 = synth.phantom(128, bits=8, seed=4)
    img12 = synth.phantom(128, bits=12, seed=4)
    img16 = synth.phantom(128, bits=16, seed=4)
    return {
        "uint8": img8,
        "uint16-12bit": img12,
        "uint16-16bit": img16,
        "int16-12bit": img12.astype(np.int16),
        "float32": (img8 / 255.0).astype(np.float32),
        "float64": img8 / 255.0,
    }


INPUTS = _inputs()
RANGES = {
    "uint8": (0, 255),
    "uint16-12bit": (0, 4095),
    "uint16-16bit": (0, 65535),
    "int16-12bit": (0, 4095),
    "float32": (0.0, 1.0),
    "float64": (0.0, 1.0),
}
# Strong settings, to provoke overshoot that must be clipped.
STRONG = {
    "blur": 3.0,
    "noise": 40.0,
    "sharpen": 4.0,
    "jpeg": 5,
    "resample": 3.0,
    "grid": 2.5,
    "gamma": 0.4,
    "bit_depth": 3,
}


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("change", acquire.CHANGES)
def test_every_change_keeps_dtype_shape_and_range(change, kind):
    img = INPUTS[kind]
    for strength in (None, STRONG[change]):
        out = acquire.apply(img, change, strength, rng=0)
        assert out.dtype == img.dtype and out.shape == img.shape
        lo, hi = RANGES[kind]
        assert out.min() >= lo and out.max() <= hi
        assert not np.array_equal(out, img), f"{change} did nothing to {kind}"


def test_unclipped_float_images_keep_their_scale():
    img = INPUTS["float64"] * 1000.0 - 200.0  # no [0, 1] convention applies
    out = acquire.gamma(img, 0.7)
    assert out.min() == pytest.approx(img.min()) and out.max() == pytest.approx(img.max())
    sharp = acquire.sharpen(img, 3.0)
    assert sharp.max() > img.max()  # overshoot is not clipped for a float of unknown range


@pytest.mark.parametrize(
    ("change", "neutral"),
    [("blur", 0.0), ("noise", 0.0), ("sharpen", 0.0), ("resample", 1.0), ("gamma", 1.0), ("bit_depth", 8)],
)
def test_neutral_strength_returns_an_equal_copy(change, neutral):
    img = INPUTS["uint8"]
    out = acquire.apply(img, change, neutral, rng=0)
    assert np.array_equal(out, img) and out is not img


def test_public_api_is_complete():
    assert acquire.CHANGES == ("blur", "noise", "sharpen", "jpeg", "resample", "grid", "gamma", "bit_depth")
    assert set(acquire.DEFAULT_STRENGTH) == set(acquire.CHANGES)
    for name in acquire.CHANGES:
        assert callable(getattr(acquire, name))
        assert "Notes" in getattr(acquire, name).__doc__


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda im: acquire.blur(np.zeros((4, 4, 3), np.uint8), 1.0), InvalidInputError, "image"),
        (lambda im: acquire.blur(np.zeros(16, np.uint8), 1.0), InvalidInputError, "image"),
        (lambda im: acquire.blur(im.astype(np.int32), 1.0), InvalidTypeError, "image"),
        (lambda im: acquire.blur(im.tolist(), 1.0), InvalidTypeError, "image"),
        (lambda im: acquire.apply(im, "vignette"), InvalidInputError, "change"),
        (lambda im: acquire.apply(im, "grid", 3.3, radius=2.0), InvalidInputError, "radius"),
        (lambda im: acquire.blur(im, -1.0), InvalidInputError, "sigma"),
        (lambda im: acquire.blur(im, float("nan")), InvalidInputError, "sigma"),
        (lambda im: acquire.blur(im, "wide"), InvalidTypeError, "sigma"),
        (lambda im: acquire.noise(im, -6.0, rng=0), InvalidInputError, "sigma"),
        (lambda im: acquire.noise(im, 6.0, rng="seed"), InvalidTypeError, "rng"),
        (lambda im: acquire.sharpen(im, -1.0), InvalidInputError, "amount"),
        (lambda im: acquire.sharpen(im, 1.0, radius=0.0), InvalidInputError, "radius"),
        (lambda im: acquire.jpeg(im, 0), InvalidInputError, "quality"),
        (lambda im: acquire.jpeg(im, 96), InvalidInputError, "quality"),
        (lambda im: acquire.jpeg(im, 30.5), InvalidInputError, "quality"),
        (lambda im: acquire.resample(im, 0.5), InvalidInputError, "factor"),
        (lambda im: acquire.resample(im, 100.0), InvalidInputError, "factor"),
        (lambda im: acquire.grid(im, 0.0), InvalidInputError, "period"),
        (lambda im: acquire.grid(im, 3.3, amplitude=1.0), InvalidInputError, "amplitude"),
        (lambda im: acquire.gamma(im, 0.0), InvalidInputError, "gamma"),
        (lambda im: acquire.bit_depth(im, 0), InvalidInputError, "bits"),
        (lambda im: acquire.bit_depth(im, 17), InvalidInputError, "bits"),
        (lambda im: acquire.apply(im, "blur", -2.0), InvalidInputError, "sigma"),
        (lambda im: acquire.apply(im, "jpeg", 100), InvalidInputError, "quality"),
    ],
)
def test_bad_input_raises_naming_the_parameter(call, error, name):
    with pytest.raises(error, match=name):
        call(INPUTS["uint8"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda im: acquire.blur(im, float("nan")), "sigma must be a finite number >= 0, got nan"),
        (lambda im: acquire.noise(im, "6", rng=0), "sigma must be a finite number >= 0, got str"),
        (lambda im: acquire.sharpen(im, 1.0, radius=0), "radius must be a finite number > 0, got 0"),
        (lambda im: acquire.jpeg(im, 30.5), "quality must be an integer in [1, 95], got 30.5"),
        (lambda im: acquire.grid(im, 3.3, amplitude=1.0), "amplitude must be a finite number in [0, 1), got 1.0"),
        (lambda im: acquire.grid(im, 3.3, angle=float("inf")), "angle must be a finite number, got inf"),
        (lambda im: acquire.bit_depth(im, True), "bits must be an integer in [1, 16], got bool"),
    ],
)
def test_bad_parameter_message_says_what_is_valid(call, message):
    with pytest.raises((InvalidInputError, InvalidTypeError)) as info:
        call(INPUTS["uint8"])
    assert str(info.value) == message


def test_bounds_are_inclusive_or_open_as_documented():
    img = INPUTS["uint8"]
    for ok in (lambda: acquire.jpeg(img, 1), lambda: acquire.jpeg(img, 95.0), lambda: acquire.bit_depth(img, 16),
               lambda: acquire.grid(img, 3.3, amplitude=0.0), lambda: acquire.resample(img, 1.0)):  # fmt: skip
        assert ok().shape == img.shape
