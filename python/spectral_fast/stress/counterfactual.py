"""Counterfactual test of a blind spot: does giving other images its spectrum make the model fail on them?

For a blind spot (images ``inside``) and its reference (by default every image
outside it; ``run_stress`` passes the images in no blind spot, so that other
spots' own spectra and failures do not blur the comparison):

1. the spot's band-power ratio to the reference, band by band (geometric means of
   the profile's band fractions), as a smoothed radial amplitude gain
   g = sqrt(ratio) at the band centres (:func:`spot_log_gain`);
2. forward: reference images get g (magnitudes multiplied, phase and
   DC kept); the rise of their error rate; inverse: the spot's own images get
   1 / g; the fall of theirs. Both with paired bootstrap intervals;
3. the null: the same two tests with :data:`N_CONTROLS` random smoothed gains
   making the same size of change in the pixels
   (:func:`spectral_fast.stress.gains.random_log_gain`), averaged per image:
   what a random change of this size does, on average;
4. the control: one more random curve of that size, tested exactly as the
   spot is (against the same null);
5. a verdict (:func:`verdict`): "acquisition explains this blind spot",
   "partly", or "not the spectra: look at the population". The inverse does
   not count when it is ill-posed (:func:`inverse_ill_posed`: restoring bands
   the spot holds at its noise floor); the reason says so.

See docs/method.md#stress-tests for the maths and the thresholds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spectral_fast.errors import InvalidInputError
from spectral_fast.stress.gains import MAX_LOG_GAIN, apply_gain, random_log_gain, ratio_log_gain
from spectral_fast.stress.metrics import N_BOOT, mean_interval, score_images

EXPLAINS = "acquisition explains this blind spot"
PARTLY = "partly"
NOT_SPECTRA = "not the spectra: look at the population"
#: Share of the spot's excess error a significant effect must reproduce (outside) or remove (inside)
#: for "explains"; a significant effect below it is "partly".
EXPLAIN_SHARE = 0.5
#: Images of each side tested at most (a random subset above it; the interval says what this costs).
MAX_IMAGES = 400
#: Random curves whose mean effect per image is the null (each costs a forward and an inverse pass of the model).
#: Eight keep the null's own between-curve error small against the image bootstrap (docs/method.md#stress-tests).
N_CONTROLS = 8
#: Log10 band fraction at or below which a band holds no coefficient (the profile's 1e-12 floor).
EMPTY_BAND = -11.5


def band_centres(edges: np.ndarray) -> np.ndarray:
    """Geometric centres of the bands between consecutive ``edges`` (cycles/px)."""
    e = np.asarray(edges, dtype=np.float64)
    return np.sqrt(e[:-1] * e[1:])


def reference_mask(inside: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """The images a spot is compared with: ``reference`` without the spot's own, or everything outside it."""
    inside = np.asarray(inside, dtype=bool)
    if reference is not None and np.shape(reference) != inside.shape:
        raise InvalidInputError(f"reference: expected {len(inside)} flags, got shape {np.shape(reference)}")
    outside = ~inside if reference is None else np.asarray(reference, dtype=bool) & ~inside
    if inside.all() or not inside.any() or not outside.any():
        raise InvalidInputError("the spot must hold some but not all images, and its reference some others")
    return outside


