"""Error counts of the tree's nodes by direction, against what the label mix predicts, and their scan.

A classifier fails in two ways that have different causes: misses (label 1,
predicted 0) and false alarms (label 0, predicted 1). With the true labels,
every node of the tree over clusters is scored three times:

* ``misses``: misses among the node's label-1 images, against the overall
  miss rate (Bernoulli log-likelihood ratio within the label-1 images);
* ``false_alarms``: the same among label-0 images;
* ``both``: all errors against the count the node's label mix predicts,
  ``expected = n_label1 * miss_rate + n_label0 * false_alarm_rate``
  (Poisson log-likelihood ratio with these expectations), so a cluster of
  mostly label-1 images is not a blind spot merely because positives are
  harder.

Without labels only ``errors`` (all errors against the overall rate,
Bernoulli) is scored, the behaviour before directions existed. The scan's
permutations shuffle errors within each label, which keeps the label mix
and each label's error rate, and take the largest LLR over all nodes and
directions: a node-direction's ``p_scan`` is family-wise over all of them.
Why: ``docs/method.md#error-direction-and-label-mix``.
"""

from __future__ import annotations

import numpy as np

from spectral_fast._shared.progress import counted
from spectral_fast._shared.stats import enrichment_p, permuted_counts

#: Directions scored with true labels, and without them.
WITH_LABELS = ("misses", "false_alarms", "both")
WITHOUT_LABELS = ("errors",)


def _onehot(members: list[list[int]], k: int) -> np.ndarray:
    out = np.zeros((len(members), k))
    for node, clusters in enumerate(members):
        out[node, clusters] = 1.0
    return out


def _bernoulli(c: np.ndarray, m: np.ndarray, total_c: float, total_n: float) -> np.ndarray:
    """Kulldorff's Bernoulli LLR per entry (0 where the inside rate is not above the outside rate)."""
    from scipy.special import xlogy

    def ll(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                b > 0, xlogy(a, a / np.where(b > 0, b, 1)) + xlogy(b - a, 1.0 - a / np.where(b > 0, b, 1)), 0
            )

    inside = np.divide(c, m, out=np.zeros_like(c), where=m > 0)
    outside = np.divide(total_c - c, total_n - m, out=np.zeros_like(c), where=(total_n - m) > 0)
    ok = (m > 0) & (m < total_n) & (inside > outside)
    return np.where(ok, ll(c, m) + ll(total_c - c, total_n - m) - ll(total_c, total_n), 0.0)


