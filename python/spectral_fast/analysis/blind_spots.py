"""Where a classifier's errors concentrate.

Given a cluster label per image and a per-image error for one finding, this
module answers: are errors concentrated at all (chi-square, a permutation test
against random partitions of the same sizes, share of errors in the worst
clusters), how each cluster fares (n, share, error rate with a Wilson
interval, lift, AUROC with a bootstrap interval, sensitivity, specificity,
share of errors, one-vs-rest p-value, Benjamini-Hochberg), and which clusters
are blind spots.

Blind spots are nodes of the tree over clusters (a cluster or a union of
sibling clusters) with lift >= ``lift_threshold`` and a family-wise p-value
below ``alpha`` under the tree-based scan statistic, taken greedily by
log-likelihood ratio, grown into siblings whose lift is at least
``grow_lift`` (and trimmed of a half below it), kept apart where two
qualifying groups' shifts (centres with the ordinary clusters' directions
removed) are less similar than ``min_similarity`` or fail in opposite
directions, and ranked by excess errors. With true labels, misses and false
alarms are scanned apart and all errors are measured against what the node's
label mix predicts (:mod:`spectral_fast.analysis.error_directions`); lift is
then observed over expected errors. The rules and their reasons:
``docs/method.md#blind-spots``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spectral_fast._shared.progress import counted
from spectral_fast._shared.stats import (
    auroc,
    bh_adjust,
    bootstrap_auroc,
    enrichment_p,
    is_probability,
    mutual_information_counts,
    permuted_counts,
    wilson_interval,
    worst_share,
)
from spectral_fast.errors import InvalidInputError

#: Cosine of two qualifying siblings' shifts (population directions removed) below which they are two blind spots.
MIN_SIMILARITY = 0.4
#: Share of the ordinary clusters' spread whose directions are removed before comparing shifts.
ORDINARY_SHARE = 0.8


def image_errors(
    truth: np.ndarray,
    *,
    score: np.ndarray | None = None,
    pred: np.ndarray | None = None,
    threshold: float = 0.5,
    finding: str = "finding",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-image error and loss of one binary finding.

    Parameters
    ----------
    truth : array of {0, 1}
        True labels (booleans accepted).
    score : array of float in [0, 1], optional
        Model scores; error is ``(score >= threshold) != truth`` and loss is
        binary cross-entropy (scores clipped to [1e-7, 1 - 1e-7]).
    pred : array of {0, 1}, optional
        Predicted labels, when there are no scores; loss is then the 0/1 error.
    threshold : float
        Operating point for scores.
    finding : str
        Names the finding in error messages.

    Returns
    -------
    error : ndarray of bool
    loss : ndarray of float
    truth : ndarray of bool
    """
    truth = np.asarray(truth, dtype=np.float64)
    if (score is None) == (pred is None):
        raise InvalidInputError(f"{finding}: give exactly one of a score column or a predicted-label column")
    if np.isnan(truth).any() or not np.isin(truth, (0.0, 1.0)).all():
        bad = np.unique(truth[~np.isin(truth, (0.0, 1.0))])[:5]
        raise InvalidInputError(f"{finding}: labels must be 0 or 1 for a binary finding, found {bad.tolist()}")
    t = truth.astype(bool)
    if score is not None:
        score = np.asarray(score, dtype=np.float64)
        if not (0.0 <= threshold <= 1.0):
            raise InvalidInputError(f"{finding}: threshold must be in [0, 1], got {threshold}")
        bad = ~is_probability(score)
        if bad.any():
            raise InvalidInputError(
                f"{finding}: scores must be probabilities in [0, 1] without NaN; {int(bad.sum())} are not "
                f"(e.g. {np.unique(score[bad])[:3].tolist()}); apply a sigmoid to logits first"
            )
        error = (score >= threshold) != t
        p = np.clip(score, 1e-7, 1.0 - 1e-7)
        loss = -(t * np.log(p) + (~t) * np.log(1.0 - p))
        return error, loss, t
    pred = np.asarray(pred, dtype=np.float64)
    if np.isnan(pred).any() or not np.isin(pred, (0.0, 1.0)).all():
        bad = np.unique(pred[~np.isin(pred, (0.0, 1.0))])[:5]
        raise InvalidInputError(f"{finding}: predicted labels must be 0 or 1, found {bad.tolist()}")
    error = pred.astype(bool) != t
    return error, error.astype(np.float64), t


