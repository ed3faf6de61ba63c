"""The tree over clusters: Ward merges of cluster centres, and the members of each node."""

from __future__ import annotations

import math

import numpy as np


def ward_tree(centers: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Weighted Ward agglomeration of cluster centres (scipy linkage layout).

    The merge cost of groups A and B is ``sqrt(2 n_A n_B / (n_A + n_B)) *
    ||c_A - c_B||``: the rise in within-group sum of squares, so large
    clusters are not swallowed by their nearest tiny neighbour.
    """
    k = len(centers)
    nodes = {i: (np.asarray(centers[i], dtype=np.float64), float(sizes[i])) for i in range(k)}
    merges = np.zeros((max(k - 1, 0), 4))
    for step in range(k - 1):
        keys = sorted(nodes)
        best = None
        for ai, a in enumerate(keys):
            for b in keys[ai + 1 :]:
                (ca, na), (cb, nb) = nodes[a], nodes[b]
                cost = math.sqrt(2.0 * na * nb / (na + nb)) * float(np.linalg.norm(ca - cb))
                if best is None or cost < best[0]:
                    best = (cost, a, b)
        cost, a, b = best
        (ca, na), (cb, nb) = nodes.pop(a), nodes.pop(b)
        nodes[k + step] = ((na * ca + nb * cb) / (na + nb), na + nb)
        merges[step] = (a, b, cost, na + nb)
    return merges


def tree_members(tree: np.ndarray, n_clusters: int) -> list[list[int]]:
    """Clusters under each node: leaves ``0 .. k - 1``, then one entry per merge."""
    members: list[list[int]] = [[i] for i in range(n_clusters)]
    for a, b, _, _ in tree:
        members.append(sorted(members[int(a)] + members[int(b)]))
    return members
