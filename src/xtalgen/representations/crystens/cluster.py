"""1-D clustering with the number of clusters found automatically.

Replaces the fixed-K K-means of the CrysTens paper (3 clusters for Z, 6 per coordinate axis): atomic
numbers are grouped by a penalised k-means whose K minimises a noise-scaled cost; coordinate values by
complete linkage with a distance cut-off. In both cases K comes from the tensor itself.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform


def _labels(dist: np.ndarray, tol: float) -> np.ndarray:
    """Complete-linkage flat clusters: every cluster has diameter <= tol."""
    n = dist.shape[0]
    if n == 1:
        return np.zeros(1, dtype=int)
    z = linkage(squareform(dist, checks=False), method="complete")
    return fcluster(z, t=tol, criterion="distance") - 1


def cluster_integers(values: np.ndarray, sigma: float, penalty: float = 2.0) -> tuple[np.ndarray, int]:
    """Assign noisy integer-valued observations (atomic numbers) to integers, preferring few distinct ones.

    Minimises ``sum_i (v_i - k_i)^2 / (2 sigma^2) + penalty * (number of distinct k)`` over integer
    labels (penalised 1-D k-means, "DP-means", with integer centres), solved exactly by dynamic
    programming over the sorted values. ``sigma`` is the noise of one value (same units); with
    ``penalty=0`` this is plain rounding. Returns (integer labels as float array, number of clusters).
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0:
        return v.copy(), 0
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    order = np.argsort(v, kind="stable")
    zs = v[order]
    c1 = np.concatenate([[0.0], np.cumsum(zs)])
    c2 = np.concatenate([[0.0], np.cumsum(zs * zs)])
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=int)
    scale = 1.0 / (2.0 * sigma * sigma)
    for j in range(1, n + 1):  # best[j]: optimal cost of the first j sorted values
        i = np.arange(j)
        cnt = j - i
        s = c1[j] - c1[i]
        k = np.rint(s / cnt)
        cost = best[:j] + (c2[j] - c2[i] - 2.0 * k * s + cnt * k * k) * scale + penalty
        m = int(np.argmin(cost))
        best[j], start[j] = cost[m], m
    labels = np.empty(n)
    j, groups = n, 0
    while j > 0:
        i = start[j]
        labels[i:j] = np.rint(zs[i:j].mean())
        j, groups = i, groups + 1
    out = np.empty(n)
    out[order] = labels
    return out, groups


def cluster_periodic(values: np.ndarray, tol: float, period: float = 1.0) -> tuple[np.ndarray, int]:
    """Like :func:`cluster_linear` for periodic values (fractional coordinates, period 1).

    Distances are minimum-image; cluster means are taken around the first member so 0.999 and 0.001
    average to 0.0. Results are wrapped into [0, period).
    """
    v = np.asarray(values, dtype=np.float64) % period
    if v.size == 0 or tol <= 0:
        return v, int(np.unique(v).size)
    d = np.abs(v[:, None] - v[None, :])
    d = np.minimum(d, period - d)
    labels = _labels(d, tol)
    _, first = np.unique(labels, return_index=True)  # labels are 0..n-1
    n = first.size
    ref = v[first][labels]
    unwrapped = ref + (v - ref + 0.5 * period) % period - 0.5 * period
    means = np.bincount(labels, weights=unwrapped) / np.bincount(labels)
    return means[labels] % period, n