@dataclass
class FindingResult:
    """Failure statistics of one finding (one label/score or label/prediction pair)."""

    finding: str
    clusters: list[dict]
    blind_spots: list[dict]
    summary: dict = field(default_factory=dict)


def analyze_finding(
    finding: str,
    labels: np.ndarray,
    error: np.ndarray,
    truth: np.ndarray,
    score: np.ndarray | None,
    members: list[list[int]],
    *,
    lift_threshold: float = 1.5,
    grow_lift: float = 1.25,
    alpha: float = 0.05,
    n_boot: int = 500,
    n_perm: int = 999,
    min_cluster_size: int = 5,
    seed: int | None = 0,
    centers: np.ndarray | None = None,
    min_similarity: float = MIN_SIMILARITY,
    draw_counts: bool = False,
) -> FindingResult:
    """All statistics of one finding.

    Parameters
    ----------
    finding : str
        Name used in the tables.
    labels : ndarray of int, shape (n,)
        Cluster of each image, ``0 .. k - 1``.
    error : ndarray of bool, shape (n,)
        Whether the model was wrong on each image.
    truth : ndarray of {0, 1}, shape (n,)
        True label (for AUROC, sensitivity, specificity).
    score : ndarray of float or None
        Model score in [0, 1]; None when only predicted labels are known
        (the AUROC columns are then NaN).
    members : list of list of int
        Clusters under each node of the tree (:func:`spectral_fast.analysis.cluster_tree.tree_members`).
    lift_threshold, grow_lift, alpha : float
        Blind-spot rule (module docstring).
    n_boot, n_perm : int
        Bootstrap resamples for AUROC intervals; random partitions for the permutation test.
    min_cluster_size : int
        Clusters smaller than this are left out of the max-lift statistic,
        where one unlucky image would otherwise decide it.
    seed : int or None
        Seed of the bootstrap and the permutations.
    centers : ndarray, shape (k, n_features), optional
        Cluster centres in scaled units (``SpectralClusters.cluster_centers_``).
        With them, two sibling groups that are each a blind spot but deviate
        from the typical profile in different directions stay two blind spots
        (module docstring); without them the tree alone decides.
    min_similarity : float
        Cosine similarity of the two groups' shifts (their centres with the
        ordinary clusters' directions removed) below which they are
        physically different.
    draw_counts : bool
        Permutation tests draw each permutation's counts per cluster from
        their exact distribution instead of shuffling images: the same tests,
        other random draws, and a cost independent of the number of images
        (``docs/method.md#archive-scale``; :func:`analyze` turns it on above
        ``max_fit_samples`` images).

    Returns
    -------
    FindingResult
    """
    labels = np.asarray(labels, dtype=np.int64)
    error = np.asarray(error, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    n = len(labels)
    if not (len(error) == len(truth) == n) or (score is not None and len(score) != n):
        raise InvalidInputError("labels, error, truth and score must have the same length")
    k = len(members) - (len(members) - 1) // 2  # members holds 2k - 1 nodes
    rng = np.random.default_rng(seed)
    total_err = int(error.sum())
    overall = total_err / n if n else float("nan")

    sizes = np.bincount(labels, minlength=k)
    errs = np.bincount(labels, weights=error.astype(np.float64), minlength=k).astype(np.int64)
    lo, hi = wilson_interval(errs, sizes)
    p_leaf = np.array([enrichment_p(int(errs[c]), int(sizes[c]), total_err, n) for c in range(k)])
    p_leaf_adj = bh_adjust(p_leaf)
    miss_rate = float(error[truth].mean()) if truth.any() else 0.0
    fa_rate = float(error[~truth].mean()) if (~truth).any() else 0.0
    rows = []
    for c in counted(range(k), k if score is not None else 0, f"AUROC bootstrap ({n_boot} resamples)", "cluster"):
        inside = labels == c
        t, e = truth[inside], error[inside]
        pos, neg = int(t.sum()), int((~t).sum())
        row = {
            "finding": finding,
            "cluster": c,
            "n": int(sizes[c]),
            "share": sizes[c] / n,
            "errors": int(errs[c]),
            "error_rate": errs[c] / sizes[c] if sizes[c] else float("nan"),
            "error_ci_low": float(lo[c]),
            "error_ci_high": float(hi[c]),
            "lift": (errs[c] / sizes[c]) / overall if sizes[c] and overall > 0 else float("nan"),
            "excess_errors": float(errs[c] - sizes[c] * overall),
            "misses": int(e[t].sum()),
            "false_alarms": int(e[~t].sum()),
            "expected_errors": float(pos * miss_rate + neg * fa_rate),
            "error_share": errs[c] / total_err if total_err else float("nan"),
            "sensitivity": float((~e[t]).sum() / pos) if pos else float("nan"),
            "specificity": float((~e[~t]).sum() / neg) if neg else float("nan"),
            "auroc": float("nan"),
            "auroc_ci_low": float("nan"),
            "auroc_ci_high": float("nan"),
            "auroc_note": "",
            "p_value": float(p_leaf[c]),
            "p_adjusted": float(p_leaf_adj[c]),
        }
        if score is not None:
            if pos and neg:
                row["auroc"] = auroc(t, score[inside])
                row["auroc_ci_low"], row["auroc_ci_high"] = bootstrap_auroc(t, score[inside], rng, n_boot)
            else:
                row["auroc_note"] = "undefined: only one class in this cluster"
        else:
            row["auroc_note"] = "undefined: predicted labels, no scores"
        rows.append(row)

    spots, p_scan = scan_blind_spots(
        labels, error, members, lift_threshold=lift_threshold, grow_lift=grow_lift, alpha=alpha, n_perm=n_perm,
        seed=seed, centers=centers, min_similarity=min_similarity, truth=truth, draw_counts=draw_counts,
    )  # fmt: skip
    for row in rows:
        row["blind_spot"], row["rank"], row["group"] = False, None, ""
    for spot in spots:
        for c in spot["clusters"]:
            rows[c]["blind_spot"], rows[c]["rank"], rows[c]["group"] = True, spot["rank"], spot["name"]

    summary = concentration(labels, error, k, n_perm=n_perm, min_cluster_size=min_cluster_size, rng=rng,
                            draw_counts=draw_counts)  # fmt: skip
    summary.update(
        finding=finding,
        n=n,
        errors=total_err,
        error_rate=overall,
        auroc=auroc(truth, score) if score is not None else float("nan"),
        blind_spots=len(spots),
        scan_p=p_scan,
    )
    return FindingResult(finding, rows, spots, summary)


def find_blind_spots(
    labels: np.ndarray,
    error: np.ndarray,
    members: list[list[int]],
    *,
    lift_threshold: float = 1.5,
    grow_lift: float = 1.25,
    alpha: float = 0.05,
    n_perm: int = 999,
    seed: int | None = 0,
    centers: np.ndarray | None = None,
    min_similarity: float = MIN_SIMILARITY,
    truth: np.ndarray | None = None,
    draw_counts: bool = False,
) -> list[dict]:
    """Blind spots among the tree's nodes (module docstring), ranked by excess errors.

    Each spot carries ``direction`` (``misses``, ``false_alarms`` or ``both``
    with ``truth``; ``errors`` without), its counts against the label-mix
    expectation (:mod:`spectral_fast.analysis.error_directions`), ``p_value``
    (one-sided, hypergeometric within the direction's label; Poisson for
    ``both``), ``p_adjusted`` (Benjamini-Hochberg over all node-directions,
    reported) and ``p_scan`` (the tree scan's family-wise p-value, which
    decides). A node whose two children are blind spots of opposite
    directions is never a blind spot. ``centers`` and ``min_similarity`` as
    in :func:`analyze_finding`, and ``draw_counts``.
    """
    return scan_blind_spots(
        labels, error, members, lift_threshold=lift_threshold, grow_lift=grow_lift, alpha=alpha, n_perm=n_perm,
        seed=seed, centers=centers, min_similarity=min_similarity, truth=truth, draw_counts=draw_counts,
    )[0]  # fmt: skip


def scan_blind_spots(
    labels: np.ndarray,
    error: np.ndarray,
    members: list[list[int]],
    *,
    lift_threshold: float = 1.5,
    grow_lift: float = 1.25,
    alpha: float = 0.05,
    n_perm: int = 999,
    seed: int | None = 0,
    centers: np.ndarray | None = None,
    min_similarity: float = MIN_SIMILARITY,
    truth: np.ndarray | None = None,
    draw_counts: bool = False,
) -> tuple[list[dict], float]:
    """:func:`find_blind_spots` and the scan's global p-value (that of the largest LLR over all node-directions)."""
    from spectral_fast.analysis.error_directions import DirectionCounts

    labels = np.asarray(labels, dtype=np.int64)
    error = np.asarray(error, dtype=bool)
    n, total = len(labels), int(error.sum())
    if n == 0 or total == 0 or total == n:
        return [], float("nan")  # no errors, or nothing but errors: nothing can stand out
    if truth is not None and len(truth) != n:
        raise InvalidInputError("truth must have one label per image")
    counts = DirectionCounts(labels, error, truth, members)
    k = counts.k
    sizes = np.bincount(labels, minlength=k)
    nodes = {d: counts.nodes(d) for d in counts.directions}
    p_scan = counts.scan_p_values({d: np.array([x["llr"] for x in nodes[d]]) for d in nodes}, n_perm, seed,
                                  draw_counts=draw_counts)  # fmt: skip
    flat = [x for d in nodes for x in nodes[d]]
    for x, q in zip(flat, bh_adjust(np.array([x["p_value"] for x in flat]))):
        x["p_adjusted"] = float(q)
    for d in nodes:
        for x, ps in zip(nodes[d], p_scan[d]):
            x["p_scan"] = float(ps)
    qualifying = {
        d: [x for x in nodes[d] if x["population"] and x["lift"] >= lift_threshold and x["p_scan"] < alpha]
        for d in nodes
    }
    if "both" in qualifying:  # all errors count as one direction only where both directions are elevated
        qualifying["both"] = [x for x in qualifying["both"] if _both_ways(nodes, x["node"], grow_lift)]
    parent: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    for node, clusters in enumerate(members[k:], start=k):
        children[node] = [c for c in range(node) if c not in parent and set(members[c]) < set(clusters)]
        parent.update(dict.fromkeys(children[node], node))
    sibling = {c: next(o for o in children[p] if o != c) for c, p in parent.items()}
    # Ordinary clusters: not elevated in any direction (a miss spot is not ordinary when scanning false alarms).
    ordinary = [c for c in range(k) if not any(nodes[d][c]["lift"] >= grow_lift for d in nodes)]
    distinct = set()
    for d in nodes:
        distinct |= _distinct_merges(members, ordinary, qualifying[d], sizes, centers, min_similarity)
    distinct |= _opposite_merges(children, qualifying)
    # A union of two different blind spots is not one blind spot:
    # neither a candidate itself nor a node a candidate grows into.
    mixed = {node for node in range(k, len(members)) if any(set(members[d]) <= set(members[node]) for d in distinct)}
    candidates = [x for d in nodes for x in qualifying[d] if x["node"] not in mixed]
    chosen: list[dict] = []
    taken: set[int] = set()
    for x in sorted(candidates, key=lambda x: (-x["llr"], x["node"])):
        # Trim a half that is not itself elevated (the scan's largest LLR can
        # take ordinary clusters in with the slice), then grow toward the root
        # while the sibling group is itself elevated: with few images a cluster
        # of the slice can draw a low error count by chance, and the spectral
        # tree says it belongs with its sibling. One rule both ways: a spot
        # holds no half below ``grow_lift``.
        d, node = x["direction"], x["node"]
        if d != "both" and "both" in nodes and _both_ways(nodes, node, grow_lift):
            d = "both"  # a group wrong both ways is one spot of all its errors
        node = _trimmed(node, children, nodes[d], grow_lift, lift_threshold, alpha)
        while node in parent and parent[node] not in mixed and nodes[d][parent[node]]["p_scan"] < alpha:
            sib = nodes[d][sibling[node]]
            if not sib["population"] or not sib["lift"] >= grow_lift:
                break
            node = parent[node]
        x = nodes[d][node]
        if taken.isdisjoint(x["clusters"]):
            chosen.append(x)
            taken.update(x["clusters"])
    chosen.sort(key=lambda x: (-x["excess_errors"], x["node"]))
    by_node = {d: {x["node"]: x for x in nodes[d]} for d in nodes}
    for rank, x in enumerate(chosen, start=1):
        x["rank"] = rank
        x["share"] = x["n"] / n
        x["error_ci_low"], x["error_ci_high"] = (float(v) for v in wilson_interval(x["errors"], x["population"]))
        x["name"] = "+".join(str(c) for c in x["clusters"])
        if truth is not None:
            x["misses"] = by_node["misses"][x["node"]]["errors"]
            x["false_alarms"] = by_node["false_alarms"][x["node"]]["errors"]
            x["label_pure"] = "label 1 only" if x["n_negative"] == 0 else "label 0 only" if x["n_positive"] == 0 else ""
        else:
            x["misses"] = x["false_alarms"] = None
            x["label_pure"] = ""
    return chosen, float(min(p.min() for p in p_scan.values()))


def _trimmed(
    node: int, children: dict[int, list[int]], nodes: list[dict], grow_lift: float, lift_threshold: float, alpha: float
) -> int:
    """The candidate without a half whose own lift is below ``grow_lift``: its other half, while that half qualifies.

    Growth adds a sibling only at ``grow_lift``; without trimming, a node the
    scan picks directly could still hold such a half (on 468 NIH images a
    sharpened slice and 141 ordinary images at lift 1.19 were one spot at
    precision 0.43). ``docs/method.md#blind-spots``.
    """
    while node in children:
        a, b = sorted(children[node], key=lambda c: (nodes[c]["lift"], -c))
        if not nodes[a]["lift"] < grow_lift:
            break
        if not (nodes[b]["population"] and nodes[b]["lift"] >= lift_threshold and nodes[b]["p_scan"] < alpha):
            break
        node = b
    return node


def _both_ways(nodes: dict[str, list[dict]], node: int, grow_lift: float) -> bool:
    """Misses and false alarms both at least ``grow_lift`` times their label's overall rate in this node."""
    return all(nodes[d][node]["lift"] >= grow_lift for d in ("misses", "false_alarms"))


def _opposite_merges(children: dict[int, list[int]], qualifying: dict[str, list[dict]]) -> set[int]:
    """Tree merges whose children are blind spots of opposite directions (misses on one side, false alarms on the other)."""
    if "misses" not in qualifying:
        return set()
    miss = {x["node"] for x in qualifying["misses"]}
    fa = {x["node"] for x in qualifying["false_alarms"]}
    out = set()
    for node, (a, b) in children.items():
        if (a in miss - fa and b in fa - miss) or (b in miss - fa and a in fa - miss):
            out.add(node)
    return out


def _distinct_merges(
    members: list[list[int]],
    ordinary: list[int],
    qualifying: list[dict],
    sizes: np.ndarray,
    centers: np.ndarray | None,
    min_similarity: float,
) -> set[int]:
    """Tree merges that join two physically different blind spots.

    A merge is distinct when two groups inside it qualify as blind spots on
    their own (the largest such groups, which in a tree are disjoint; often
    its two children, but a qualifying group can sit deeper, beside ordinary
    clusters) and their shifts point different ways: the cosine similarity of
    their centres (size-weighted means of the cluster centres, i.e. their
    deviations from the typical profile in scaled units), with the directions
    in which the ``ordinary`` clusters (elevated in no direction) differ from
    each other projected out (:func:`_ordinary_directions`), is below
    ``min_similarity``. The projection removes what anatomy and patient mix
    add to a deviation, so one change split by anatomy stays parallel and two
    changes stay apart. Requiring both groups to qualify keeps a slice that
    the clustering split by chance into a strong and a weak part together even
    when the weak part's centre is noisy.
    """
    k = len(members) - (len(members) - 1) // 2
    if centers is None:
        return set()
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or len(centers) != k:
        raise InvalidInputError(f"centers: expected one row per cluster ({k}), got an array of shape {centers.shape}")
    weight = sizes.astype(np.float64)
    ok = {x["node"] for x in qualifying}
    basis = _ordinary_directions(centers, weight, ordinary)

    def shift(node: int) -> np.ndarray:
        w = weight[members[node]]
        v = (centers[members[node]] * w[:, None]).sum(axis=0) / max(w.sum(), 1.0)
        return v - basis.T @ (basis @ v)

    def apart(a: int, b: int) -> bool:
        ca, cb = shift(a), shift(b)
        norm = float(np.linalg.norm(ca) * np.linalg.norm(cb))
        return norm == 0 or float(ca @ cb) / norm < min_similarity

    sets = [set(m) for m in members]
    distinct = set()
    for node in range(k, len(members)):
        inside = [q for q in ok if q != node and sets[q] < sets[node]]
        largest = [q for q in inside if not any(sets[q] < sets[o] for o in inside)]  # disjoint in a tree
        if any(apart(a, b) for i, a in enumerate(largest) for b in largest[i + 1 :]):
            distinct.add(node)
    return distinct


def _ordinary_directions(centers: np.ndarray, weight: np.ndarray, ordinary: list[int]) -> np.ndarray:
    """Orthonormal rows spanning ``ORDINARY_SHARE`` of the size-weighted spread of the ordinary clusters' centres.

    Ordinary clusters fail at less than ``grow_lift`` times the overall rate in
    every direction; what tells them apart is the population (anatomy, body
    habitus, patient mix), not a failing acquisition. Fewer than two holding
    images: nothing to learn, an empty basis.
    """
    ordinary = [c for c in ordinary if weight[c] > 0]
    if len(ordinary) < 2:
        return np.zeros((0, centers.shape[1]))
    w = weight[ordinary] / weight[ordinary].sum()
    spread = (centers[ordinary] - w @ centers[ordinary]) * np.sqrt(w)[:, None]
    _, singular, rows = np.linalg.svd(spread, full_matrices=False)
    power = singular**2
    if not power.sum() > 0:
        return np.zeros((0, centers.shape[1]))
    keep = int(np.searchsorted(np.cumsum(power) / power.sum(), ORDINARY_SHARE) + 1)
    return rows[:keep]


def scan_p_values(
    labels: np.ndarray,
    error: np.ndarray,
    members: list[list[int]],
    llr: np.ndarray,
    *,
    n_perm: int = 999,
    seed: int | None = 0,
) -> np.ndarray:
    """Family-wise p-value of each node's log-likelihood ratio under the tree scan.

    Errors are permuted over images ``n_perm`` times; each time the largest
    Bernoulli LLR over all nodes is recorded. A node's p-value is
    ``(1 + #{max LLR >= its LLR}) / (1 + n_perm)`` (Kulldorff's tree-based
    scan statistic): exact for the nested, strongly dependent family of
    nodes, where Benjamini-Hochberg over nodes would count one slice's
    ancestors as separate discoveries and lose power.
    """
    from scipy.special import xlogy

    k = len(members) - (len(members) - 1) // 2
    n, total = len(labels), int(np.sum(error))
    onehot = np.zeros((len(members), k))
    for node, clusters in enumerate(members):
        onehot[node, clusters] = 1.0
    sizes = onehot @ np.bincount(labels, minlength=k)
    rng = np.random.default_rng(seed)
    perm_err = np.empty((n_perm, k))
    for i in range(n_perm):
        perm_err[i] = np.bincount(labels, weights=rng.permutation(error).astype(np.float64), minlength=k)
    c = perm_err @ onehot.T  # (n_perm, nodes) errors per node
    m, C, N = sizes[None, :], float(total), float(n)

    def ll(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, xlogy(a, a / b) + xlogy(b - a, 1.0 - a / b), 0.0)

    inside_rate = np.divide(c, m, out=np.zeros_like(c), where=m > 0)
    outside_rate = np.divide(C - c, N - m, out=np.zeros_like(c), where=(N - m) > 0)
    perm_llr = np.where((m > 0) & (m < N) & (inside_rate > outside_rate), ll(c, m) + ll(C - c, N - m) - ll(C, N), 0.0)
    max_llr = perm_llr.max(axis=1)
    return np.array([(1 + np.sum(max_llr >= v - 1e-9)) / (1 + n_perm) if v > 0 else 1.0 for v in llr])


def concentration(
    labels: np.ndarray,
    error: np.ndarray,
    k: int,
    *,
    n_perm: int = 999,
    min_cluster_size: int = 5,
    rng: np.random.Generator | None = None,
    draw_counts: bool = False,
) -> dict:
    """Is failure concentrated at all? Chi-square, permutation tests and worst-cluster shares.

    The permutation test shuffles errors over images, which is the same as
    drawing random partitions with the observed cluster sizes; statistics are
    the largest lift (clusters of at least ``min_cluster_size``) and the
    mutual information between cluster and error. p = (1 + #{perm >= obs}) /
    (1 + n_perm). ``draw_counts`` draws each permutation's errors per cluster
    from their exact distribution instead of shuffling images
    (:func:`~spectral_fast._shared.stats.permuted_counts`; archive scale).
    """
    from scipy.stats import chi2_contingency

    rng = rng or np.random.default_rng(0)
    labels = np.asarray(labels, dtype=np.int64)
    error = np.asarray(error, dtype=bool)
    sizes = np.bincount(labels, minlength=k)
    big = sizes >= min_cluster_size
    table = np.zeros((k, 2))
    np.add.at(table, (labels, error.astype(np.int64)), 1.0)
    present = table.sum(axis=1) > 0
    out: dict = {"chi2": float("nan"), "chi2_dof": 0, "chi2_p": float("nan")}
    if error.any() and not error.all() and present.sum() > 1:
        chi2, p, dof, _ = chi2_contingency(table[present], correction=False)
        out.update(chi2=float(chi2), chi2_dof=int(dof), chi2_p=float(p))

    total, n = int(error.sum()), len(labels)

    def max_lift(errs: np.ndarray) -> float:
        if not big.any() or not total:
            return float("nan")
        return float((errs[big] / sizes[big]).max() / (total / n))

    def cluster_errors(err: np.ndarray) -> np.ndarray:
        return np.bincount(labels, weights=err.astype(np.float64), minlength=k)

    observed = cluster_errors(error)
    obs_lift, obs_mi = max_lift(observed), mutual_information_counts(observed, sizes)
    drawn = permuted_counts(sizes, total, n_perm, rng) if draw_counts else None
    perm_lift = np.empty(n_perm)
    perm_mi = np.empty(n_perm)
    for i in counted(range(n_perm), n_perm, "concentration permutations", "perm"):
        errs = drawn[i] if drawn is not None else cluster_errors(rng.permutation(error))
        perm_lift[i] = max_lift(errs)
        perm_mi[i] = mutual_information_counts(errs, sizes)
    valid = error.any() and not error.all() and n_perm > 0
    out.update(
        max_lift=obs_lift,
        perm_p_max_lift=float((1 + (perm_lift >= obs_lift - 1e-12).sum()) / (1 + n_perm)) if valid else float("nan"),
        mutual_information=obs_mi,
        perm_p_mutual_information=float((1 + (perm_mi >= obs_mi - 1e-12).sum()) / (1 + n_perm))
        if valid
        else float("nan"),
        n_perm=n_perm,
        worst_share_10=worst_share(labels, error, k, 0.10),
        worst_share_20=worst_share(labels, error, k, 0.20),
    )
    return out
