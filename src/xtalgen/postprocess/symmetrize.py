"""Recover the symmetry of a noisy generated cell and snap its atoms onto the group's Wyckoff positions.

spglib is asked for the space group at increasing tolerances (Å) up to a loose one. A requested group
(e.g. the one a conditional sample was asked for, or the one a CrysTens tensor states) is taken at the
first tolerance where spglib finds it; otherwise the group with the most operations per primitive cell
found at any tolerance is taken (the smallest tolerance among equals). The structure is replaced by
spglib's standardised refined cell at that tolerance: conventional setting, lattice idealised onto the
crystal system, every atom exactly on its Wyckoff position (atoms that the tolerance maps onto each other
become one). Nothing changes when spglib finds only P1.

How far the atoms moved is measured in the refined cell: each input atom is carried into the standard
frame (``x_s = P x + p``, spglib's transformation) and its distance (Å, periodic) to the nearest refined
atom of the same element is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import spglib
from pymatgen.core import Lattice, Structure

#: Tolerances (Å) tried in order, up to the loose one used by default.
DEFAULT_TOLERANCES: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)
#: spglib angle tolerance (degrees).
DEFAULT_ANGLE_TOLERANCE = 5.0


@dataclass(frozen=True)
class SymmetrizeResult:
    """A refined structure (or the input when only P1 was found) and what the step did.

    ``spacegroup``: the group applied (1 when nothing was applied); ``tolerance``: the spglib tolerance
    (Å) it was found at (None: not applied); ``max_displacement``: largest move of an input atom (Å);
    ``n_atoms_before`` / ``n_atoms_after``: atoms in the input and in the refined cell (the refined cell
    is the conventional one, so it may hold a multiple of the input).
    """

    structure: Structure
    spacegroup: int
    tolerance: float | None
    max_displacement: float
    n_atoms_before: int
    n_atoms_after: int


def _dataset(cell: tuple[np.ndarray, np.ndarray, np.ndarray], symprec: float, angle_tolerance: float):
    try:
        return spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle_tolerance)
    except Exception:  # spglib gives up on degenerate cells
        return None


def _order(ds) -> float:
    """Operations per primitive cell (point-group order), the measure of "more symmetric"."""
    n_prim = len(set(np.asarray(ds.mapping_to_primitive).tolist()))
    return len(ds.rotations) * n_prim / max(len(ds.mapping_to_primitive), 1)


def displacements(cell: tuple[np.ndarray, np.ndarray, np.ndarray], ds) -> np.ndarray:
    """Distance (Å) of each input atom, carried into the standard frame, to the nearest refined atom of its element."""
    _, frac, numbers = cell
    std_frac = (np.asarray(frac) @ np.asarray(ds.transformation_matrix).T + ds.origin_shift) % 1.0
    std_lattice = np.asarray(ds.std_lattice)
    std_pos, std_types = np.asarray(ds.std_positions), np.asarray(ds.std_types)
    out = np.zeros(len(numbers))
    for i, (x, z) in enumerate(zip(std_frac, numbers, strict=True)):
        same = std_pos[std_types == z]
        if not len(same):
            out[i] = np.inf
            continue
        diff = same - x
        diff -= np.round(diff)
        out[i] = float(np.min(np.linalg.norm(diff @ std_lattice, axis=1)))
    return out


def symmetrize_structure(
    structure: Structure,
    target: int | None = None,
    tolerances: Sequence[float] = DEFAULT_TOLERANCES,
    angle_tolerance: float = DEFAULT_ANGLE_TOLERANCE,
) -> SymmetrizeResult:
    """Refine ``structure`` onto ``target`` if spglib finds it within ``tolerances``, else onto the most
    symmetric group it finds (see module docstring). Raises ValueError for a target outside 1..230."""
    if target is not None and not 1 <= int(target) <= 230:
        raise ValueError(f"target space group: must be in 1..230, got {target}")
    if not structure.is_ordered:
        raise ValueError("symmetrizing needs an ordered structure (one element per site)")
    cell = (structure.lattice.matrix, structure.frac_coords, np.array(structure.atomic_numbers))
    best, best_tol = None, None
    for tol in sorted(float(t) for t in tolerances):
        ds = _dataset(cell, tol, angle_tolerance)
        if ds is None:
            continue
        if target is not None and int(ds.number) == int(target):
            best, best_tol = ds, tol
            break
        if best is None or _order(ds) > _order(best):
            best, best_tol = ds, tol
    n = len(structure)
    if best is None or int(best.number) == 1:
        return SymmetrizeResult(structure, 1, None, 0.0, n, n)
    refined = Structure(Lattice(best.std_lattice), [int(z) for z in best.std_types], best.std_positions)
    moved = displacements(cell, best)
    return SymmetrizeResult(refined, int(best.number), best_tol, float(moved.max()) if n else 0.0, n, len(refined))
