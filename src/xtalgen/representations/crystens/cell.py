"""Choose the cell to encode (spglib standard conventional/primitive, or as given) and order its atoms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spglib
from pymatgen.core import Structure

from xtalgen.representations.crystens.config import CrysTensConfig


class CapacityError(ValueError):
    """The (chosen cell of the) structure has more atoms than the tensor holds."""


@dataclass(frozen=True)
class CellArrays:
    """A cell ready to encode: lattice matrix (rows, Å), fractional coords in [0, 1), Z, space group."""

    matrix: np.ndarray  # (3, 3)
    frac: np.ndarray  # (A, 3)
    numbers: np.ndarray  # (A,) int
    spacegroup: int


def structure_arrays(structure: Structure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice matrix, fractional coords, atomic numbers) of an ordered structure."""
    if not structure.is_ordered:
        raise ValueError("CrysTens needs an ordered structure (one element per site, full occupancy)")
    if len(structure) == 0:
        raise ValueError("CrysTens cannot encode an empty structure")
    numbers = np.fromiter((site.specie.Z for site in structure), dtype=np.int64, count=len(structure))
    return np.array(structure.lattice.matrix, dtype=np.float64), np.array(structure.frac_coords), numbers


def wrap_unit(frac: np.ndarray, decimals: int = 8) -> np.ndarray:
    """Fractional coordinates rounded to ``decimals`` and wrapped into [0, 1) (1.0 becomes 0.0)."""
    f = np.round(np.asarray(frac, dtype=np.float64), decimals) % 1.0
    f[f >= 1.0] = 0.0
    return f + 0.0  # turn -0.0 into 0.0


def _spglib_cell(matrix: np.ndarray, frac: np.ndarray, numbers: np.ndarray, config: CrysTensConfig,
                 to_primitive: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cell = (matrix, frac, numbers)
    std = spglib.standardize_cell(cell, to_primitive=to_primitive, no_idealize=not config.idealize,
                                  symprec=config.symprec, angle_tolerance=config.angle_tolerance)
    if std is None:
        raise ValueError(f"spglib could not standardise the cell (symprec={config.symprec} Å)")
    lat, pos, num = std
    return np.asarray(lat, dtype=np.float64), np.asarray(pos, dtype=np.float64), np.asarray(num, dtype=np.int64)


def _spacegroup(matrix: np.ndarray, frac: np.ndarray, numbers: np.ndarray, config: CrysTensConfig) -> int:
    ds = spglib.get_symmetry_dataset((matrix, frac, numbers), symprec=config.symprec,
                                     angle_tolerance=config.angle_tolerance)
    if ds is None:
        raise ValueError(f"spglib symmetry analysis failed (symprec={config.symprec} Å)")
    return int(ds.number)


def select_cell(matrix: np.ndarray, frac: np.ndarray, numbers: np.ndarray, config: CrysTensConfig,
                spacegroup: int | None = None) -> CellArrays:
    """The cell ``config.cell`` asks for, atoms wrapped into [0, 1) and ordered per ``config.ordering``.

    ``spacegroup`` (if known, e.g. from a prepared dataset) skips one symmetry analysis.
    Raises :class:`CapacityError` when the cell has more than ``config.max_atoms`` atoms.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64)
    numbers = np.asarray(numbers, dtype=np.int64)
    if spacegroup is not None and not 1 <= int(spacegroup) <= 230:
        raise ValueError(f"space group number must be in 1..230, got {spacegroup}")
    cap = config.max_atoms
    sg = int(spacegroup) if spacegroup is not None else None
    if config.cell == "as_given":
        m, f, z = matrix, frac, numbers
    else:
        m = f = z = None
        if config.cell in ("conventional", "auto"):
            if sg is None and config.idealize:  # one spglib call gives the space group and the cell
                ds = spglib.get_symmetry_dataset((matrix, frac, numbers), symprec=config.symprec,
                                                 angle_tolerance=config.angle_tolerance)
                if ds is None:
                    raise ValueError(f"spglib symmetry analysis failed (symprec={config.symprec} Å)")
                sg = int(ds.number)
                m, f, z = (np.asarray(ds.std_lattice, dtype=np.float64), np.asarray(ds.std_positions),
                           np.asarray(ds.std_types, dtype=np.int64))
            else:
                m, f, z = _spglib_cell(matrix, frac, numbers, config, to_primitive=False)
        if z is None or (config.cell == "auto" and len(z) > cap):
            m, f, z = _spglib_cell(matrix, frac, numbers, config, to_primitive=True)
    if sg is None:
        sg = _spacegroup(matrix, frac, numbers, config)
    if len(z) > cap:
        raise CapacityError(f"{len(z)} atoms in the {config.cell} cell; a size-{config.size} CrysTens holds {cap}")
    return ordered_cell(m, f, z, sg, config)


def ordered_cell(matrix: np.ndarray, frac: np.ndarray, numbers: np.ndarray, spacegroup: int,
                 config: CrysTensConfig) -> CellArrays:
    """A chosen cell as the encoder stores it: coordinates wrapped into [0, 1), atoms in ``config.ordering``."""
    f, z = wrap_unit(frac), np.asarray(numbers, dtype=np.int64)
    if config.ordering == "canonical":
        key = np.round(f, 4) % 1.0  # coarse keys: float noise in the input cannot reorder atoms
        order = np.lexsort((key[:, 2], key[:, 1], key[:, 0], z))
        f, z = f[order], z[order]
    return CellArrays(matrix=np.asarray(matrix, dtype=np.float64), frac=f, numbers=z, spacegroup=int(spacegroup))