def spot_log_gain(
    bands: np.ndarray, inside: np.ndarray, edges: np.ndarray, reference: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band centres, the smoothed log amplitude gain that moves the reference's spectrum to the spot's, band weights.

    ``bands`` (N, B) are the profile's log10 band fractions; bands that hold no
    coefficient (at the 1e-12 floor) in any image are left out. The ratio of a
    band is 10^(mean inside - mean outside) of its log10 fraction (a geometric
    mean, so one outlier image does not set the gain); the gain is its square
    root (power to amplitude), smoothed over neighbouring bands. The weights
    are the bands' mean shares of the image energy over all images (they size
    the control, :func:`~spectral_fast.stress.gains.random_log_gain`).
    """
    bands = np.asarray(bands, dtype=np.float64)
    inside = np.asarray(inside, dtype=bool)
    if bands.ndim != 2 or len(bands) != len(inside) or bands.shape[1] + 1 != len(edges):
        raise InvalidInputError(f"spot gain: expected (N, B) bands, N flags and B + 1 edges, got {bands.shape}, "
                                f"{inside.shape}, {np.shape(edges)}")  # fmt: skip
    outside = reference_mask(inside, reference)
    held = np.all(np.isfinite(bands) & (bands > EMPTY_BAND), axis=0)
    log10_ratio = bands[inside][:, held].mean(axis=0) - bands[outside][:, held].mean(axis=0)
    weights = (10.0 ** bands[:, held]).mean(axis=0)
    return band_centres(edges)[held], ratio_log_gain(log10_ratio), weights / weights.sum()


def inverse_ill_posed(log_gain: np.ndarray) -> bool:
    """True when the inverse of a gain must restore a band the spot holds at its noise floor.

    A band whose smoothed log gain reaches the attenuation clip (-ln 10: the spot
    holds at most 1 % of the reference's power there) was attenuated below what
    the spot's images still carry above their noise (8-bit quantisation, grain):
    dividing by the gain there amplifies that noise up to 10x in amplitude and
    restores no detail, so the inverse's error change says nothing about the cause.
    """
    g = np.asarray(log_gain, dtype=np.float64)
    return bool(g.size and g.min() <= -MAX_LOG_GAIN * (1.0 - 1e-9))


def verdict(
    rise_outside: tuple[float, float, float],
    fall_inside: tuple[float, float, float],
    gap: float,
    excess: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None,
    inverse_usable: bool = True,
) -> tuple[str, str]:
    """The verdict and its reason from the two effects, each (estimate, low, high), and the spot's excess error.

    ``excess``: the same two effects minus the null's (random changes of the
    same size), paired per image, each (estimate, low, high). ``inverse_usable``
    False (:func:`inverse_ill_posed`): the fall inside is left out (neither for
    nor against) and the reason says so. An effect is significant when its
    interval lies above 0. None significant: "not the spectra". Otherwise the
    larger significant effect E: when ``excess`` is given and E's excess over
    the null is not significant, "partly" (random changes of this size do about
    as much); else E as a share of ``gap`` (the spot's error rate minus the
    rest's): at least :data:`EXPLAIN_SHARE`: "explains", else "partly" (also
    when the spot has no excess error).
    """
    label, reason = _verdict(rise_outside, fall_inside if inverse_usable else (np.nan,) * 3, gap, excess)
    if not inverse_usable:
        reason += ("; the inverse (errors inside with the spectrum removed) is not used: it would restore bands the "
                   "spot holds at its noise floor (ill-posed deconvolution)")  # fmt: skip
    return label, reason


def _significant(effect: tuple[float, float, float]) -> bool:
    return bool(np.isfinite(effect[1]) and effect[1] > 0)


def _verdict(
    rise_outside: tuple[float, float, float],
    fall_inside: tuple[float, float, float],
    gap: float,
    excess: tuple[tuple[float, float, float], tuple[float, float, float]] | None,
) -> tuple[str, str]:
    effects = {"outside": (rise_outside, None if excess is None else excess[0]),
               "inside": (fall_inside, None if excess is None else excess[1])}  # fmt: skip
    sig = {name: e for name, e in effects.items() if _significant(e[0])}
    if not sig:
        return NOT_SPECTRA, "neither imposing the spot's spectrum outside nor removing it inside changed the errors"
    name, (best, over) = max(sig.items(), key=lambda kv: kv[1][0][0])
    what = "errors rose outside" if name == "outside" else "errors fell inside"
    if not gap > 0:
        return PARTLY, f"{what} by {best[0]:.3f}, but the spot has no excess error to explain"
    if over is not None and not _significant(over):
        return PARTLY, (f"{what} by {best[0]:.3f}, but random changes of the same size did about as much (excess "
                        f"{over[0]:+.3f} [{over[1]:+.3f}, {over[2]:+.3f}])")  # fmt: skip
    share = best[0] / gap
    if share >= EXPLAIN_SHARE:
        return EXPLAINS, f"{what} by {best[0]:.3f} ({share:.0%} of the spot's excess error {gap:.3f})"
    return PARTLY, f"{what} by {best[0]:.3f}, only {share:.0%} of the spot's excess error {gap:.3f}"


def _errors(scores: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    return ((scores >= threshold) != labels.astype(bool)).astype(np.float64)


def _subset(mask: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.flatnonzero(mask)
    return np.sort(rng.choice(idx, size=limit, replace=False)) if len(idx) > limit else idx


def counterfactual(
    model: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    inside: np.ndarray,
    centres: np.ndarray,
    log_gain: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    threshold: float = 0.5,
    base_scores: np.ndarray | None = None,
    batch_size: int = 32,
    n_boot: int = N_BOOT,
    max_images: int = MAX_IMAGES,
    n_controls: int = N_CONTROLS,
    seed: int = 0,
    on_batch: Callable[[int], None] | None = None,
    threads: int | None = None,
    reference: np.ndarray | None = None,
) -> dict:
    """The counterfactual test of one spot, its random-gain control and their null (``n_controls`` curves; module docstring).

    ``reference`` (N flags): the images compared with and given the spot's spectrum
    (default: all outside it). ``centres``, ``log_gain`` and ``weights`` are what :func:`spot_log_gain`
    returns (weights None: every band counts alike in the control's size).
    Returns a dict: sizes, error rates, ``gap``; per test (``spot``,
    ``control``) the ``rise_outside`` and ``fall_inside`` (estimate, low, high),
    the same minus the null's per image (``excess_outside``, ``excess_inside``),
    its verdict, reason and ``inverse_ill_posed``; the null's two effects
    (``null``); the gain curves (``log_gain``, ``control_log_gain``, ``null_log_gains``).
    """
    images = np.asarray(images, dtype=np.float32)
    labels, inside = np.asarray(labels), np.asarray(inside, dtype=bool)
    if images.ndim != 3 or not (len(images) == len(labels) == len(inside)):
        raise InvalidInputError(f"counterfactual: expected (N, H, W) images, N labels and N flags, got "
                                f"{images.shape}, {labels.shape}, {inside.shape}")  # fmt: skip
    outside = reference_mask(inside, reference)
    centres, log_gain = np.asarray(centres, dtype=np.float64), np.asarray(log_gain, dtype=np.float64)
    rng = np.random.default_rng(seed)
    base = score_images(model, images, batch_size, on_batch) if base_scores is None else np.asarray(base_scores)
    err = _errors(base, labels, threshold)
    gap = float(err[inside].mean() - err[outside].mean())
    out_idx, in_idx = _subset(outside, max_images, rng), _subset(inside, max_images, rng)
    control, *nulls = [random_log_gain(log_gain, rng, weights) for _ in range(max(int(n_controls), 1) + 1)]
    result: dict = {
        "n_inside": int(inside.sum()), "n_outside": int(outside.sum()),
        "n_inside_tested": len(in_idx), "n_outside_tested": len(out_idx),
        "error_inside": float(err[inside].mean()), "error_outside": float(err[outside].mean()), "gap": gap,
        "centres": centres.tolist(), "log_gain": log_gain.tolist(), "control_log_gain": control.tolist(),
        "null_log_gains": [c.tolist() for c in nulls],
    }  # fmt: skip

    def effects(curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per image: the error rise of the reference under ``curve`` and the error fall of the spot under its inverse."""
        fwd = score_images(model, apply_gain(images[out_idx], centres, np.exp(curve), threads), batch_size, on_batch)
        inv = score_images(model, apply_gain(images[in_idx], centres, np.exp(-curve), threads), batch_size, on_batch)
        return (_errors(fwd, labels[out_idx], threshold) - err[out_idx],
                err[in_idx] - _errors(inv, labels[in_idx], threshold))  # fmt: skip

    null = [effects(c) for c in nulls]
    null_mean = (np.mean([d[0] for d in null], axis=0), np.mean([d[1] for d in null], axis=0))
    result["null"] = {"rise_outside": mean_interval(null_mean[0], rng, n_boot),
                      "fall_inside": mean_interval(null_mean[1], rng, n_boot)}  # fmt: skip
    for name, curve in (("spot", log_gain), ("control", control)):
        rise, fall = effects(curve)
        ill = inverse_ill_posed(curve)
        test = {"rise_outside": mean_interval(rise, rng, n_boot), "fall_inside": mean_interval(fall, rng, n_boot),
                "excess_outside": mean_interval(rise - null_mean[0], rng, n_boot),
                "excess_inside": mean_interval(fall - null_mean[1], rng, n_boot), "inverse_ill_posed": ill}  # fmt: skip
        test["verdict"], test["reason"] = verdict(test["rise_outside"], test["fall_inside"], gap,
                                                  (test["excess_outside"], test["excess_inside"]), not ill)  # fmt: skip
        result[name] = test
    result["inverse_ill_posed"] = result["spot"]["inverse_ill_posed"]
    result["verdict"], result["reason"] = result["spot"]["verdict"], result["spot"]["reason"]
    return result
