"""Reject, before merging, candidates whose atoms collide in a way the same-element merge cannot fix.

The post-processing order is expand → rescale → merge → distance filter (:mod:`.candidates`). Merging
(:mod:`.merge`) only moves atoms that have a same-element neighbour within its threshold
``t = merge_factor × r`` (complete linkage: a cluster of diameter ≤ t needs every member within t of the
others); an atom whose every same-element neighbour is farther than ``t`` stays where it is. After a merge
the cell is rescaled again to the (smaller) volume of fewer atoms, which only shortens distances, and the
element set never changes. Hence, with the distance rule ``d_ij ≥ f (r_i + r_j)`` of :mod:`.filters`:

- a pair of such "fixed" atoms already closer than ``f (r_i + r_j)`` fails after the merge too;
- a shortest lattice vector already shorter than ``2 f r_max`` fails after the merge too.

:func:`surely_too_close` reports such a clash (or None). Distances are nearest-image differences of
fractional coordinates, which are the true minimum-image distances for every pair closer than half the
smallest interplanar spacing (larger ones are over-estimated, which keeps both tests conservative); when
the thresholds are not below that half spacing it makes no decision. A relative margin keeps rounding
differences from the merge's and the filter's own distance routines on the safe side. Lengths in Å.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xtalgen.data.radii import atomic_radius
from xtalgen.postprocess.filters import shortest_lattice_vector

#: relative margin on every comparison (decisions within it are left to the full path)
MARGIN = 1e-6
#: cells with more atoms than this are left to the full path (the pair arrays grow as N²)
MAX_ATOMS = 1500


def nearest_image_distances(matrix: np.ndarray, frac: np.ndarray) -> tuple[np.ndarray, float]:
    """Distances (N, N) in Å between fractional points (N, 3) via the nearest image of each fractional
    difference, and half the smallest interplanar spacing of the cell (Å): every distance below it is the
    true minimum-image distance, every other one is at least it."""
    matrix = np.asarray(matrix, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
    half_spacing = 0.5 / np.linalg.norm(np.linalg.inv(matrix), axis=0).max()
    diff = frac[:, None, :] - frac[None, :, :]
    diff -= np.round(diff)
    cart = diff @ matrix
    return np.sqrt(np.einsum("ijk,ijk->ij", cart, cart)), float(half_spacing)


def surely_too_close(
    matrix: np.ndarray,
    symbols: Sequence[str],
    frac: np.ndarray,
    *,
    merge_factor: float | None,
    distance_factor: float,
    slack: float = 0.0,
) -> str | None:
    """A description of a clash that survives merging (see module docstring), or None when there is none
    or the test cannot decide. ``matrix``: row lattice (3, 3) Å after any volume rescaling; ``frac`` (N, 3);
    ``merge_factor``: the merge threshold in radii (None: no merge, every atom is fixed); ``slack``: Å a fixed
    pair may still gain after merging (a later step that moves each atom up to ``slack / 2``)."""
    from pymatgen.core import Lattice

    n = len(symbols)
    if n == 0 or n > MAX_ATOMS:
        return None
    matrix = np.asarray(matrix, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
    radii = np.array([atomic_radius(s) for s in symbols])
    r_max = float(radii.max())
    try:
        inv = np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(inv)):
        return None
    self_len = shortest_lattice_vector(Lattice(matrix))
    if self_len < 2 * distance_factor * r_max * (1 - MARGIN):
        return f"shortest lattice vector {self_len:.3f} Å < {distance_factor} × 2 r_max before merging"
    merge_t = 0.0 if merge_factor is None else merge_factor * r_max
    if n < 2:
        return None
    dist, half_spacing = nearest_image_distances(matrix, frac)
    if max(2 * distance_factor * r_max, merge_t) * (1 + MARGIN) >= half_spacing:
        return None
    np.fill_diagonal(dist, np.inf)
    arr = np.asarray(symbols)
    if merge_factor is None:
        fixed = np.ones(n, dtype=bool)
    else:
        same = arr[:, None] == arr[None, :]
        nearest_same = np.where(same, dist, np.inf).min(axis=1)
        fixed = nearest_same > merge_factor * radii * (1 + MARGIN)
    idx = np.flatnonzero(fixed)
    if len(idx) < 2:
        return None
    sub = dist[np.ix_(idx, idx)]
    limit = (distance_factor * (radii[idx, None] + radii[None, idx]) - slack) * (1 - MARGIN)
    bad = sub < limit
    if not bad.any():
        return None
    a, b = np.unravel_index(int(np.argmax(bad)), bad.shape)
    i, j = int(idx[a]), int(idx[b])
    ratio = sub[a, b] / (radii[i] + radii[j])
    return f"{symbols[i]}-{symbols[j]} at {sub[a, b]:.3f} Å before merging: d/(ri+rj) = {ratio:.3f} < {distance_factor}"
