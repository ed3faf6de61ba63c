"""Synthetic phantoms: deterministic, right dtype and range, chest-like, and a finding that is local.

The benchmark and the demo trust these images: if two seeds gave the same
picture, a finding leaked into the whole image or a global statistic gave
the label away, their results would mean nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from spectral_fast.errors import InvalidInputError, InvalidTypeError
from spectral_fast.simulate import anatomy as anat
from spectral_fast.simulate import bones
from spectral_fast.simulate import phantom as synth


def test_same_seed_same_image_different_seed_different_image():
    a = synth.phantom(256, seed=5)
    assert np.array_equal(a, synth.phantom(256, seed=5))
    b = synth.phantom(256, seed=6)
    assert np.abs(a.astype(int) - b).mean() > 5  # a different patient, not just different noise


@pytest.mark.parametrize(("bits", "dtype", "top"), [(8, np.uint8, 255), (12, np.uint16, 4095), (16, np.uint16, 65535)])
def test_dtype_and_range_per_bit_depth(bits, dtype, top):
    img = synth.phantom(256, bits=bits, seed=1)
    assert img.dtype == dtype
    assert img.min() >= 0 and img.max() <= top
    # Uses its range: black air, bright body. For 16 bit this also keeps the
    # maximum above 4095, so readers that infer the depth see 16 bits.
    assert img.min() <= 0.05 * top and img.max() >= 0.8 * top


def test_bit_depths_are_the_same_picture():
    img8 = synth.phantom(256, bits=8, seed=2).astype(float) / 255
    img12 = synth.phantom(256, bits=12, seed=2).astype(float) / 4095
    assert np.abs(img8 - img12).max() <= 0.6 / 255 + 1e-9  # only the rounding differs


@pytest.mark.parametrize("size", [512, 1024])
def test_shape_per_size(size):
    assert synth.phantom(size, seed=0).shape == (size, size)


def test_shape_2048():
    img = synth.phantom(2048, seed=0)
    assert img.shape == (2048, 2048) and img.dtype == np.uint8


def test_rectangular_size():
    img = synth.phantom((300, 420), bits=12, seed=0)
    assert img.shape == (300, 420) and img.dtype == np.uint16


def _grey(img: np.ndarray, frame: anat.Frame, x: float, y: float, half: int = 3) -> float:
    """Mean grey value around a point given in model coordinates."""
    r, c = (int(round(float(v))) for v in frame.to_pixel(x, y))
    return float(img[r - half : r + half + 1, c - half : c + half + 1].mean())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_looks_like_a_chest_film(seed):
    """Dark air, darker lungs than mediastinum and abdomen, lungs brighter than air."""
    p = synth.make_phantom(512, seed=seed)
    a, frame = p.anatomy, anat.Frame(512, 512, p.anatomy)
    mid_lung_y = (a.apex_y + a.dome_y_right) / 2 + 0.1
    lungs = [
        _grey(p.image, frame, side * (a.mediastinum_half_width + a.lung_lateral) / 2, mid_lung_y) for side in (-1, 1)
    ]
    mediastinum = _grey(p.image, frame, 0.0, a.apex_y + 0.3)
    abdomen = _grey(p.image, frame, 0.0, 0.9)
    air = float(p.image[:20, :20].mean())  # above the shoulder: outside the body
    for lung in lungs:
        assert air + 20 < lung < mediastinum - 40
        assert lung < abdomen - 40


def test_ribs_make_periodic_bright_bands_over_the_lungs():
    """A vertical line through a lung crosses ribs: its profile oscillates at the rib pitch."""
    p = synth.make_phantom(1024, seed=3)
    a, frame = p.anatomy, anat.Frame(1024, 1024, p.anatomy)
    ys = np.linspace(a.apex_y + 0.2, a.dome_y_right - 0.1, 400)
    x = -(a.apex_x + 0.1)
    rows, cols = frame.to_pixel(np.full_like(ys, x), ys)
    line = p.image[np.round(rows).astype(int), np.round(cols).astype(int)].astype(float)
    line = line - np.convolve(line, np.ones(61) / 61, mode="same")  # remove the slow trend
    spectrum = np.abs(np.fft.rfft(line[40:-40])) ** 2
    freq = np.fft.rfftfreq(len(line) - 80, d=(ys[1] - ys[0]))  # cycles per model unit
    rib_band = (freq > 0.6 / a.rib_pitch) & (freq < 1.4 / a.rib_pitch)
    assert spectrum[rib_band].max() > 5 * np.median(spectrum[1:])


@pytest.mark.parametrize("kind", synth.FINDINGS)
@pytest.mark.parametrize("seed", [0, 7])
def test_finding_changes_pixels_only_around_it(kind, seed):
    normal = synth.make_phantom(512, seed=seed)
    sick = synth.make_phantom(512, finding=kind, seed=seed)
    f = sick.finding
    assert f is not None and f.kind == kind and sick.label == 1 and normal.label == 0
    diff = sick.image.astype(int) - normal.image
    # Same patient, same noise: outside the finding (plus the detector blur's
    # reach) nothing changes; inside, it is brighter (denser).
    reach = 0.25 * f.radius + 4
    assert not diff[~f.mask(diff.shape, margin=reach)].any()
    inside = diff[f.mask(diff.shape, margin=-0.3 * f.radius)]
    assert inside.mean() > 2.0
    assert (diff >= -1).all()  # a finding only adds density (noise rounding aside)


def test_finding_metadata_varies_and_is_plausible():
    centres, radii = [], []
    for seed in range(12):
        f = synth.make_phantom(256, finding="nodule", seed=seed).finding
        assert 0 <= f.center[0] < 256 and 0 <= f.center[1] < 256
        assert 0.015 * 128 <= f.radius <= 0.08 * 128  # 7-26 mm on a 35 cm film
        centres.append(f.center)
        radii.append(f.radius)
    assert np.std(np.array(centres)[:, 1]) > 20  # both lungs, various places
    assert max(radii) > 2 * min(radii)


def test_anatomy_varies_between_patients():
    anatomies = [synth.make_phantom(128, seed=s).anatomy for s in range(10)]
    for field in ("heart_ratio", "lung_lateral", "rib_pitch", "body_half_width", "window_hi", "dome_y_right"):
        values = [getattr(a, field) for a in anatomies]
        assert max(values) - min(values) > 0.02, field


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    ranks = np.argsort(np.argsort(score)) + 1
    pos = label == 1
    return float((ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def test_global_statistics_do_not_give_the_label_away():
    """Mean and spread of the image barely separate the classes: a model must find the finding."""
    items = list(synth.phantoms(40, size=256, finding="nodule", seed=1))
    label = np.array([p.label for p in items])
    for stat in (np.mean, np.std):
        auc = _auc(np.array([stat(p.image.astype(float)) for p in items]), label)
        assert 0.25 < auc < 0.75


def test_phantoms_batch_is_balanced_reproducible_and_rebuildable():
    first = list(synth.phantoms(10, size=128, finding="opacity", prevalence=0.3, seed=4))
    again = list(synth.phantoms(10, size=128, finding="opacity", prevalence=0.3, seed=4))
    assert len(first) == 10 and sum(p.label for p in first) == 3
    assert all(np.array_equal(p.image, q.image) for p, q in zip(first, again))
    assert len({p.seed for p in first}) == 10
    p = next(x for x in first if x.label == 1)
    rebuilt = synth.make_phantom(128, finding="opacity", seed=p.seed)
    assert np.array_equal(rebuilt.image, p.image)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"size": 64}, InvalidInputError, "size"),
        ({"size": 5000}, InvalidInputError, "size"),
        ({"size": "big"}, InvalidTypeError, "size"),
        ({"bits": 10}, InvalidInputError, "bits"),
        ({"finding": "tumour"}, InvalidInputError, "finding"),
        ({"seed": -1}, InvalidInputError, "seed"),
        ({"seed": 1.5}, InvalidInputError, "seed"),
    ],
)
def test_bad_arguments_raise_naming_the_parameter(kwargs, error, name):
    args = {"size": 128, **kwargs}
    with pytest.raises(error, match=name):
        synth.phantom(**args)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n": -1}, "n"), ({"n": 2, "prevalence": 1.5}, "prevalence"), ({"n": 2, "finding": None}, "finding")],
)
def test_bad_batch_arguments(kwargs, name):
    with pytest.raises(InvalidInputError, match=name):
        list(synth.phantoms(size=128, **kwargs))


def test_vessel_segments_drawn_together_equal_drawn_one_by_one(monkeypatch):
    """The vessels are rasterised as one flat batch: it must give exactly what a loop over segments gives."""

    a = anat.draw_anatomy(np.random.default_rng(4))
    frame = anat.Frame(200, 260, a)  # rectangular, so rows and columns cannot be swapped unnoticed
    seg = np.array(bones._branches(1, a, np.random.default_rng(5)) + bones._branches(-1, a, np.random.default_rng(6)))
    expected = np.zeros((200, 260), np.float32)
    for x0, y0, x1, y1, width in seg.tolist():  # Python floats, as the generator had them
        box = frame.box(np.array([x0, x1]), np.array([y0, y1]), width + 0.01)
        if box is None:
            continue
        X, Y = frame.X[box], frame.Y[box]
        vx, vy = x1 - x0, y1 - y0
        t = np.clip(((X - x0) * vx + (Y - y0) * vy) / (vx * vx + vy * vy), 0.0, 1.0)
        d = np.sqrt((X - x0 - t * vx) ** 2 + (Y - y0 - t * vy) ** 2)
        np.maximum(expected[box], np.float32(0.06 * width / 0.012) * anat.tube(d, width), out=expected[box])
    assert expected.max() > 0.05 and (expected > 0).mean() > 0.02  # the trees are really drawn
    for chunk in (bones._PAIRS_PER_CHUNK, 997):  # one batch, and many batches splitting boxes mid-way
        monkeypatch.setattr(bones, "_PAIRS_PER_CHUNK", chunk)
        out = np.zeros((200, 260), np.float32)
        bones._tubes(frame, seg, 0.06, out)
        assert np.array_equal(out, expected)


@pytest.mark.parametrize("kind", synth.FINDINGS)
def test_finding_contrast_is_known_without_making_the_image(kind):
    contrasts = [synth.finding_contrast(kind, seed) for seed in range(4)]
    assert contrasts == [synth.make_phantom(128, finding=kind, seed=seed).finding.contrast for seed in range(4)]
    assert len(set(contrasts)) == 4  # it varies with the seed
    with pytest.raises(InvalidInputError, match="finding"):
        synth.finding_contrast(None, 0)
    with pytest.raises(InvalidInputError, match="seed"):
        synth.finding_contrast(kind, -1)
