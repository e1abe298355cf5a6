"""Entries fixed by a (formula, space group) request agree with what the encoder writes for a real crystal."""

from __future__ import annotations

import numpy as np
import pytest

from xtalgen.representations.crystens import CrysTensConfig, encode
from xtalgen.representations.crystens.cell_composition import cell_numbers, formula_counts
from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_SG, ROW_Z
from xtalgen.representations.crystens.known_entries import known_entries

CT = CrysTensConfig(size=32)


@pytest.mark.parametrize(
    ("fixture", "formula", "sg", "atoms"), [("nacl", "NaCl", 225, 8), ("srtio3", "SrTiO3", 221, 5)]
)
def test_known_entries_equal_the_encoded_crystal(request, fixture, formula, sg, atoms):
    """The encoder's own tensor of the crystal holds exactly the known values at every masked entry."""
    structure = request.getfixturevalue(fixture)
    tensor = encode(structure, CT)
    numbers = cell_numbers(formula, CT, sg)
    assert len(numbers) == atoms
    known = known_entries(CT, sg, numbers)
    assert np.array_equal(tensor[known.mask], known.values[known.mask])
    # what the mask covers: Z and space group of each atom (8 repeats), every entry of the empty slots
    occupied = slice(FIRST_ATOM, FIRST_ATOM + atoms)
    assert known.mask[:, ROW_Z, occupied].all() and known.mask[:, occupied, ROW_SG].all()
    assert known.mask[:, :, FIRST_ATOM + atoms :].all() and known.mask[:, FIRST_ATOM + atoms :, :].all()
    assert not known.mask[:, 1:ROW_SG, occupied].any()  # coordinates and lattice stay free
    assert not known.mask[:, occupied, occupied].any()  # distances and differences stay free
    assert known.spacegroup_value is None


def test_spacegroup_only_leaves_the_slots_open():
    known = known_entries(CT, 225)
    assert known.spacegroup_value == pytest.approx(float(CT.spacegroup.normalise(225)))
    assert not known.mask[:, :, FIRST_ATOM:][:, FIRST_ATOM:].any()
    assert not known.mask[:, ROW_SG, FIRST_ATOM:].any()


def test_formula_units_follow_the_encoders_cell_choice():
    assert cell_numbers("GaAs", CT, 216).tolist() == [31] * 4 + [33] * 4  # zinc blende, conventional
    assert cell_numbers("Fe", CT, 229).tolist() == [26, 26]  # bcc, I-centred conventional cell
    assert len(cell_numbers("Al2O3", CT, 167)) == 10  # 30-atom hexagonal cell too big: rhombohedral primitive
    assert len(cell_numbers("Al2O3", CT.with_options(cell="primitive"), 167)) == 10
    assert cell_numbers("SiO2", CT).tolist() == [8, 8, 14]  # no space group: the reduced formula
    assert cell_numbers("Na2Cl2", CT, 225, formula_units=2).tolist() == [11, 11, 17, 17]
    assert formula_counts("Sr2Ti2O6") == {8: 3, 22: 1, 38: 1}


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("LiFePO4", 62), "no cell built from its Wyckoff positions fits 20 atoms"),  # olivine: 28 atoms
        (("Ca21O", None), "22 atoms per formula unit"),
        (("NaCl", 225, 11), "22 atoms"),
        (("NaCl", 231), "1..230"),
        (("Xx2", 225), "cannot be parsed|not a composition"),
        (("Fe0.5Ni", 225), "whole-number"),
    ],
)
def test_cell_number_errors_name_the_reason(args, match):
    with pytest.raises(ValueError, match=match):
        cell_numbers(args[0], CT, *args[1:])


def test_known_entry_errors():
    with pytest.raises(ValueError, match="Z=\\[95\\] outside"):
        known_entries(CT, 225, [95, 8])
    with pytest.raises(ValueError, match="21 atoms do not fit"):
        known_entries(CT, None, [8] * 21)
    with pytest.raises(ValueError, match="1..230"):
        known_entries(CT, 0)
