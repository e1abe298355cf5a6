"""Snap generated base sites onto the special position their own symmetry images point to.

A generated base site that lies slightly off a special position (on a rotation axis, mirror plane,
inversion centre...) is mapped by the space-group ops to a small cloud of images around that
position instead of one atom. :mod:`.merge` clusters such clouds after expansion, but complete-linkage
clustering splits a cloud wider than its threshold into several atoms that are still closer than the
distance filter allows (for one element, ``d < 0.5 (r + r) = r``; how often: docs/benchmarks/pgcgm.md).

This step works on the base site instead, before expansion, and keeps the symmetry exact. With
``threshold = factor × r`` (the merge threshold; r the element's atomic radius, Å):

1. the images ``g x`` of the site closer than ``threshold`` to x (periodic minimum image, identity
   included) are averaged; the site moves to that mean; repeat until it stops moving;
2. the move is kept only if the end point y is a special position in the strict sense, i.e. every
   image of y closer than ``threshold`` coincides with y (within ``COINCIDE`` Å), and y lies closer
   than ``threshold`` to the original site. Otherwise the site is left exactly as generated (e.g.
   images related by a centring translation can never be made to coincide).

Why the average lands on the special position: if the near images are those of the ops ĝ (with
lattice shifts) that fix a point p near x, they form a finite group H and ``mean_h ĥ x`` is fixed by
every element of H (H permutes the terms). Real crystals are unchanged: in Materials Project
structures a site's own images are either exactly on it or at least ~r away (the calibration cited in
:mod:`.merge`). The space-group filter still runs on the result; the distance filter is untouched.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from xtalgen.data.radii import atomic_radius

#: Images closer than this (Å) to the site count as the site itself.
COINCIDE = 1e-3
#: Images closer than this (Å) count as one atom when an orbit is counted (:func:`orbit_size`).
ORBIT_TOL = 0.01
#: Default threshold factor (× atomic radius), equal to the merge default (``merge.DEFAULT_MERGE_FACTOR``).
DEFAULT_SNAP_FACTOR = 1.0
#: Most averaging iterations of one snap (:func:`snap_to_special_position`).
SNAP_MAX_ITER = 50


def _image_offsets(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-image fractional offsets (n, 3) of every image from ``frac`` and their lengths (n,) in Å."""
    images = ops[:, :3, :3] @ frac + ops[:, :3, 3]
    diff = images - frac
    diff -= np.round(diff)
    cart = diff @ matrix
    return diff, np.sqrt(np.add.reduce(cart * cart, axis=1))  # = np.linalg.norm(cart, axis=1), bit for bit


