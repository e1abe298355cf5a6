"""Cluster and merge colliding atoms of the same element (PGCGM, seed 000, Fig. 3).

A generated base site slightly off its special position is mapped by the space-group ops to a
small cloud of images instead of one atom (Fd-3m: up to 192 images per site). Atoms of the same
element are clustered hierarchically (scipy, complete linkage on periodic minimum-image distances)
and every cluster whose diameter is below ``factor × r`` (r = atomic radius of the element, Å,
:mod:`.radii`) becomes one atom at the periodic mean of its members. Atoms of different elements
are never merged.

Default ``factor = 1.0``: the shortest same-element distance in real crystals is about 1.7 r
(N≡N, C≡C bonds) and usually far more (O–O ≥ 2.2 Å = 3.7 r), so clusters up to one radius wide
are never two real atoms (see ``benchmarks/pgcgm_postprocess_calibration.py``).
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from xtalgen.postprocess.radii import atomic_radius

DEFAULT_MERGE_FACTOR = 1.0


def periodic_mean(frac: np.ndarray) -> np.ndarray:
    """Mean (3,) in [0, 1) of fractional points (n, 3) that lie within half a cell of the first one."""
    frac = np.asarray(frac, dtype=np.float64)
    delta = frac - frac[0]
    delta -= np.round(delta)
    mean = frac[0] + delta.mean(axis=0)
    return mean - np.floor(mean)


def cluster_labels(frac: np.ndarray, lattice, threshold: float, method: str = "complete") -> np.ndarray:
    """Cluster labels (n,) of fractional points: hierarchical clustering cut at ``threshold`` Å.

    ``lattice`` is a pymatgen Lattice; distances are periodic minimum-image distances.
    """
    n = len(frac)
    if n < 2:
        return np.ones(n, dtype=np.int64)
    dist = np.asarray(lattice.get_all_distances(frac, frac))
    dist = 0.5 * (dist + dist.T)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method=method)
    return fcluster(tree, t=threshold, criterion="distance").astype(np.int64)


def merge_close_atoms(
    structure: Structure, *, factor: float = DEFAULT_MERGE_FACTOR, method: str = "complete"
) -> Structure:
    """Structure with each cluster of same-element atoms closer than ``factor × r`` Å merged into one.

    Site order: elements in order of first appearance, clusters in order of their first member.
    Site properties are dropped.
    """
    if factor < 0:
        raise ValueError(f"merge factor must be >= 0, got {factor}")
    if not structure.is_ordered:
        raise ValueError("merging needs an ordered structure (one element per site)")
    symbols = np.array([site.specie.symbol for site in structure])
    frac = np.asarray(structure.frac_coords)
    species: list[str] = []
    coords: list[np.ndarray] = []
    for symbol in dict.fromkeys(symbols):
        idx = np.flatnonzero(symbols == symbol)
        labels = cluster_labels(frac[idx], structure.lattice, factor * atomic_radius(symbol), method)
        _, first = np.unique(labels, return_index=True)
        for label in labels[np.sort(first)]:
            coords.append(periodic_mean(frac[idx[labels == label]]))
            species.append(symbol)
    return Structure(structure.lattice, species, np.array(coords).reshape(-1, 3))