def _poisson(c: np.ndarray, expected: np.ndarray, total_c: float) -> np.ndarray:
    """Kulldorff's Poisson LLR with expected counts (0 where observed <= expected)."""
    from scipy.special import xlogy

    e = np.broadcast_to(expected, c.shape)
    ok = (c > e) & (e > 0) & (e < total_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        safe_e = np.where(ok, e, 1.0)
        rest = np.where(ok, total_c - safe_e, 1.0)
        v = xlogy(c, c / safe_e) + xlogy(total_c - c, np.where(ok, (total_c - c) / rest, 1.0))
    return np.where(ok, v, 0.0)


class DirectionCounts:
    """Per-node counts, expectations and LLRs of each direction (module docstring)."""

    def __init__(self, labels: np.ndarray, error: np.ndarray, truth: np.ndarray | None, members: list[list[int]]):
        self.labels = np.asarray(labels, dtype=np.int64)
        self.error = np.asarray(error, dtype=bool)
        self.truth = None if truth is None else np.asarray(truth, dtype=bool)
        self.members = members
        self.k = len(members) - (len(members) - 1) // 2
        self.onehot = _onehot(members, self.k)
        self.directions = WITHOUT_LABELS if self.truth is None else WITH_LABELS
        lab = self.labels
        self.n_node = self.onehot @ np.bincount(lab, minlength=self.k)
        self.n = len(lab)
        if self.truth is None:
            self.pos_node = np.full(len(members), np.nan)
            self.neg_node = np.full(len(members), np.nan)
            self.n_pos = self.n_neg = float("nan")
            self.miss_rate = self.fa_rate = float("nan")
        else:
            t = self.truth
            self.pos_node = self.onehot @ np.bincount(lab, weights=t.astype(np.float64), minlength=self.k)
            self.neg_node = self.n_node - self.pos_node
            self.n_pos, self.n_neg = float(t.sum()), float((~t).sum())
            self.misses_total = float((self.error & t).sum())
            self.fa_total = float((self.error & ~t).sum())
            self.miss_rate = self.misses_total / self.n_pos if self.n_pos else 0.0
            self.fa_rate = self.fa_total / self.n_neg if self.n_neg else 0.0
        self.total_errors = float(self.error.sum())

    def cluster_counts(self, error: np.ndarray) -> dict[str, np.ndarray]:
        """Cases per cluster of each direction for an error vector (observed or permuted)."""
        lab, k = self.labels, self.k
        if self.truth is None:
            return {"errors": np.bincount(lab, weights=error.astype(np.float64), minlength=k)}
        miss = np.bincount(lab, weights=(error & self.truth).astype(np.float64), minlength=k)
        fa = np.bincount(lab, weights=(error & ~self.truth).astype(np.float64), minlength=k)
        return {"misses": miss, "false_alarms": fa, "both": miss + fa}

    def population(self, direction: str) -> tuple[np.ndarray, float, float]:
        """Images each node's rate is taken over, the total of them, and the total cases."""
        if direction == "misses":
            return self.pos_node, self.n_pos, self.misses_total
        if direction == "false_alarms":
            return self.neg_node, self.n_neg, self.fa_total
        return self.n_node, float(self.n), self.total_errors

    def expected(self, direction: str) -> np.ndarray:
        """Expected cases per node: the label mix times each label's overall rate (the overall rate without labels)."""
        if direction == "both":
            return self.pos_node * self.miss_rate + self.neg_node * self.fa_rate
        pop, total_n, total_c = self.population(direction)
        return pop * (total_c / total_n if total_n else 0.0)

    def llr(self, direction: str, node_cases: np.ndarray) -> np.ndarray:
        """LLR of each node (columns) for node case counts of shape (..., nodes)."""
        if direction == "both":
            return _poisson(node_cases, self.expected("both"), self.total_errors)
        pop, total_n, total_c = self.population(direction)
        return _bernoulli(node_cases, np.broadcast_to(pop, node_cases.shape), total_c, total_n)

    def nodes(self, direction: str) -> list[dict]:
        """Statistics of every node in one direction (without ``p_scan``)."""
        cases = self.onehot @ self.cluster_counts(self.error)[direction]
        pop, total_n, total_c = self.population(direction)
        expected = self.expected(direction)
        llr = self.llr(direction, cases)
        out = []
        for node, clusters in enumerate(self.members):
            c, m, e = int(round(cases[node])), int(pop[node]), float(expected[node])
            if direction == "both":
                from scipy.stats import poisson

                p = float(poisson.sf(c - 1, e)) if e > 0 else 1.0
            else:
                p = enrichment_p(c, m, int(total_c), int(total_n))
            out.append(
                {
                    "node": node,
                    "clusters": list(clusters),
                    "direction": direction,
                    "n": int(self.n_node[node]),
                    "population": m,
                    "errors": c,
                    "expected_errors": e,
                    "error_rate": c / m if m else float("nan"),
                    "lift": c / e if e > 0 else float("nan"),
                    "excess_errors": c - e,
                    "p_value": p,
                    "llr": float(llr[node]),
                    "n_positive": int(self.pos_node[node]) if self.truth is not None else None,
                    "n_negative": int(self.neg_node[node]) if self.truth is not None else None,
                }
            )
        return out

    def scan_p_values(
        self, observed_llr: dict[str, np.ndarray], n_perm: int, seed: int | None, *, draw_counts: bool = False
    ) -> dict[str, np.ndarray]:
        """Family-wise p-value of each node-direction LLR: errors permuted within each label (module docstring).

        ``draw_counts``: each permutation's cases per cluster are drawn from
        their exact distribution (:func:`~spectral_fast._shared.stats.permuted_counts`)
        instead of shuffling the images, for archive-scale tables.
        """
        rng = np.random.default_rng(seed)
        if draw_counts:
            batch = self._drawn_counts(n_perm, rng)
        else:
            batch = self._shuffled_counts(n_perm, rng)
        max_llr = np.zeros(n_perm)
        for d in self.directions:
            max_llr = np.maximum(max_llr, self.llr(d, batch[d] @ self.onehot.T).max(axis=1))
        return {
            d: np.array([(1 + np.sum(max_llr >= v - 1e-9)) / (1 + n_perm) if v > 0 else 1.0 for v in observed_llr[d]])
            for d in self.directions
        }

    def _drawn_counts(self, n_perm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Cases per cluster of each direction in ``n_perm`` permutations within labels, drawn per cluster."""
        sizes = np.bincount(self.labels, minlength=self.k)
        if self.truth is None:
            return {"errors": permuted_counts(sizes, int(self.total_errors), n_perm, rng)}
        pos = np.bincount(self.labels, weights=self.truth.astype(np.float64), minlength=self.k).astype(np.int64)
        miss = permuted_counts(pos, int(self.misses_total), n_perm, rng)
        fa = permuted_counts(sizes - pos, int(self.fa_total), n_perm, rng)
        return {"misses": miss, "false_alarms": fa, "both": miss + fa}

    def _shuffled_counts(self, n_perm: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Cases per cluster of each direction in ``n_perm`` shuffles of the errors within labels."""
        strata = (
            [np.arange(self.n)] if self.truth is None else [np.flatnonzero(self.truth), np.flatnonzero(~self.truth)]
        )
        batch = {d: np.empty((n_perm, self.k)) for d in self.directions}
        for i in counted(range(n_perm), n_perm, "scan permutations", "perm"):
            if self.truth is None:
                perm = rng.permutation(self.error)
            else:
                perm = self.error.copy()
                for idx in strata:
                    perm[idx] = rng.permutation(self.error[idx])
            for d, v in self.cluster_counts(perm).items():
                batch[d][i] = v
        return batch