def snap_to_special_position(
    frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, threshold: float, *, max_iter: int = SNAP_MAX_ITER
) -> tuple[np.ndarray, float]:
    """One site snapped onto its special position (see module docstring) and the distance moved (Å).

    Args:
        frac: fractional position (3,).
        ops: the space group's affine ops (n, 4, 4) acting on fractional column vectors.
        matrix: row-vector lattice matrix (3, 3) in Å.
        threshold: Å; images closer than this are made to coincide.

    Returns:
        The new position in [0, 1) (the wrapped input when no snap applies) and the move in Å (0.0 then).
    """
    ops = np.asarray(ops, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return _snap(frac, ops, matrix, threshold, max_iter, lambda x: _image_offsets(x, ops, matrix))[:2]


_Offsets = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _snap(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, threshold: float, max_iter: int,
          offsets: _Offsets) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """:func:`snap_to_special_position` with the image offsets of a position taken from ``offsets`` (a cache).

    Also returns a bound (Å): every threshold in [``threshold``, bound] gives the same result, since no image
    distance met on the way lies in [threshold, bound) and a move rejected as too long stays too long.
    """
    x0 = np.asarray(frac, dtype=np.float64).reshape(3)
    x0 = x0 - np.floor(x0)
    if threshold <= 0 or not np.all(np.isfinite(x0)):
        return x0, 0.0, threshold
    x = x0.copy()
    bound = np.inf
    for _ in range(max_iter):
        diff, dist = offsets(x)
        near = dist < threshold
        bound = min(bound, dist[~near].min(initial=np.inf))
        chosen = diff[near]  # the identity image is always among them
        step = np.add.reduce(chosen, axis=0) / len(chosen)  # = chosen.mean(axis=0), bit for bit
        cart = step @ matrix
        if math.sqrt(cart.dot(cart)) < 1e-10:  # = np.linalg.norm(cart), bit for bit
            break
        x = x + step
    diff, dist = offsets(x)
    near = dist < threshold
    bound = min(bound, dist[~near].min(initial=np.inf))
    moved = x - x0
    moved -= np.round(moved)
    move = float(np.linalg.norm(moved @ matrix))
    if np.any(dist[near] > COINCIDE) or move >= threshold:
        return x0, 0.0, min(bound, move) if move >= threshold else bound
    return x - np.floor(x), move, bound


def snap_base_sites(
    species: Sequence[str],
    coords: np.ndarray,
    ops: np.ndarray,
    matrix: np.ndarray,
    *,
    factor: float = DEFAULT_SNAP_FACTOR,
    site_mask: np.ndarray | None = None,
    multiplicity: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Snap every base site (K, 3) with threshold ``factor × r(species)``; returns coords (K, 3), moves (K,) Å.

    Masked-out sites (``site_mask`` False) are returned unchanged with move 0. With ``multiplicity`` (K,)
    (the Wyckoff multiplicities the conditions ask for) each site goes to :func:`snap_to_multiplicity`.
    """
    if factor < 0:
        raise ValueError(f"snap factor must be >= 0, got {factor}")
    coords = np.array(coords, dtype=np.float64).reshape(-1, 3)
    if len(species) != len(coords):
        raise ValueError(f"{len(species)} species for {len(coords)} base sites")
    mask = np.ones(len(coords), bool) if site_mask is None else np.asarray(site_mask, dtype=bool)
    moves = np.zeros(len(coords))
    if multiplicity is not None:
        return _snap_to_template(species, coords, ops, matrix, factor, mask, np.asarray(multiplicity))
    for k in np.flatnonzero(mask):
        coords[k], moves[k] = snap_to_special_position(coords[k], ops, matrix, factor * atomic_radius(species[k]))
    return coords, moves


def orbit_size(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, tol: float = ORBIT_TOL) -> int:
    """Number of distinct images (atoms in the cell) of one fractional position (3,); images closer than
    ``tol`` Å count as one.

    Counts ``n / |H|`` with H the ops whose image lies within ``tol / 4`` Å of the position (O(n)) when that is
    provably the all-pairs count (:func:`_stabiliser_count`), else counts clusters of all pairs of images.
    """
    ops = np.asarray(ops, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64)
    return _orbit_count(frac, ops, matrix, tol, _isometric(ops, matrix, tol))


def _orbit_count(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, tol: float, isometric: bool) -> int:
    """:func:`orbit_size` with :func:`_isometric` of ``ops`` and ``matrix`` already known."""
    if isometric:
        count = _stabiliser_count(_image_offsets(frac, ops, matrix)[1], tol)
        if count is not None:
            return count
    return _pairwise_orbit_size(frac, ops, matrix, tol)


def _pairwise_orbit_size(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, tol: float) -> int:
    """Images (n) of which no earlier image lies within ``tol`` Å, from the n × n image distance matrix."""
    diff, _ = _image_offsets(frac, ops, matrix)
    images = frac + diff
    d = images[:, None, :] - images[None, :, :]
    d -= np.round(d)
    close = np.linalg.norm(d @ matrix, axis=-1) < tol
    return int((close.argmax(axis=1) == np.arange(len(images))).sum())


def _isometric(ops: np.ndarray, matrix: np.ndarray, tol: float) -> bool:
    """Whether every op preserves the metric ``G = M Mᵀ`` (to 1e-10 relative) and any vector shorter than
    ``2 tol`` Å has fractional components below 1/2 (so ``d - round(d)`` is its shortest image)."""
    metric = matrix @ matrix.T
    rot = ops[:, :3, :3]
    invariant = np.abs(np.transpose(rot, (0, 2, 1)) @ metric @ rot - metric).max() <= 1e-10 * np.abs(metric).max()
    return bool(invariant and 2 * tol * np.linalg.norm(np.linalg.inv(matrix), 2) < 0.5)


def _stabiliser_count(dist: np.ndarray, tol: float) -> int | None:
    """Orbit size ``n / |H|`` from the distances (n,) Å of a position's images to it, or None when unsure.

    For isometric ops (:func:`_isometric`) the distance of images i and j equals that of the position and
    image ``g_i⁻¹ g_j``. If every distance is ≤ tol/4 (ops in H) or ≥ 2 tol, two images are closer than
    ``tol`` exactly when ``g_i⁻¹ g_j`` ∈ H; H is then a group and the clusters are its n / |H| cosets.
    """
    small = dist <= 0.25 * tol
    if not np.all(small | (dist >= 2 * tol)):
        return None
    h = int(small.sum())
    return len(dist) // h if len(dist) % h == 0 else None


def _images(frac: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """All images (n, 3) of one fractional position, wrapped into [0, 1)."""
    images = ops[:, :3, :3] @ frac + ops[:, :3, 3]
    return images - np.floor(images)


def _clear_of(frac: np.ndarray, occupied: np.ndarray | None, matrix: np.ndarray, tol: float) -> bool:
    """Whether ``frac`` lies at least ``tol`` Å (minimum image) from every occupied position (n, 3)."""
    if occupied is None or len(occupied) == 0:
        return True
    d = occupied - frac
    d -= np.round(d)
    return bool(np.linalg.norm(d @ matrix, axis=1).min() >= tol)


class _Snapper:
    """Template snapping of one candidate (one group's ops (n, 4, 4), one lattice (3, 3) Å) with its repeated work
    cached: orbit sizes by position, each growing-threshold search by start point, image offsets within one
    search (the thresholds of a search share their first iterations). Same results as without the caches."""

    def __init__(self, ops: np.ndarray, matrix: np.ndarray) -> None:
        self.ops = np.asarray(ops, dtype=np.float64)
        self.matrix = np.asarray(matrix, dtype=np.float64)
        self.isometric = _isometric(self.ops, self.matrix, ORBIT_TOL)
        self._orbits: dict[bytes, int] = {}
        self._grown: dict[tuple, np.ndarray | None] = {}
        self._thresholds: dict[tuple[float, int], np.ndarray] = {}

    def orbit(self, frac: np.ndarray) -> int:
        """:func:`orbit_size` of ``frac`` (3,) float64."""
        key = frac.tobytes()
        if key not in self._orbits:
            self._orbits[key] = _orbit_count(frac, self.ops, self.matrix, ORBIT_TOL, self.isometric)
        return self._orbits[key]

    def thresholds(self, start: float, steps: int) -> np.ndarray:
        """Thresholds (Å) growing geometrically from ``start`` to half the shortest cell edge."""
        if (start, steps) not in self._thresholds:
            stop = 0.5 * float(np.linalg.norm(self.matrix, axis=1).min())
            self._thresholds[start, steps] = np.geomspace(max(start, 1e-3), max(stop, start * 1.01), steps)
        return self._thresholds[start, steps]

    def grown(self, x: np.ndarray, multiplicity: int, start: float, steps: int) -> np.ndarray | None:
        """The first snap of ``x`` over :meth:`thresholds` with ``multiplicity`` images, or None."""
        key = (np.asarray(x, dtype=np.float64).tobytes(), multiplicity, start, steps)
        if key not in self._grown:
            self._grown[key] = self._search(x, multiplicity, start, steps)
        return self._grown[key]

    def _search(self, x: np.ndarray, multiplicity: int, start: float, steps: int) -> np.ndarray | None:
        cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

        def offsets(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            key = p.tobytes()
            if key not in cache:
                cache[key] = _image_offsets(p, self.ops, self.matrix)
            return cache[key]

        same_until = -np.inf  # thresholds up to this give the result of the last one tried (a failure)
        for threshold in self.thresholds(start, steps):
            if threshold <= same_until:
                continue
            y, move, same_until = _snap(x, self.ops, self.matrix, float(threshold), SNAP_MAX_ITER, offsets)
            if move > 0 and self.orbit(y) == multiplicity:
                return y
        return None


#: Start offsets (fractional) tried when the nearest special position is taken: 0, ±1/4, 1/2 per axis.
_OFFSETS = np.array(list(itertools.product((0.0, 0.25, -0.25, 0.5), repeat=3)))


def snap_to_multiplicity(
    frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, multiplicity: int, start: float, *,
    occupied: np.ndarray | None = None, clearance: float = 0.5, steps: int = 12,
) -> tuple[np.ndarray, float]:  # fmt: skip
    """Snap a site onto a special position with ``multiplicity`` images (the Wyckoff site its condition asks for).

    Snaps with thresholds growing geometrically from ``start`` Å to half the shortest cell edge and keeps
    the first result whose orbit has exactly ``multiplicity`` atoms. When that position lies within
    ``clearance`` Å of an ``occupied`` position (n, 3) (atoms of sites placed before, e.g. two 1-fold sites
    both nearest to 1b), the snap is repeated from the site shifted by 0, ±1/4, 1/2 along each axis and the
    nearest free special position of that multiplicity is taken. A site already of that multiplicity, or one
    that no threshold brings there, stays as generated (move 0). Returns the position in [0, 1) and the move (Å).
    """
    snapper = _Snapper(ops, matrix)
    return _snap_site(snapper, frac, multiplicity, start, occupied, clearance, steps)


def _snap_site(snapper: _Snapper, frac: np.ndarray, multiplicity: int, start: float, occupied: np.ndarray | None,
               clearance: float = 0.5, steps: int = 12) -> tuple[np.ndarray, float]:  # fmt: skip
    """:func:`snap_to_multiplicity` with ``snapper``'s caches."""
    matrix = snapper.matrix
    x0 = np.asarray(frac, dtype=np.float64).reshape(3)
    x0 = x0 - np.floor(x0)
    if not np.all(np.isfinite(x0)) or snapper.orbit(x0) == multiplicity:
        return x0, 0.0
    y = snapper.grown(x0, multiplicity, start, steps)
    if y is not None and not _clear_of(y, occupied, matrix, clearance):
        found = []
        for offset in _OFFSETS[1:]:
            z = snapper.grown(x0 + offset, multiplicity, start, steps)
            if z is not None and _clear_of(z, occupied, matrix, clearance):
                found.append(z)
        y = min(found, key=lambda z: _distance(z, x0, matrix)) if found else y
    if y is None:
        return x0, 0.0
    return y - np.floor(y), _distance(y, x0, matrix)


def _distance(a: np.ndarray, b: np.ndarray, matrix: np.ndarray) -> float:
    d = a - b
    d -= np.round(d)
    return float(np.linalg.norm(d @ matrix))


def _snap_to_template(species: Sequence[str], coords: np.ndarray, ops: np.ndarray, matrix: np.ndarray, factor: float,
                      mask: np.ndarray, multiplicity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Snap each site to its requested multiplicity; sites nearest their special position claim it first and
    later sites avoid the positions taken (see :func:`snap_to_multiplicity`)."""
    snapper = _Snapper(ops, matrix)
    ops = snapper.ops
    sites = [k for k in np.flatnonzero(mask) if multiplicity[k] > 0]
    start = {k: factor * atomic_radius(species[k]) for k in sites}
    first = {k: _snap_site(snapper, coords[k], int(multiplicity[k]), start[k], None)[1] for k in sites}
    out, moves = coords.copy(), np.zeros(len(coords))
    occupied = np.zeros((0, 3))
    for k in sorted(sites, key=lambda k: first[k]):
        out[k], moves[k] = _snap_site(snapper, coords[k], int(multiplicity[k]), start[k], occupied)
        occupied = np.concatenate([occupied, _images(out[k], ops)])
    for k in np.flatnonzero(mask):
        if multiplicity[k] <= 0:
            out[k], moves[k] = snap_to_special_position(coords[k], ops, matrix, factor * atomic_radius(species[k]))
    return out, moves
