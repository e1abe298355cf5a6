"""KnownStructures.match_structure: a structure is known when a row has its reduced formula and decoration."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure

from xtalgen.evaluation.known_structures import KnownStructures, keys_rows
from xtalgen.evaluation.symmetry_keys import wyckoff_keys


def _rock_salt(a: float, cation: str = "Na") -> Structure:
    return Structure.from_spacegroup(225, Lattice.cubic(a), [cation, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_match_structure_uses_formula_and_decoration() -> None:
    ref = _rock_salt(5.6)
    known = KnownStructures(keys_rows(["rs"], ["NaCl"], [wyckoff_keys(ref)]), {}, "tiny")
    assert known.match_structure(_rock_salt(6.1).get_primitive_structure()) == "rs"  # any cell, any a
    cscl = Structure(Lattice.cubic(3.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert known.match_structure(cscl) is None  # same formula, other decoration
    assert known.match_structure(_rock_salt(5.6, "K")) is None  # same decoration, other formula
