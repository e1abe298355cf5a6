"""A fast path for the simplest CIFs: one data block in P 1 with an ordered ``_atom_site`` loop.

Large benchmark tables (MP-20, Perov-5, Carbon-24) store every structure as such a P1 CIF written by
pymatgen; parsing them with the general CIF parser dominates dataset preparation. This reader handles
only that narrow form and returns ``None`` for anything else (symmetry operations, several blocks,
partial occupancy, missing columns, unknown tokens, impossible cell parameters), so the caller falls
back to pymatgen's parser.
Its output is checked against pymatgen's in the tests.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from xtalgen.data.structure_checks import cell_parameter_problem

_CELL_KEYS = (
    "_cell_length_a", "_cell_length_b", "_cell_length_c",
    "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma",
)  # fmt: skip
_P1_OPS = {"x, y, z", "x,y,z", "'x, y, z'", "'x,y,z'"}


def _number(token: str) -> float:
    """CIF numeric value; strips a standard uncertainty like ``1.234(5)``."""
    paren = token.find("(")
    return float(token[:paren] if paren >= 0 else token)


def parse_p1_cif(text: str) -> Structure | None:
    """Parse a single-block P1 CIF with an ordered atom-site loop, or return None if it is anything else."""
    if text.count("data_") != 1:
        return None
    lines = [ln.strip() for ln in text.splitlines()]
    cell: dict[str, float] = {}
    i, n = 0, len(lines)
    symbols: list[str] | None = None
    coords: list[list[float]] = []
    ops_seen = False
    try:
        while i < n:
            line = lines[i]
            if not line or line.startswith("#"):
                i += 1
                continue
            if line.startswith("_cell_"):
                key, _, value = line.partition(" ")
                if key in _CELL_KEYS:
                    cell[key] = _number(value.strip())
                i += 1
                continue
            if line.startswith(("_symmetry_space_group_name_H-M", "_space_group_name_H-M_alt")):
                value = line.split(None, 1)[1].strip().strip("'\"").replace(" ", "")
                if value != "P1":
                    return None
                i += 1
                continue
            if line == "loop_":
                headers: list[str] = []
                i += 1
                while i < n and lines[i].startswith("_"):
                    headers.append(lines[i].split()[0])
                    i += 1
                rows: list[str] = []
                while i < n and lines[i] and not lines[i].startswith(("_", "loop_", "data_", "#")):
                    rows.append(lines[i])
                    i += 1
                if any(
                    h.startswith(("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")) for h in headers
                ):
                    ops = {r.split(None, 1)[1].strip() if len(headers) > 1 else r for r in rows}
                    if not ops <= _P1_OPS:
                        return None
                    ops_seen = True
                elif "_atom_site_fract_x" in headers:
                    if symbols is not None:
                        return None
                    symbols, coords = _atom_sites(headers, rows) or (None, [])
                    if symbols is None:
                        return None
                continue
            if (
                line.startswith(("_symmetry_Int_Tables_number", "_space_group_IT_number"))
                and line.split()[1].strip() != "1"
            ):
                return None
            i += 1
    except (ValueError, IndexError):
        return None
    if not ops_seen or symbols is None or len(cell) != 6 or not symbols:
        return None
    names = ("a", "b", "c", "alpha", "beta", "gamma")
    if cell_parameter_problem(dict(zip(names, (cell[k] for k in _CELL_KEYS), strict=True))) is not None:
        return None  # the general reader rejects it with the reason
    lattice = Lattice.from_parameters(*(cell[k] for k in _CELL_KEYS))
    frac = np.mod(np.asarray(coords, dtype=float), 1.0)
    frac[np.isclose(frac, 1.0, atol=1e-8)] = 0.0
    return Structure(lattice, symbols, frac)


def _atom_sites(headers: list[str], rows: list[str]) -> tuple[list[str], list[list[float]]] | None:
    col = {h: k for k, h in enumerate(headers)}
    if "_atom_site_type_symbol" not in col:
        return None
    symbols: list[str] = []
    coords: list[list[float]] = []
    ix, iy, iz = col["_atom_site_fract_x"], col.get("_atom_site_fract_y"), col.get("_atom_site_fract_z")
    if iy is None or iz is None:
        return None
    iocc = col.get("_atom_site_occupancy")
    for row in rows:
        parts = row.split()
        if len(parts) != len(headers):
            return None
        symbol = parts[col["_atom_site_type_symbol"]]
        if not Element.is_valid_symbol(symbol):
            return None  # oxidation-state decorated or dummy species: let pymatgen decide
        if iocc is not None and abs(_number(parts[iocc]) - 1.0) > 1e-6:
            return None
        symbols.append(symbol)
        coords.append([_number(parts[ix]), _number(parts[iy]), _number(parts[iz])])
    return symbols, coords
