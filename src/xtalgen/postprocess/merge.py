"""Cluster and merge colliding atoms of the same element (PGCGM, seed 000, Fig. 3).

A generated base site slightly off its special position is mapped by the space-group ops to a
small cloud of images instead of one atom (Fd-3m: up to 192 images per site). Atoms of the same
element are clustered hierarchically (scipy, complete linkage on periodic minimum-image distances)
and every cluster whose diameter is below ``factor × r`` (r = atomic radius of the element, Å,
:mod:`xtalgen.data.radii`) becomes one atom at the periodic mean of its members. Atoms of different elements
are never merged.

Default ``factor = 1.0``: in 5,000 random Materials Project structures the shortest same-element
distance is ≥ 1.35 r in 99.9 % of them and ≥ 0.98 r in all (median 2.06 r; see
``benchmarks/pgcgm_postprocess_calibration.py``), so a cluster at most one radius wide is never two
real atoms, while the image clouds of a slightly misplaced site are far smaller.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymatgen.core import Lattice, Structure
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from xtalgen.data.radii import atomic_radius

DEFAULT_MERGE_FACTOR = 1.0


def periodic_mean(frac: np.ndarray) -> np.ndarray:
    """Mean (3,) in [0, 1) of fractional points (n, 3) that lie within half a cell of the first one."""
    frac = np.asarray(frac, dtype=np.float64)
    delta = frac - frac[0]
    delta -= np.round(delta)
    mean = frac[0] + delta.mean(axis=0)
    return mean - np.floor(mean)


def cluster_means(frac: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Periodic mean (n_clusters, 3) of each cluster, ordered by the cluster's first member.

    Same as :func:`periodic_mean` per cluster (members unwrapped next to the cluster's first member).
    """
    frac = np.asarray(frac, dtype=np.float64)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    ref = frac[first][inverse]
    delta = frac - ref
    delta -= np.round(delta)
    sums = np.zeros((len(first), 3))
    np.add.at(sums, inverse, delta)
    means = frac[first] + sums / np.bincount(inverse)[:, None]
    means -= np.floor(means)
    return means[np.argsort(first)]


def periodic_distances(frac: np.ndarray, matrix: np.ndarray, exact_below: float) -> np.ndarray:
    """Minimum-image distance matrix (n, n) in Å, exact for all distances below ``exact_below`` Å.

    Rounding each fractional difference to the nearest image is exact for every pair whose true
    minimum-image distance is below half the smallest interplanar spacing of the cell; only when
    ``exact_below`` exceeds that is pymatgen's full image search used. Distances at or above
    ``exact_below`` may be over-estimated (they are "far" either way for clustering).
    """
    frac = np.asarray(frac, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(matrix), axis=0).max()
    if exact_below < 0.5 * spacing:
        diff = frac[:, None, :] - frac[None, :, :]
        diff -= np.round(diff)
        cart = diff @ matrix
        return np.sqrt(np.einsum("ijk,ijk->ij", cart, cart))
    dist = np.asarray(Lattice(matrix).get_all_distances(frac, frac))
    return 0.5 * (dist + dist.T)


def cluster_labels(frac: np.ndarray, lattice, threshold: float, method: str = "complete") -> np.ndarray:
    """Cluster labels (n,) of fractional points: hierarchical clustering cut at ``threshold`` Å.

    ``lattice`` is a pymatgen Lattice or a row matrix (3, 3); distances are periodic minimum-image.
    """
    n = len(frac)
    if n < 2:
        return np.ones(n, dtype=np.int64)
    matrix = lattice.matrix if isinstance(lattice, Lattice) else lattice
    dist = periodic_distances(frac, matrix, exact_below=threshold * 1.001)
    np.fill_diagonal(dist, np.inf)
    if not np.any(dist <= threshold):  # no pair close enough to join: every point its own cluster
        return np.arange(1, n + 1, dtype=np.int64)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method=method)
    return fcluster(tree, t=threshold, criterion="distance").astype(np.int64)


def merge_arrays(
    matrix: np.ndarray,
    symbols: Sequence[str],
    frac: np.ndarray,
    *,
    factor: float = DEFAULT_MERGE_FACTOR,
    method: str = "complete",
) -> tuple[list[str], np.ndarray]:
    """:func:`merge_close_atoms` on plain arrays: row lattice matrix (3, 3) Å, symbols (N,), frac (N, 3).

    Returns the merged symbols and fractional coords (in [0, 1)).
    """
    if factor < 0:
        raise ValueError(f"merge factor must be >= 0, got {factor}")
    matrix = np.asarray(matrix, dtype=np.float64)
    symbols_arr = np.asarray(symbols)
    frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
    if len(symbols_arr) != len(frac):
        raise ValueError(f"{len(symbols_arr)} symbols for {len(frac)} positions")
    species: list[str] = []
    coords: list[np.ndarray] = []
    for symbol in dict.fromkeys(symbols_arr.tolist()):
        idx = np.flatnonzero(symbols_arr == symbol)
        labels = cluster_labels(frac[idx], matrix, factor * atomic_radius(symbol), method)
        if len(labels) and labels[-1] == len(labels) and np.array_equal(labels, np.arange(1, len(labels) + 1)):
            means = frac[idx] + 0.0  # every atom its own cluster: cluster_means' result, bit for bit
            means -= np.floor(means)
            coords.append(means)
        else:
            coords.append(cluster_means(frac[idx], labels))
        species.extend([symbol] * len(coords[-1]))
    return species, (np.concatenate(coords) if coords else np.zeros((0, 3)))


def merge_close_atoms(
    structure: Structure, *, factor: float = DEFAULT_MERGE_FACTOR, method: str = "complete"
) -> Structure:
    """Structure with each cluster of same-element atoms closer than ``factor × r`` Å merged into one.

    Site order: elements in order of first appearance, clusters in order of their first member.
    Site properties are dropped.
    """
    if not structure.is_ordered:
        raise ValueError("merging needs an ordered structure (one element per site)")
    symbols = [site.specie.symbol for site in structure]
    species, coords = merge_arrays(
        structure.lattice.matrix, symbols, structure.frac_coords, factor=factor, method=method
    )
    return Structure(structure.lattice, species, coords)
