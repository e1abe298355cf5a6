"""Snap a decoded structure onto the space group its tensor states (spglib)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from pymatgen.core import Lattice, Structure

#: Tolerances (Å) tried in order; the first at which spglib finds the stated group is used.
DEFAULT_SNAP_TOLERANCES: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2)


@dataclass(frozen=True)
class SnapResult:
    """The structure after snapping; ``status`` is ``"snapped"`` or ``"not_found"``."""

    structure: Structure
    status: str
    tolerance: float | None  # Å, the tolerance that found the stated group
    found: int | None  # space group spglib found (at ``tolerance``, or at the largest tolerance tried)


def snap_to_spacegroup(structure: Structure, spacegroup: int,
                       tolerances: tuple[float, ...] = DEFAULT_SNAP_TOLERANCES,
                       angle_tolerance: float = 5.0) -> SnapResult:
    """Symmetrise ``structure`` to ``spacegroup`` if spglib finds that group within one of ``tolerances``.

    On success the result is spglib's refined (standard conventional, idealised) structure, so a CIF
    written from it carries the group; otherwise the structure is returned unchanged.
    """
    cell = (structure.lattice.matrix, structure.frac_coords, np.array(structure.atomic_numbers))
    snapped = snap_cell(cell, spacegroup, tolerances, angle_tolerance)
    if snapped.status != "snapped":
        return SnapResult(structure, snapped.status, None, snapped.found)
    return snapped


def snap_cell(cell: tuple[np.ndarray, np.ndarray, np.ndarray], spacegroup: int,
              tolerances: tuple[float, ...] = DEFAULT_SNAP_TOLERANCES,
              angle_tolerance: float = 5.0) -> SnapResult:
    """:func:`snap_to_spacegroup` for a spglib cell (lattice rows in Å, fractional coords, Z).

    When the group is not found the returned structure is built from ``cell`` unchanged.
    """
    if not 1 <= int(spacegroup) <= 230:
        raise ValueError(f"space group number must be in 1..230, got {spacegroup}")
    found: int | None = None
    for tol in sorted(tolerances):
        try:
            ds = spglib.get_symmetry_dataset(cell, symprec=tol, angle_tolerance=angle_tolerance)
        except Exception:  # spglib gives up on degenerate cells; try the next tolerance
            ds = None
        if ds is None:
            continue
        found = int(ds.number)
        if found != int(spacegroup):
            continue
        # the dataset's standardised cell is spglib's refined (idealised, conventional) structure
        refined = Structure(Lattice(ds.std_lattice), [int(z) for z in ds.std_types], ds.std_positions)
        return SnapResult(refined, "snapped", float(tol), found)
    lattice, frac, numbers = cell
    return SnapResult(Structure(Lattice(lattice), [int(z) for z in numbers], frac), "not_found", None, found)
