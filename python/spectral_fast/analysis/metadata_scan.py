"""Metadata blind spots: value groups of the acquisition metadata where a model's errors concentrate.

A separate scan beside the spectral clusters, never merged with them (the
clusters alone feed ``predict`` and the reliability reference). Its groups
are every value of each acquisition variable (:func:`value_groups`): the
user's metadata columns and the profile table's own (format, mode, bit depth,
pixel spacing, ``dicom_*`` tags, short side and aspect). A numeric variable
with more than :data:`~spectral_fast.analysis.contrast.MAX_LEVELS` values is
cut into quartile classes ("short_side 200-400 px"), except values frequent
enough to be groups of their own (:func:`value_groups`); missing values are a
group too.

Each group is tested in each error direction, as the clusters are:

* ``misses``: misses among the group's label-1 images against the rest of
  the label-1 images; ``false_alarms``: the same among label-0 images. The
  exact one-sided hypergeometric test (the permutation distribution of the
  direction's errors over its label's images);
* ``both``: all the group's errors against what its label mix predicts, with
  the exact distribution of errors permuted within each label (the
  convolution of the two labels' hypergeometric counts). Declared only for a
  group not declared in either direction, so that a miss group and a
  false-alarm group are never one spot;
* without labels, ``errors``: all errors, hypergeometric over all images.

p-values are adjusted by Benjamini-Hochberg over every group and direction
tested (those with at least :data:`MIN_N` images of the direction's label in
the group and outside it). A group-direction is declared when its adjusted
p < ``alpha``, it holds at least :data:`MIN_ERRORS` errors, its errors are at
least ``lift_threshold`` times what is expected, and its error rate exceeds
the rest's by at least :data:`MIN_DIFF`. Groups of other variables holding
the same images (Jaccard >= :data:`ALIAS` among the direction's label) are
one spot, named by the first (the largest excess of errors) and listing the
others as ``aliases``; a group lying (for :data:`ALIAS` of its images) inside
a spot declared before it is a part of that spot, not a spot of its own.

Stability: the scan is repeated on bootstrap resamples (of patients when
``groups`` is given, of images otherwise); a spot's stability is the share
of resamples that declare it (or an alias) again in a compatible direction.
Spots under :data:`~spectral_fast.analysis.stability.STABLE` are kept and
marked unstable. Why: ``docs/method.md#metadata-scan``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from spectral_fast._shared.stats import ARCHIVE_SCALE_N, bh_adjust
from spectral_fast.analysis.contrast import UNITS, is_categorical, label, number
from spectral_fast.analysis.stability import STABLE, compatible, jaccard
from spectral_fast.errors import InvalidInputError

#: Least images of the direction's label inside a group, and outside it, for the group to be tested.
MIN_N = 10
#: Least errors a declared group holds.
MIN_ERRORS = 5
#: Least difference between the group's error rate and the rest's for a declared group.
MIN_DIFF = 0.1
#: Jaccard index (among the direction's label) from which two groups are one spot.
ALIAS = 0.9
#: Share of the images from which one value of a many-valued numeric variable is a group of its own.
HEAVY = 0.1
#: The value of the group of images lacking a variable.
MISSING = "(missing)"
#: Bootstrap resamples that measure each spot's stability (``n_resamples`` default), and above
#: :data:`~spectral_fast._shared.stats.ARCHIVE_SCALE_N` images (about 0.07 s of CPU each at 112k images).
N_RESAMPLES = 100
ARCHIVE_RESAMPLES = 20

#: Columns of ``Report.metadata_spots`` (``metadata_spots.csv``).
METADATA_SPOT_SCHEMA = {
    "finding": pl.Utf8, "rank": pl.Int64, "variable": pl.Utf8, "value": pl.Utf8, "lower": pl.Float64,
    "upper": pl.Float64, "direction": pl.Utf8, "n": pl.Int64, "population": pl.Int64, "errors": pl.Int64,
    "expected_errors": pl.Float64, "error_rate": pl.Float64, "rest_rate": pl.Float64, "lift": pl.Float64,
    "excess_errors": pl.Float64, "p_value": pl.Float64, "p_adjusted": pl.Float64, "stability": pl.Float64,
    "stable": pl.Boolean, "aliases": pl.Utf8, "description": pl.Utf8,
}  # fmt: skip

#: How each direction's errors are said in a description, and which label's images it counts.
_WORDS = {"misses": ("missed", 1), "false_alarms": ("false alarms", 0)}


@dataclass(frozen=True)
class Group:
    """One value group: the variable, its value in words, the numeric class bounds (NaN for a category), its images."""

    variable: str
    value: str
    lower: float
    upper: float
    mask: np.ndarray


def value_groups(variables: pl.DataFrame) -> list[Group]:
    """Every value group of each variable (module docstring); a variable with one group is left out.

    Categories: each value. Numeric variables with many values: each value
    held by at least :data:`HEAVY` of the images is its own group (1024 px
    in an archive of mostly 1024-px images), the other values quartile
    classes. Missing values (null, NaN) form a group ``(missing)`` when some
    but not all images have one: "no pixel spacing recorded" can be the failure.
    """
    out: list[Group] = []
    nan = float("nan")
    for name in variables.columns:
        col = variables[name]
        unit = UNITS.get(name, "")
        if col.dtype.is_numeric():
            x = col.cast(pl.Float64).fill_null(nan).to_numpy()
            ok = np.isfinite(x)
            many = not is_categorical(col)
            values, counts = np.unique(x[ok], return_counts=True)
            points = values[counts >= HEAVY * len(x)] if many else values
            for v in points:
                out.append(Group(name, f"{number(v)}{unit}", float(v), float(v), x == v))
            rest = ok & ~np.isin(x, points)
            if many and rest.any():
                out += _quartile_classes(name, x, rest, unit)
            missing = ~ok
        else:
            s = col.cast(pl.Utf8).to_numpy()
            missing = col.is_null().to_numpy()
            for v in sorted(set(s[~missing].tolist())):
                out.append(Group(name, str(v), nan, nan, ~missing & (s == v)))
        if missing.any() and not missing.all():
            out.append(Group(name, MISSING, nan, nan, missing))
    per_variable: dict[str, int] = {}
    for g in out:
        per_variable[g.variable] = per_variable.get(g.variable, 0) + 1
    return [g for g in out if per_variable[g.variable] > 1]


def _quartile_classes(name: str, x: np.ndarray, rows: np.ndarray, unit: str) -> list[Group]:
    """Quartile classes of ``x`` over ``rows``, named by the smallest and largest value each holds."""
    edges = np.unique(np.quantile(x[rows], [0.0, 0.25, 0.5, 0.75, 1.0]))
    if len(edges) < 2:
        lo = float(x[rows][0])
        return [Group(name, f"{number(lo)}{unit}", lo, lo, rows.copy())]
    cls = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    out = []
    for i in range(len(edges) - 1):
        mask = rows & (cls == i)
        if mask.any():
            lo, hi = float(x[mask].min()), float(x[mask].max())
            out.append(Group(name, f"{number(lo)}-{number(hi)}{unit}", lo, hi, mask))
    return out


def _hypergeom_pmf(total: int, cases: int, drawn: int) -> tuple[int, np.ndarray]:
    """Smallest possible count and the pmf over the support of a hypergeometric count.

    From one ``logpmf`` and the ratio recurrence
    ``p(k + 1) / p(k) = (K - k)(n - k) / ((k + 1)(N - K - n + k + 1))``: the
    same values as ``hypergeom.pmf`` to about 1e-12 relative, in O(support)
    numpy operations instead of three log-beta calls per value.
    """
    from scipy.stats import hypergeom

    lo, hi = max(0, drawn - (total - cases)), min(drawn, cases)
    k = np.arange(lo, hi, dtype=np.float64)
    steps = np.log((cases - k) * (drawn - k)) - np.log((k + 1) * (total - cases - drawn + k + 1))
    log_p = float(hypergeom.logpmf(lo, total, cases, drawn)) + np.concatenate([[0.0], np.cumsum(steps)])
    return lo, np.exp(log_p)


def _sum_hypergeom_sf(c: int, pos: int, neg: int, n_pos: int, n_neg: int, miss: int, fa: int) -> float:
    """P(misses drawn in ``pos`` label-1 images + false alarms drawn in ``neg`` label-0 images >= c)."""
    from scipy.signal import fftconvolve

    lo_a, a = _hypergeom_pmf(n_pos, miss, pos)
    lo_b, b = _hypergeom_pmf(n_neg, fa, neg)
    conv = np.convolve(a, b) if len(a) * len(b) <= 4_000_000 else np.clip(fftconvolve(a, b), 0.0, None)
    start = max(c - lo_a - lo_b, 0)
    return float(min(1.0, conv[start:].sum())) if start < len(conv) else 0.0


def _direction_stats(masks: np.ndarray, error: np.ndarray, truth: np.ndarray | None, w: np.ndarray) -> list[dict]:
    """Counts, rates and exact p of every group in every direction, with images weighted ``w`` (a resample)."""
    from scipy.stats import hypergeom

    err = error.astype(np.float64)
    out = []
    if truth is None:
        pops = {"errors": np.ones(len(error), bool)}
    else:
        pops = {"misses": truth, "false_alarms": ~truth}
    for d, pop in pops.items():
        wp = w * pop
        m = masks @ wp
        c = masks @ (wp * err)
        total_n, total_c = wp.sum(), (wp * err).sum()
        ok = (m >= MIN_N) & (total_n - m >= MIN_N)
        ints = [np.rint(v).astype(np.int64) for v in (c - 1, total_n, total_c, m)]
        p = np.where(ok, hypergeom.sf(*ints), np.nan)
        expected = m * (total_c / total_n if total_n else 0.0)
        rest = np.divide(total_c - c, total_n - m, out=np.zeros_like(c), where=total_n - m > 0)
        out.append({"direction": d, "population": m, "errors": c, "expected": expected, "rest": rest, "p": p,
                    "tested": ok})  # fmt: skip
    if truth is not None:
        miss, fa = out
        total = miss["population"] + fa["population"]
        c = miss["errors"] + fa["errors"]
        expected = miss["expected"] + fa["expected"]
        n_pos, n_neg = (w * truth).sum(), (w * ~truth).sum()
        ok = (total >= MIN_N) & (n_pos + n_neg - total >= MIN_N)
        p = np.full(len(c), np.nan)
        for g in np.flatnonzero(ok):
            p[g] = 1.0 if c[g] <= expected[g] else _sum_hypergeom_sf(
                int(c[g]), int(miss["population"][g]), int(fa["population"][g]), int(n_pos), int(n_neg),
                int((w * truth * error).sum()), int((w * ~truth * error).sum()),
            )  # fmt: skip
        all_c = (w * error).sum()
        rest = np.divide(all_c - c, n_pos + n_neg - total, out=np.zeros_like(c), where=n_pos + n_neg - total > 0)
        out.append({"direction": "both", "population": total, "errors": c, "expected": expected, "rest": rest,
                    "p": p, "tested": ok})  # fmt: skip
    return out


def _declare(stats: list[dict], alpha: float, lift_threshold: float) -> list[tuple[int, str, float]]:
    """(group, direction, q) of every declared group-direction (module docstring), ``both`` after the directions."""
    flat_p = np.concatenate([s["p"][s["tested"]] for s in stats])
    q_all = bh_adjust(flat_p) if flat_p.size else flat_p
    found, start = [], 0
    for s in stats:
        idx = np.flatnonzero(s["tested"])
        q = q_all[start : start + len(idx)]
        start += len(idx)
        m, c, e = s["population"][idx], s["errors"][idx], s["expected"][idx]
        rate = np.divide(c, m, out=np.zeros_like(c), where=m > 0)
        keep = (q < alpha) & (c >= MIN_ERRORS) & (c >= lift_threshold * e) & (rate - s["rest"][idx] >= MIN_DIFF)
        found += [(int(g), s["direction"], float(qq)) for g, qq in zip(idx[keep], q[keep])]
    directional = {g for g, d, _ in found if d != "both"}
    return [(g, d, q) for g, d, q in found if d != "both" or g not in directional]


def scan_metadata(
    variables: pl.DataFrame,
    error: np.ndarray,
    truth: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    alpha: float = 0.05,
    lift_threshold: float = 1.5,
    n_resamples: int | None = None,
    seed: int = 0,
) -> tuple[list[dict], list[np.ndarray]]:
    """Declared metadata blind spots (rows of :data:`METADATA_SPOT_SCHEMA` without ``finding``) and their images.

    A spot's images are its group's images of the direction's label (all of
    them for ``both`` and ``errors``): "view = AP among label-1 images".

    ``variables``: one row per image (:func:`~spectral_fast.analysis.metadata.metadata_variables`);
    ``error``, ``truth``: per image; ``groups``: patient of each image, resampled whole
    for the stability. ``n_resamples`` 0: stability NaN; None: :data:`N_RESAMPLES`,
    :data:`ARCHIVE_RESAMPLES` above ``ARCHIVE_SCALE_N`` images.
    """
    error = np.asarray(error, dtype=bool)
    n = len(error)
    if variables.width and variables.height != n:
        raise InvalidInputError(f"metadata scan: {variables.height} metadata rows for {n} images")
    if truth is not None:
        truth = np.asarray(truth, dtype=bool)
    if n_resamples is None:
        n_resamples = N_RESAMPLES if n <= ARCHIVE_SCALE_N else ARCHIVE_RESAMPLES
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 0:
        raise InvalidInputError(f"n_resamples must be an integer >= 0, got {n_resamples!r}")
    cands = value_groups(variables) if variables.width else []
    if not cands or n == 0:
        return [], []
    masks = np.vstack([g.mask for g in cands]).astype(np.float64)
    stats = _direction_stats(masks, error, truth, np.ones(n))
    by_dir = {s["direction"]: s for s in stats}
    found = _declare(stats, alpha, lift_threshold)
    found.sort(key=lambda f: (-(by_dir[f[1]]["errors"][f[0]] - by_dir[f[1]]["expected"][f[0]]), f[2]))
    spots: list[dict] = []
    for g, d, q in found:
        pop = _population(d, truth, n)
        mine = cands[g].mask & pop
        same = [s for s in spots if s["direction"] == d]
        lead = next((s for s in same if jaccard(s["_members"], mine) >= ALIAS), None)
        if lead is not None:
            lead["_aliases"].append(g)
            continue
        if any((s["_members"] & mine).sum() >= ALIAS * mine.sum() for s in same):
            continue  # a part of a spot already declared: no spot of its own
        s = by_dir[d]
        m, c, e = float(s["population"][g]), float(s["errors"][g]), float(s["expected"][g])
        spots.append({
            "variable": cands[g].variable, "value": cands[g].value, "lower": cands[g].lower, "upper": cands[g].upper,
            "direction": d, "n": int(cands[g].mask.sum()), "population": int(m), "errors": int(c),
            "expected_errors": e, "error_rate": c / m, "rest_rate": float(s["rest"][g]),
            "lift": c / e if e > 0 else float("nan"), "excess_errors": c - e, "p_value": float(s["p"][g]),
            "p_adjusted": q, "_group": g, "_members": mine, "_aliases": [],
        })  # fmt: skip
    stability = _stability(spots, masks, error, truth, groups, alpha, lift_threshold, n_resamples, seed)
    out, image_masks = [], []
    for rank, (s, stab) in enumerate(zip(spots, stability), start=1):
        s["rank"], s["stability"] = rank, stab
        s["stable"] = bool(stab >= STABLE) if np.isfinite(stab) else None
        s["aliases"] = "; ".join(f"{label(cands[a].variable)} = {cands[a].value}" for a in s["_aliases"])
        s["description"] = describe(s)
        image_masks.append(cands[s["_group"]].mask & _population(s["direction"], truth, n))
        out.append({k: v for k, v in s.items() if not k.startswith("_")})
    return out, image_masks


def _population(direction: str, truth: np.ndarray | None, n: int) -> np.ndarray:
    if truth is None or direction not in _WORDS:
        return np.ones(n, dtype=bool)
    return truth if _WORDS[direction][1] == 1 else ~truth


def _stability(spots, masks, error, truth, groups, alpha, lift_threshold, n_resamples, seed) -> list[float]:
    """Share of bootstrap resamples (of patients when ``groups``) declaring each spot or an alias again."""
    if not spots or n_resamples == 0:
        return [float("nan")] * len(spots)
    n = len(error)
    rng = np.random.default_rng(seed)
    if groups is None:
        units, inverse = np.arange(n), np.arange(n)
    else:
        units, inverse = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    hits = np.zeros(len(spots))
    for _ in range(n_resamples):
        drawn = np.bincount(rng.integers(0, len(units), len(units)), minlength=len(units))
        w = drawn[inverse.ravel()].astype(np.float64)
        again = _declare(_direction_stats(masks, error, truth, w), alpha, lift_threshold)
        for i, s in enumerate(spots):
            names = {s["_group"], *s["_aliases"]}
            hits[i] += any(g in names and compatible(s["direction"], d) for g, d, _ in again)
    return (hits / n_resamples).tolist()


def describe(spot: dict) -> str:
    """The spot in words, e.g. ``view = AP among label-1 images: 87 % missed vs 8 % of the rest``."""
    head = f"{label(spot['variable'])} = {spot['value']}"
    rate, rest = f"{100 * spot['error_rate']:.0f} %", f"{100 * spot['rest_rate']:.0f} %"
    d = spot["direction"]
    if d in _WORDS:
        words, lab = _WORDS[d]
        text = f"{head} among label-{lab} images: {rate} {words} vs {rest} of the rest"
    elif d == "both":
        text = (f"{head}: {spot['errors']} errors where its label mix predicts {spot['expected_errors']:.0f} "
                f"({rate} wrong vs {rest} of the rest)")  # fmt: skip
    else:
        text = f"{head}: {rate} wrong vs {rest} of the rest"
    text += f" ({spot['errors']} of {spot['population']}, q {spot['p_adjusted']:.1g})"
    return text + (f"; the same images as {spot['aliases']}" if spot.get("aliases") else "")
