"""Write a symmetrized CIF from a spglib dataset that was already computed, without running spglib again.

pymatgen's ``CifWriter(structure, symprec)`` runs spglib four times per structure (the dataset of the input,
its refined cell, then the dataset and the operations of the refined cell) and turns every operation into
an ``x, y, z`` string through Python fractions. A generator that already has the dataset of each accepted
structure (the space-group check computed it) gets the same content from it:

- the cell is spglib's standardised refined cell (``std_lattice``, ``std_positions``, ``std_types``: the
  conventional setting with atoms on their ideal Wyckoff positions, what ``refine_cell`` returns), sites
  sorted by electronegativity as pymatgen sorts them;
- the operations are the space group's in that standard setting (spglib's database for the dataset's Hall
  number), written once per Hall number and cached;
- symmetry-equivalent sites of the refined cell are those that map to the same orbit of the input
  (``std_mapping_to_primitive`` → ``mapping_to_primitive`` → ``equivalent_atoms``);
- the ``_atom_site`` loop lists one representative per orbit with the orbit's size as its multiplicity,
  chosen and ordered as ``CifWriter`` does (smallest |fractional coordinates|; then electronegativity,
  multiplicity descending, coordinates).

The stated space group is the dataset's (``international``, ``number``) and the listed operations are always
that group's. Two differences from ``CifWriter``: the operations come in the database's order, not in the
order of a second spglib run (which varies from structure to structure); and where the refined cell shows
more symmetry at ``symprec`` than the input (possible at a loose tolerance), ``CifWriter`` lists the larger
group's operations under the input's symbol while here they stay the stated group's. Lengths in Å, angles
in degrees.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np


def _format_ops(rotations: np.ndarray, translations: np.ndarray) -> tuple[str, ...]:
    """``x, y, z`` strings of fractional operations, as pymatgen writes them (translations as fractions)."""
    out = []
    for rot, trans in zip(rotations, translations, strict=True):
        t = np.array([float(Fraction(float(c)).limit_denominator(1000)) for c in trans])
        t[np.abs(t) == 1] = 0
        out.append(", ".join(_xyz_row(tuple(map(float, r)), float(o)) for r, o in zip(rot, t, strict=True)))
    return tuple(out)


@cache
def _xyz_row(row: tuple[float, float, float], offset: float) -> str:
    """One component (``-x+1/2``...) of an operation as pymatgen's ``SymmOp.as_xyz_str`` writes it (its
    components are written independently, so each distinct row is formatted once)."""
    from pymatgen.util.string import transformation_to_string

    return transformation_to_string(np.array([row] * 3), np.array([offset] * 3), delim="\n").split("\n")[0]


@cache
def _electronegativity(symbol: str) -> float:
    from pymatgen.core import Element

    return Element(symbol).X


@cache
def standard_operations(hall_number: int) -> tuple[str, ...]:
    """The operations of a Hall setting (spglib's database) as CIF ``x, y, z`` strings, in database order."""
    import spglib

    ops = spglib.get_symmetry_from_database(int(hall_number))
    if ops is None:
        raise ValueError(f"hall number {hall_number}: not in spglib's database")
    return _format_ops(np.asarray(ops["rotations"]), np.asarray(ops["translations"]))


def refined_orbits(dataset: Any) -> np.ndarray:
    """Orbit label (N_std,) of each atom of the refined cell: the input's ``equivalent_atoms`` index of its orbit."""
    to_prim = np.asarray(dataset.mapping_to_primitive)
    equivalent = np.asarray(dataset.equivalent_atoms)
    orbit_of_prim = np.empty(to_prim.max() + 1, dtype=np.int64)
    orbit_of_prim[to_prim] = equivalent
    return orbit_of_prim[np.asarray(dataset.std_mapping_to_primitive)]


def symmetrized_cif(symbols_by_type: dict[int, str], dataset: Any, significant_figures: int = 8) -> str:
    """CIF text of the refined cell of ``dataset`` (a spglib dataset; module docstring).

    ``symbols_by_type``: element symbol of each atom type number the dataset was computed with.
    """
    from pymatgen.core import Composition, Lattice
    from pymatgen.io.cif import CifFile

    species = [symbols_by_type[int(t)] for t in dataset.std_types]
    lattice = Lattice(np.asarray(dataset.std_lattice))
    counts: dict[str, float] = {}
    for symbol in species:  # as Structure.composition sums the sites' occupancies
        counts[symbol] = counts.get(symbol, 0.0) + 1.0
    comp = Composition(counts)
    orbit = refined_orbits(dataset)
    # get_sorted_structure: stable sort by electronegativity, as pymatgen's refined structure is ordered
    electroneg = np.array([_electronegativity(s) for s in species])
    order = sorted(range(len(species)), key=lambda i: electroneg[i])
    frac = np.asarray(dataset.std_positions, dtype=np.float64)[order]
    orbit, species = orbit[order], [species[i] for i in order]
    electroneg = electroneg[order]

    fmt = f"{{:.{significant_figures}f}}"
    blocks: dict[str, Any] = {"_symmetry_space_group_name_H-M": str(dataset.international)}
    for name, value in zip(("a", "b", "c", "alpha", "beta", "gamma"), lattice.parameters, strict=True):
        kind = "length" if name in "abc" else "angle"
        blocks[f"_cell_{kind}_{name}"] = fmt.format(value)
    blocks["_symmetry_Int_Tables_number"] = int(dataset.number)
    blocks["_chemical_formula_structural"] = comp.reduced_formula
    blocks["_chemical_formula_sum"] = comp.formula
    blocks["_cell_volume"] = fmt.format(lattice.volume)
    blocks["_cell_formula_units_Z"] = str(int(comp.get_reduced_composition_and_factor()[1]))
    ops = standard_operations(int(dataset.hall_number))
    blocks["_symmetry_equiv_pos_site_id"] = [f"{i}" for i in range(1, len(ops) + 1)]
    blocks["_symmetry_equiv_pos_as_xyz"] = list(ops)

    firsts = list(dict.fromkeys(orbit.tolist()))  # orbits in order of their first site
    sites = []
    for label in firsts:
        members = np.flatnonzero(orbit == label)
        rep = min(members, key=lambda i: tuple(abs(x) for x in frac[i]))
        sites.append((electroneg[rep], -len(members), *frac[rep], species[rep], len(members)))
    sites.sort(key=lambda s: s[:5])
    rows: dict[str, list[str]] = {k: [] for k in ("type", "label", "mult", "x", "y", "z", "occ")}
    for count, (_, _, x, y, z, symbol, mult) in enumerate(sites):
        rows["type"].append(symbol)
        rows["label"].append(f"{symbol}{count}")
        rows["mult"].append(f"{mult}")
        for key, value in zip("xyz", (x, y, z), strict=True):
            rows[key].append(fmt.format(value))
        rows["occ"].append("1")  # ordered sites, as pymatgen writes an occupancy of 1
    names = {"type": "_atom_site_type_symbol", "label": "_atom_site_label",
             "mult": "_atom_site_symmetry_multiplicity", "x": "_atom_site_fract_x", "y": "_atom_site_fract_y",
             "z": "_atom_site_fract_z", "occ": "_atom_site_occupancy"}  # fmt: skip
    for key, tag in names.items():
        blocks[tag] = rows[key]
    loops = [list(_OPS_LOOP), list(names.values())]
    block = _block_class()(blocks, loops, comp.reduced_formula)
    block.hall_number = int(dataset.hall_number)
    return str(CifFile({comp.reduced_formula: block}))


_OPS_LOOP = ("_symmetry_equiv_pos_site_id", "_symmetry_equiv_pos_as_xyz")


@cache
def _block_class() -> type:
    """pymatgen's ``CifBlock`` with the text of the symmetry-operation loop (the same for every CIF of one Hall
    number, up to 192 rows) formatted once per Hall number."""
    from pymatgen.io.cif import CifBlock

    class _Block(CifBlock):
        hall_number = 0
        _loops: dict[int, str] = {}

        def _loop_to_str(self, loop: list[str]) -> str:
            if tuple(loop) != _OPS_LOOP:
                return super()._loop_to_str(loop)
            if self.hall_number not in self._loops:
                self._loops[self.hall_number] = super()._loop_to_str(loop)
            return self._loops[self.hall_number]

    return _Block
