"""The seven crystal systems: which space groups belong to each and what each fixes of the lattice.

Codes 0 triclinic, 1 monoclinic, 2 orthorhombic, 3 tetragonal, 4 trigonal, 5 hexagonal, 6 cubic
(International Tables for Crystallography, Vol. A). Lattice constraints are those of the standard
conventional cell: trigonal groups in hexagonal axes, monoclinic with unique axis b.
"""

from __future__ import annotations

import numpy as np

CRYSTAL_SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
N_CRYSTAL_SYSTEMS = len(CRYSTAL_SYSTEMS)

#: Last space-group number of each crystal system.
LAST_SPACEGROUP = (2, 15, 74, 142, 167, 194, 230)

#: LENGTH_SOURCE[cs, i] = index (0 = a, 1 = b, 2 = c) of the length that length i equals.
LENGTH_SOURCE = np.array(
    [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 0, 2], [0, 0, 2], [0, 0, 2], [0, 0, 0]], dtype=np.int64
)
#: FIXED_ANGLES[cs, i] = fixed value of angle i (α, β, γ) in degrees, NaN if free.
FIXED_ANGLES = np.array(
    [
        [np.nan, np.nan, np.nan],
        [90.0, np.nan, 90.0],
        [90.0, 90.0, 90.0],
        [90.0, 90.0, 90.0],
        [90.0, 90.0, 120.0],
        [90.0, 90.0, 120.0],
        [90.0, 90.0, 90.0],
    ]
)


def crystal_system(spacegroup: int) -> int:
    """Crystal-system code 0 (triclinic) … 6 (cubic) of a space group 1..230."""
    sg = int(spacegroup)
    if not 1 <= sg <= 230:
        raise ValueError(f"space group number must be in 1..230, got {spacegroup!r}")
    return int(np.searchsorted(LAST_SPACEGROUP, sg))


def crystal_systems(spacegroups: np.ndarray) -> np.ndarray:
    """Vectorised :func:`crystal_system` → int64 array."""
    sg = np.asarray(spacegroups, dtype=np.int64)
    if sg.size and (sg.min() < 1 or sg.max() > 230):
        raise ValueError("space group numbers must be in 1..230")
    return np.searchsorted(np.asarray(LAST_SPACEGROUP), sg).astype(np.int64)


def lattice_system(spacegroup: int) -> str:
    """The name of the group's lattice constraints: its crystal system, with trigonal groups (hexagonal
    axes) counted as hexagonal."""
    name = CRYSTAL_SYSTEMS[crystal_system(spacegroup)]
    return "hexagonal" if name == "trigonal" else name
