"""Making the demo's images: phantom, acquisition, PNG for the test set, candidate features.

Every image is made in a worker process (:func:`prepare_images`), so the
expensive parts (phantom, acquisition, PNG encoding, feature extraction)
use every core; only the features and the finding's geometry come back.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from spectral_fast.demo.classifier import candidate_features, candidate_labels
from spectral_fast.demo.plan import MIN_CONTRAST, SHIFTS, SIZE, ImageSpec

#: What :func:`prepare_one` returns: image index, candidate features, candidate
#: labels, and the finding as (row, col, radius) or None.
Prepared = tuple[int, np.ndarray, np.ndarray, tuple[float, float, float] | None]


def make_image(spec: ImageSpec) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    """The acquired image of ``spec`` (uint8) and its finding as (row, col, radius) or None.

    A finding fainter than :data:`~spectral_fast.demo.plan.MIN_CONTRAST` is
    redrawn: the patient's seed is advanced deterministically until the
    finding is conspicuous.
    """
    from spectral_fast.simulate import acquire
    from spectral_fast.simulate import phantom as synth

    rng = np.random.default_rng(spec.seed)
    seed = spec.seed
    # The contrast is known before the image is made: skip faint findings' phantoms unmade.
    while spec.finding is not None and synth.finding_contrast(spec.finding, seed) < MIN_CONTRAST:
        seed = int(rng.integers(0, 2**62))
    p = synth.make_phantom(SIZE, bits=8, finding=spec.finding, seed=seed)
    image = p.image
    if spec.setting != "clean":
        change, strength = SHIFTS[spec.setting]
        image = acquire.apply(image, change, strength, rng=rng)
    geometry = None if p.finding is None else (*p.finding.center, p.finding.radius)
    return image, geometry


def prepare_one(task: tuple[ImageSpec, str | None]) -> Prepared:
    """Make one image, write it as PNG into the folder when one is given, return its candidates."""
    spec, folder = task
    image, geometry = make_image(spec)
    if folder is not None:
        from PIL import Image

        Image.fromarray(image).save(os.path.join(folder, spec.name), optimize=False, compress_level=1)
    features, rows, cols = candidate_features(image)
    labels = candidate_labels(rows, cols, geometry)
    if spec.split == "fit":
        # The mirror image is another plausible chest (heart on the other side):
        # twice the training candidates for the price of one phantom.
        flipped, rows, cols = candidate_features(image[:, ::-1])
        mirrored = None if geometry is None else (geometry[0], image.shape[1] - 1 - geometry[1], geometry[2])
        features = np.concatenate([features, flipped])
        labels = np.concatenate([labels, candidate_labels(rows, cols, mirrored)])
    return spec.index, features, labels, geometry


def prepare_images(specs: list[ImageSpec], images_dir: Path, workers: int) -> dict[int, tuple]:
    """Make every image of ``specs`` in a process pool; write the test images into ``images_dir``.

    Returns
    -------
    dict
        ``index -> (candidate features, candidate labels, finding geometry)``.
    """
    images_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(s, str(images_dir) if s.split == "test" else None) for s in specs]
    if workers <= 1:
        return {r[0]: r[1:] for r in map(prepare_one, tasks)}
    # "spawn": the parent may already run the Rust core's thread pool, which a fork would copy half-alive.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return {r[0]: r[1:] for r in pool.map(prepare_one, tasks, chunksize=16)}
