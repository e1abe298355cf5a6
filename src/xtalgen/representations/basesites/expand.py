"""Exact (numpy) expansion of base sites to the full conventional cell with space-group ops.

Each base site is mapped by every op of its space group (standard setting, :mod:`.symops`);
images of the *same* base site closer than ``tol`` Å (periodic minimum image) are merged into one
atom. Images of different base sites are never merged here: near-collisions of generated sites are
the job of :mod:`xtalgen.postprocess.merge`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure

from xtalgen.representations.basesites.encode import wrap01
from xtalgen.representations.basesites.symops import apply_ops, spacegroup_ops

#: Default tolerance (Å) under which images of one base site count as the same atom.
DEFAULT_TOL = 0.01
#: Above this many images of a site, :func:`unique_images` measures only the pairs a k-d tree finds close.
KDTREE_MIN_POINTS = 64


def unique_images(images: np.ndarray, matrix: np.ndarray, tol: float = DEFAULT_TOL) -> np.ndarray:
    """Indices (sorted) of the fractional points (n, 3) kept after dropping near-duplicates.

    A point is dropped when it lies within ``tol`` Å (periodic minimum image, row-vector lattice
    ``matrix`` in Å) of a point with a lower index. Above :data:`KDTREE_MIN_POINTS` points only the pairs a
    periodic k-d tree in fractional space finds within ``tol`` × ‖M⁻¹‖₂ (a superset of the pairs within ``tol``
    Å) are measured, with the same nearest-image formula.
    """
    images = np.asarray(images, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    if len(images) > KDTREE_MIN_POINTS and np.all((images >= 0.0) & (images < 1.0)):
        return _unique_images_kdtree(images, matrix, tol)
    diff = images[:, None, :] - images[None, :, :]
    diff -= np.round(diff)
    cart = diff @ matrix
    close = np.einsum("ijk,ijk->ij", cart, cart) < tol * tol
    return np.flatnonzero(close.argmax(axis=1) == np.arange(len(images)))


def _unique_images_kdtree(images: np.ndarray, matrix: np.ndarray, tol: float) -> np.ndarray:
    """:func:`unique_images` of points in [0, 1) through a periodic k-d tree (fractional distance of a pair within
    ``tol`` Å is at most ``tol`` ‖M⁻¹‖₂; a relative margin keeps rounding on the safe side)."""
    from scipy.spatial import cKDTree

    reach = tol * float(np.linalg.norm(np.linalg.inv(matrix), 2)) * (1 + 1e-6) + 1e-12
    keep = np.ones(len(images), dtype=bool)
    pairs = cKDTree(images, boxsize=1.0).query_pairs(min(reach, 0.5), output_type="ndarray")
    if reach >= 0.5:  # a cell thinner than the tolerance: every pair is a candidate
        pairs = np.argwhere(np.triu(np.ones((len(images),) * 2, dtype=bool), 1))
    if len(pairs):
        lo, hi = pairs.min(axis=1), pairs.max(axis=1)
        diff = images[hi] - images[lo]
        diff -= np.round(diff)
        cart = diff @ matrix
        keep[hi[np.einsum("ij,ij->i", cart, cart) < tol * tol]] = False
    return np.flatnonzero(keep)


def expand_positions(
    coords: np.ndarray,
    ops: np.ndarray,
    matrix: np.ndarray,
    *,
    site_mask: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
) -> tuple[np.ndarray, np.ndarray]:
    """Expand base-site coords (K, 3) with ops (n, 4, 4) in a cell with row matrix (3, 3) Å.

    Returns the fractional positions (N, 3) in [0, 1) and the base-site index (N,) of each atom.
    Masked-out sites (``site_mask`` False) are skipped.
    """
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    mask = np.ones(len(coords), dtype=bool) if site_mask is None else np.asarray(site_mask, dtype=bool)
    positions, owners = [], []
    for k in np.flatnonzero(mask):
        images = wrap01(apply_ops(ops, coords[k]))
        keep = unique_images(images, matrix, tol)
        positions.append(images[keep])
        owners.append(np.full(len(keep), k, dtype=np.int64))
    if not positions:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    return np.concatenate(positions), np.concatenate(owners)


def expand_to_structure(
    species: Sequence[str],
    coords: np.ndarray,
    spacegroup: int,
    lattice: np.ndarray,
    *,
    site_mask: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
) -> Structure:
    """Full conventional cell from base sites: species (K,), coords (K, 3) fractional, space group
    number (standard setting) and lattice (a, b, c in Å, α, β, γ in degrees).
    """
    lat = np.asarray(lattice, dtype=np.float64).reshape(-1)
    if lat.shape != (6,) or not np.all(np.isfinite(lat)) or np.any(lat[:3] <= 0):
        raise ValueError(f"lattice must be 6 finite numbers with positive lengths, got {lat.tolist()}")
    if len(species) != len(np.asarray(coords).reshape(-1, 3)):
        raise ValueError(f"{len(species)} species for {len(np.asarray(coords).reshape(-1, 3))} base sites")
    pm_lattice = Lattice.from_parameters(*lat)
    positions, owners = expand_positions(
        coords, spacegroup_ops(spacegroup), np.asarray(pm_lattice.matrix), site_mask=site_mask, tol=tol
    )
    return Structure(pm_lattice, [species[k] for k in owners], positions)


@dataclass
class RawBaseSites:
    """One generated sample before expansion (picklable, for multiprocessing post-processing).

    species (K,) element symbols ("" for masked sites), coords (K, 3) fractional, lattice (6,)
    (a, b, c in Å, α, β, γ in degrees), spacegroup number, optional site_mask (K,), optional
    multiplicity (K,): the Wyckoff multiplicity each site's condition asks for (snapping aims at it).
    """

    species: list[str]
    coords: np.ndarray
    lattice: np.ndarray
    spacegroup: int
    site_mask: np.ndarray | None = None
    multiplicity: np.ndarray | None = None


def expand_raw_arrays(
    raw: RawBaseSites, tol: float = DEFAULT_TOL, matrix: np.ndarray | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Like :func:`expand_raw` but returns plain arrays (row lattice matrix (3, 3) Å, symbols (N,),
    fractional coords (N, 3)): skips building a pymatgen Structure of the (often large) unmerged cell.
    ``xtalgen.postprocess.candidates`` accepts this triple from its ``expand`` callable. ``matrix``: the row
    matrix of ``raw.lattice``, already computed (``Lattice.from_parameters``).
    """
    lat = np.asarray(raw.lattice, dtype=np.float64).reshape(-1)
    if lat.shape != (6,) or not np.all(np.isfinite(lat)) or np.any(lat[:3] <= 0):
        raise ValueError(f"lattice must be 6 finite numbers with positive lengths, got {lat.tolist()}")
    if matrix is None:
        matrix = np.asarray(Lattice.from_parameters(*lat).matrix)
    positions, owners = expand_positions(
        raw.coords, spacegroup_ops(raw.spacegroup), matrix, site_mask=raw.site_mask, tol=tol
    )
    return matrix, [raw.species[k] for k in owners], positions


def expand_raw(raw: RawBaseSites, tol: float = DEFAULT_TOL) -> Structure:
    """Expand a :class:`RawBaseSites` to its full conventional cell (module-level, picklable)."""
    return expand_to_structure(
        raw.species, raw.coords, raw.spacegroup, raw.lattice, site_mask=raw.site_mask, tol=tol
    )
