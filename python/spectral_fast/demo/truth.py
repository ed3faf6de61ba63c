"""Scoring against the truth only the demo knows: classifier error per setting, blind spots per planted shift."""

from __future__ import annotations

from collections import Counter

import numpy as np

from spectral_fast.demo.plan import SHIFTS, TEST_MIX, ImageSpec


def setting_errors(
    specs: list[ImageSpec], labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> list[dict]:
    """Measured error of the classifier per test setting, at the report's threshold."""
    settings = np.array([s.setting for s in specs])
    wrong = (scores >= threshold) != labels.astype(bool)
    rows = []
    for name in TEST_MIX:
        m = settings == name
        pos, neg = m & (labels == 1), m & (labels == 0)
        rows.append(
            {
                "setting": name,
                "n": int(m.sum()),
                "errors": int(wrong[m].sum()),
                "error_rate": float(wrong[m].mean()) if m.any() else float("nan"),
                "false_negative_rate": float(wrong[pos].mean()) if pos.any() else float("nan"),
                "false_positive_rate": float(wrong[neg].mean()) if neg.any() else float("nan"),
            }
        )
    return rows


def match_blind_spots(
    spots: list[dict], cluster_of: dict[str, int], setting_of: dict[str, str]
) -> tuple[list[dict], list[dict], dict]:
    """Compare the report's blind spots with the recorded acquisition settings.

    Parameters
    ----------
    spots : list of dict
        Blind spots in rank order, each with ``rank`` and ``clusters``
        (cluster numbers joined by ``+``, as in ``blind_spots.csv``).
    cluster_of : dict
        Image id -> cluster, from ``assignments.parquet``.
    setting_of : dict
        Image id -> true setting ("clean" or a planted shift) of every test image.

    Returns
    -------
    per_spot : list of dict
        The input rows plus ``counts`` (images per setting inside),
        ``dominant`` (the most frequent setting), ``precision`` (its share
        of the blind spot) and ``recall`` (share of that setting's images
        inside this blind spot).
    per_shift : list of dict
        For each planted shift: ``recall`` (share of its images inside any
        blind spot), ``rank`` of the blind spot holding most of them (None
        when none does) and ``precision`` (that blind spot's share made of
        this shift: below 1 when the report merged it with clean images or
        with another shift).
    overall : dict
        ``precision``: share of blind-spot images acquired with any shift;
        ``recall``: share of shifted images inside blind spots;
        ``in_blind_spots``: their number; ``top_are_shifts``: blind spots
        exist and the first ``len(SHIFTS)`` of them are each dominated by a
        planted shift, not by clean images; ``cluster_purity``: share of
        all test images whose cluster's majority setting is their own (do
        the clusters separate the settings, before any error is looked at).
    """
    totals = Counter(setting_of.values())
    members_of = [{i for i in setting_of if cluster_of.get(i) in _clusters(s)} for s in spots]
    per_spot = []
    for spot, members in zip(spots, members_of):
        # Most frequent first; a tie goes to the setting listed first in TEST_MIX
        # ("clean" before any shift, so a tie never flatters the recovery).
        order = list(TEST_MIX)
        counts = sorted(Counter(setting_of[i] for i in members).items(), key=lambda kv: (-kv[1], order.index(kv[0])))
        dominant, hits = counts[0] if counts else ("none", 0)
        per_spot.append(
            {
                **spot,
                "counts": dict(counts),
                "dominant": dominant,
                "precision": hits / len(members) if members else float("nan"),
                "recall": hits / totals[dominant] if totals.get(dominant) else float("nan"),
            }
        )
    per_shift = []
    for shift in SHIFTS:
        inside = [sum(setting_of[i] == shift for i in m) for m in members_of]
        best = int(np.argmax(inside)) if inside and max(inside) > 0 else None
        per_shift.append(
            {
                "setting": shift,
                "recall": sum(inside) / totals[shift] if totals[shift] else float("nan"),
                "rank": None if best is None else per_spot[best]["rank"],
                "precision": float("nan") if best is None else inside[best] / len(members_of[best]),
            }
        )
    union = set().union(*members_of) if members_of else set()
    shifted = {i for i, s in setting_of.items() if s != "clean"}
    top = [s["dominant"] for s in per_spot[: len(SHIFTS)]]
    overall = {
        "precision": len(union & shifted) / len(union) if union else float("nan"),
        "recall": len(union & shifted) / len(shifted) if shifted else float("nan"),
        "in_blind_spots": len(union),
        "top_are_shifts": bool(top) and all(d in SHIFTS for d in top),
        "cluster_purity": _purity(cluster_of, setting_of),
    }
    return per_spot, per_shift, overall


def _clusters(spot: dict) -> set[int]:
    return {int(c) for c in str(spot["clusters"]).split("+")}


def _purity(cluster_of: dict[str, int], setting_of: dict[str, str]) -> float:
    """Share of images whose cluster's most frequent setting is their own setting."""
    by_cluster: dict[int, Counter] = {}
    for i, s in setting_of.items():
        if i in cluster_of:
            by_cluster.setdefault(cluster_of[i], Counter())[s] += 1
    n = sum(sum(c.values()) for c in by_cluster.values())
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / n if n else float("nan")
