"""The demo's dataset: how many images, which split, which acquisition setting, which finding.

The test set is mostly acquired like the training set, with a few slices
acquired differently (:data:`SHIFTS`). Which image went through which
setting is recorded in ``truth.csv`` and nowhere else: file names do not tell.

Only findings of contrast at least :data:`MIN_CONTRAST` are used (the upper
part of the synth's range): with a few hundred training images a small
model then reaches about 85 % accuracy on clean films, so that its failures
under other acquisitions stand out. Subtler findings make every setting
hard and the acquisition effect gets lost in the model's general weakness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spectral_fast.errors import InvalidInputError

#: Side of the phantoms in pixels: small enough that a few thousand are made
#: in about a minute on two cores, large enough for 5-18 px nodules.
SIZE = 256
#: Acquisition settings of the test set (change, strength) besides "clean";
#: strengths are chosen so each one hurts the classifier (measured, printed).
SHIFTS: dict[str, tuple[str, float]] = {
    "blur": ("blur", 3.0),  # soft detector / heavy denoising: Gaussian MTF, sigma in px
    "noise": ("noise", 8.0),  # low dose: quantum noise, 8-bit grey levels at mid-grey
    "sharpen": ("sharpen", 1.0),  # strong edge enhancement: unsharp mask, amount 1
}
#: Share of each setting in the test set: most images are acquired like the training set.
TEST_MIX: dict[str, float] = {"clean": 0.7, "blur": 0.1, "noise": 0.1, "sharpen": 0.1}
#: Share of the ``n`` images used for training (all clean); the rest is the test set.
TRAIN_SHARE = 0.35
#: Share of the training images held out to calibrate the score to a probability.
CALIBRATION_SHARE = 0.25
#: Smallest finding contrast used (see the module docstring).
MIN_CONTRAST = 0.12
#: Default number of images (training + test) and seed.
DEFAULT_N = 1800
DEFAULT_SEED = 0


@dataclass(frozen=True)
class ImageSpec:
    """One image of the demo: where it goes, how it is acquired and what it shows."""

    index: int
    split: str  # "fit", "calibrate" or "test"
    setting: str  # "clean" or a key of SHIFTS
    finding: str | None  # None, "nodule" or "opacity"
    seed: int

    @property
    def name(self) -> str:
        """File name of a test image; it says nothing about the setting."""
        return f"cxr_{self.index:05d}.png"


def plan_dataset(n: int, seed: int) -> list[ImageSpec]:
    """Split ``n`` images into fit / calibrate / test, with settings and findings.

    Parameters
    ----------
    n : int
        Number of images, at least 100.
    seed : int
        Seed of the whole demo; each image gets its own seed from it.

    Returns
    -------
    list of ImageSpec
        Training images first (all clean), then the test images, whose
        settings follow :data:`TEST_MIX` exactly (largest remainders) in a
        random order. Half of each split and setting carries a finding,
        alternately a nodule and an opacity.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 100:
        raise InvalidInputError(f"n must be an integer >= 100 (images for training and test), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    n_train = int(round(n * TRAIN_SHARE))
    n_cal = int(round(n_train * CALIBRATION_SHARE))
    groups = [("fit", "clean", n_train - n_cal), ("calibrate", "clean", n_cal)]
    groups += [("test", s, c) for s, c in _apportion(n - n_train, TEST_MIX).items()]
    specs: list[tuple[str, str, str | None]] = []
    for split, setting, count in groups:
        positives = count // 2
        findings = [("nodule", "opacity")[i % 2] for i in range(positives)] + [None] * (count - positives)
        specs += [(split, setting, f) for f in findings]
    train = [s for s in specs if s[0] != "test"]
    test = [specs[len(train) + i] for i in rng.permutation(len(specs) - len(train))]
    seeds = rng.integers(0, 2**62, size=n)
    return [ImageSpec(i, sp, st, f, int(seeds[i])) for i, (sp, st, f) in enumerate(train + test)]


def _apportion(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer counts summing to ``total`` in the given shares (largest remainders)."""
    raw = {k: total * v / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(math.floor(v)) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[: total - sum(counts.values())]:
        counts[k] += 1
    return counts
