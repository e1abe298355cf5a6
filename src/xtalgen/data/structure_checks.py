"""Checks that a parsed structure is a usable ordered crystal, run before any native code sees it.

Every check returns ``(reason, detail)`` for a structure it rejects, or None. The reasons are the
strings listed in :data:`xtalgen.data.records.REJECTION_REASONS`.

Numbers and where they come from:

- :data:`MAX_CELL_LENGTH` (1000 Å): far above any inorganic unit cell (the longest cell edge in
  the Materials Project copy used by the tests, ``mp_structures.csv.gz``, is 130.5 Å); a longer edge
  is a unit mix-up or a corrupt number (``1e30``), and it makes neighbour searches and spglib useless.
- :data:`MIN_INTERATOMIC_DISTANCE` (0.5 Å): below the shortest bond that exists (H–H in H2,
  0.741 Å, CRC Handbook of Chemistry and Physics, "Bond lengths in diatomic molecules"), and the
  same threshold as CDVAE's structural validity (Xie et al., ICLR 2022) that
  :mod:`xtalgen.evaluation.validity` uses. Two atoms closer than this are the same point twice.
- :data:`MIN_CELL_HEIGHT` (0.1 Å): a cell thinner than this between opposite faces is flat.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from pymatgen.core import Element, Structure

#: Highest atomic number we accept (Pu); heavier elements have no element features or CHGNet support.
MAX_SUPPORTED_Z = 94

#: Thinnest cell (Å, distance between opposite faces) we accept; flatter cells are degenerate.
MIN_CELL_HEIGHT = 0.1

#: Longest cell edge (Å) we accept; see the module docstring.
MAX_CELL_LENGTH = 1000.0

#: Closest two atoms (Å, periodic images included) may be; see the module docstring.
MIN_INTERATOMIC_DISTANCE = 0.5

_LENGTH_KEYS = ("a", "b", "c")
_ANGLE_KEYS = ("alpha", "beta", "gamma")


def cell_parameter_problem(params: Mapping[str, float]) -> tuple[str, str] | None:
    """Check cell parameters as written in a file (``a, b, c`` in Å, ``alpha, beta, gamma`` in degrees).

    Run on the numbers read from a CIF before building a lattice: pymatgen turns a negative length
    into a flipped lattice vector of positive length, so the sign is only visible here.
    """
    for key, value in params.items():
        if not math.isfinite(value):
            return "non-finite numbers", f"cell {key} is {value}"
    for key in _LENGTH_KEYS:
        value = params.get(key)
        if value is None:
            continue
        if value <= 0:
            return "impossible cell", f"cell length {key} = {value:g} Å is not positive"
        if value > MAX_CELL_LENGTH:
            return "impossible cell", f"cell length {key} = {value:g} Å is longer than {MAX_CELL_LENGTH:g} Å"
    for key in _ANGLE_KEYS:
        value = params.get(key)
        if value is not None and not 0 < value < 180:
            return "impossible cell", f"cell angle {key} = {value:g}° is not between 0° and 180°"
    return None


def finite_problem(structure: Structure) -> tuple[str, str] | None:
    """Reject a lattice or coordinates holding NaN or infinity (spglib crashes on them)."""
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.isfinite(matrix).all():
        return "non-finite numbers", f"lattice holds {_first_bad(matrix)}"
    coords = np.asarray(structure.frac_coords, dtype=float)
    if coords.size and not np.isfinite(coords).all():
        row = int(np.argwhere(~np.isfinite(coords))[0][0])
        return "non-finite numbers", f"site {row} has coordinates {coords[row].tolist()}"
    return None


def numeric_problem(structure: Structure) -> tuple[str, str] | None:
    """The checks that keep native code (spglib, neighbour lists) safe: finite numbers, sane edge lengths."""
    problem = finite_problem(structure)
    longest = float(max(structure.lattice.abc))
    if problem is None and longest > MAX_CELL_LENGTH:
        problem = "impossible cell", f"cell length {longest:g} Å is longer than {MAX_CELL_LENGTH:g} Å"
    return problem


def _first_bad(values: np.ndarray) -> str:
    flat = values.reshape(-1)
    return str(flat[~np.isfinite(flat)][0])


def lattice_problem(structure: Structure) -> tuple[str, str] | None:
    """Reject cells with an edge longer than :data:`MAX_CELL_LENGTH` or thinner than :data:`MIN_CELL_HEIGHT`."""
    lattice = structure.lattice
    longest = float(max(lattice.abc))
    if longest > MAX_CELL_LENGTH:
        return "impossible cell", f"cell length {longest:g} Å is longer than {MAX_CELL_LENGTH:g} Å"
    matrix = lattice.matrix
    volume = abs(float(np.linalg.det(matrix)))
    areas = np.linalg.norm(np.cross(matrix[[1, 2, 0]], matrix[[2, 0, 1]]), axis=1)
    heights = volume / np.where(areas > 0, areas, np.inf)
    if heights.min() < MIN_CELL_HEIGHT:
        return "degenerate cell", f"cell is {heights.min():.3g} Å thick (volume {volume:.3g} Å³)"
    return None


def overlap_problem(structure: Structure, min_distance: float = MIN_INTERATOMIC_DISTANCE) -> tuple[str, str] | None:
    """Reject two atoms (or an atom and a periodic image) closer than ``min_distance`` Å."""
    if len(structure) == 0:
        return None
    centers, neighbors, _images, distances = structure.get_neighbor_list(min_distance, exclude_self=True)
    if len(distances) == 0:
        return None
    k = int(np.argmin(distances))
    i, j = int(centers[k]), int(neighbors[k])
    return (
        "overlapping atoms",
        f"sites {i} ({structure[i].species_string}) and {j} ({structure[j].species_string}) are "
        f"{distances[k]:.3g} Å apart (< {min_distance:g} Å)",
    )


def check_structure(
    structure: Structure, max_sites: int | None = None, *, min_distance: float | None = MIN_INTERATOMIC_DISTANCE
) -> tuple[str, str] | None:
    """Return ``(reason, detail)`` if the structure cannot be used as an ordered crystal, else None.

    ``min_distance`` (Å) rejects overlapping atoms; None skips that check (evaluation scores overlaps
    itself, as structural validity).
    """
    if len(structure) == 0:
        return "empty", "no atoms"
    problem = finite_problem(structure)
    if problem is not None:
        return problem
    if not structure.is_ordered:
        for site in structure:
            occ = sum(site.species.values())
            if occ < 1 - 1e-3:
                return "partial occupancy", f"site {site.label or site.species_string} occupancy {occ:.3f}"
        return "disordered", "a site holds more than one species"
    for el in structure.composition.elements:
        if not isinstance(el, Element) and not hasattr(el, "element"):
            return "unsupported element", f"{el} is not a chemical element"
        z = getattr(el, "Z", None)
        if z is None or z < 1 or z > MAX_SUPPORTED_Z:
            return "unsupported element", f"{el} (Z={z}) is outside 1..{MAX_SUPPORTED_Z}"
    if max_sites is not None and len(structure) > max_sites:
        return "too many sites", f"{len(structure)} sites > {max_sites}"
    problem = lattice_problem(structure)
    if problem is not None:
        return problem
    if min_distance is not None:
        return overlap_problem(structure, min_distance)
    return None
