"""Structure -> CrysTens: a float32 (4, N, N) tensor, channels first (layout in :mod:`.config`)."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

from xtalgen.representations.crystens.cell import CapacityError, CellArrays, select_cell, structure_arrays
from xtalgen.representations.crystens.config import FIRST_ATOM, N_HEADER, CrysTensConfig
from xtalgen.representations.crystens.distances import differences, pair_distances


class OutOfRangeError(ValueError):
    """A quantity lies outside the range its :class:`~.config.Scale` covers."""


def _check_range(name: str, values: np.ndarray, lo: float, hi: float, unit: str = "") -> None:
    vmin, vmax = float(np.min(values)), float(np.max(values))
    if vmin < lo - 1e-9 or vmax > hi + 1e-9:
        raise OutOfRangeError(f"{name} spans [{vmin:.4g}, {vmax:.4g}]{unit}, outside the configured "
                              f"range [{lo:.4g}, {hi:.4g}]{unit}; widen it in the CrysTens config")


def header_values(cell: CellArrays, lattice: Lattice) -> np.ndarray:
    """Physical header values, shape (11, A): Z, x, y, z, a, b, c (Å), alpha, beta, gamma (deg), space group."""
    n = len(cell.numbers)
    out = np.empty((N_HEADER, n), dtype=np.float64)
    out[0] = cell.numbers
    out[1:4] = cell.frac.T
    out[4:7] = np.asarray(lattice.abc)[:, None]
    out[7:10] = np.asarray(lattice.angles)[:, None]
    out[10] = cell.spacegroup
    return out


def encode_cell(cell: CellArrays, config: CrysTensConfig) -> np.ndarray:
    """Encode an already chosen and ordered cell (see :func:`.cell.select_cell`)."""
    n_atoms = len(cell.numbers)
    lattice = Lattice(cell.matrix)
    header = header_values(cell, lattice)
    scales = config.header_scales()
    _check_range("atomic numbers", header[0], scales[0].lo, scales[0].hi)
    _check_range("lattice lengths", header[4:7, 0], scales[4].lo, scales[4].hi, " Å")
    _check_range("lattice angles", header[7:10, 0], scales[7].lo, scales[7].hi, " deg")
    diff = differences(cell.frac)
    dist = pair_distances(cell.frac, config.distance, lattice)
    _check_range("pair distances", dist, config.pair_distance.lo, config.pair_distance.hi,
                 " Å" if config.distance == "cartesian" else "")

    lo, out_lo, slope = config.header_affine()
    head_n = out_lo[:, None] + (header - lo[:, None]) * slope[:, None]  # (11, A)

    size = config.size
    atoms = slice(FIRST_ATOM, FIRST_ATOM + n_atoms)
    t = np.full((4, size, size), config.fill_value, dtype=np.float64)
    t[:, :N_HEADER, atoms] = head_n
    t[:, atoms, :N_HEADER] = head_n.T
    t[0, atoms, atoms] = config.pair_distance.normalise(dist)
    t[1:, atoms, atoms] = config.difference.normalise(diff)
    return t.astype(np.float32)


def encode(structure: Structure, config: CrysTensConfig | None = None, spacegroup: int | None = None) -> np.ndarray:
    """Encode a structure as a float32 CrysTens of shape (4, N, N), N = ``config.size``.

    ``spacegroup`` (1-230), when known, skips a symmetry analysis. Raises ``ValueError``
    (:class:`~.cell.CapacityError` for too many atoms, :class:`OutOfRangeError` for a value outside
    the configured scales) naming the problem.
    """
    config = config or CrysTensConfig()
    matrix, frac, numbers = structure_arrays(structure)
    return encode_arrays(matrix, frac, numbers, config, spacegroup)


def encode_arrays(matrix: np.ndarray, frac: np.ndarray, numbers: np.ndarray, config: CrysTensConfig,
                  spacegroup: int | None = None) -> np.ndarray:
    """Encode from raw arrays: lattice matrix (rows, Å), fractional coordinates (A, 3), atomic numbers."""
    if config.cell == "as_given" and len(numbers) > config.max_atoms:
        raise CapacityError(f"{len(numbers)} atoms; a size-{config.size} CrysTens holds {config.max_atoms}")
    return encode_cell(select_cell(matrix, frac, numbers, config, spacegroup), config)
