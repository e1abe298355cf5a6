"""Impossible structures are rejected with a reason before native code (spglib) sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.data.readers import RawEntry, parse_entry
from xtalgen.data.structure_checks import (
    MAX_CELL_LENGTH,
    MIN_INTERATOMIC_DISTANCE,
    cell_parameter_problem,
    check_structure,
)

NACL_P1 = """data_NaCl
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   {a}
_cell_length_b   5.64
_cell_length_c   5.64
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_symmetry_multiplicity
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na  Na0  1  0.0  0.0  0.0  1
  Cl  Cl1  1  {x}  {x}  {x}  1
"""


def _reasons(text: str, fmt: str = "cif") -> list[tuple[str, str]]:
    outcome = parse_entry(RawEntry("e", text, fmt), timeout=5)
    return [(reason, detail) for _, reason, detail in outcome.rejections]


@pytest.mark.parametrize(
    ("a", "x", "reason", "phrase"),
    [
        ("nan", "0.5", "non-finite numbers", "nan"),
        ("inf", "0.5", "non-finite numbers", "inf"),
        ("5.64", "nan", "non-finite numbers", "coordinates"),
        ("-5.64", "0.5", "impossible cell", "not positive"),
        ("0", "0.5", "impossible cell", "not positive"),
        ("1e30", "0.5", "impossible cell", "longer than 1000"),
        ("5.64", "0.0", "overlapping atoms", "0 Å apart"),
    ],
)
def test_impossible_cif_numbers_are_rejected_with_a_reason(a: str, x: str, reason: str, phrase: str) -> None:
    (got,) = _reasons(NACL_P1.format(a=a, x=x))
    assert got[0] == reason and phrase in got[1], got


def test_a_good_cell_still_reads() -> None:
    outcome = parse_entry(RawEntry("e", NACL_P1.format(a="5.64", x="0.5"), "cif"), timeout=5)
    assert [r.structure.composition.reduced_formula for r in outcome.records] == ["NaCl"]


def test_overlap_threshold_and_images() -> None:
    lattice = Lattice.cubic(4.0)
    close = Structure(lattice, ["Na", "Cl"], [[0, 0, 0], [0.1, 0, 0]])  # 0.4 Å apart
    apart = Structure(lattice, ["Na", "Cl"], [[0, 0, 0], [0.2, 0, 0]])  # 0.8 Å apart
    assert check_structure(close)[0] == "overlapping atoms"  # type: ignore[index]
    assert check_structure(apart) is None
    assert check_structure(close, min_distance=None) is None  # evaluation keeps overlaps to score them
    across = Structure(lattice, ["Na", "Cl"], [[0.01, 0, 0], [0.99, 0, 0]])  # 0.08 Å through the boundary
    assert check_structure(across)[0] == "overlapping atoms"  # type: ignore[index]
    assert MIN_INTERATOMIC_DISTANCE < 0.741 < 2 * MIN_INTERATOMIC_DISTANCE  # below H2's bond length


def test_cell_parameter_bounds() -> None:
    good = {"a": 3.0, "b": 4.0, "c": MAX_CELL_LENGTH, "alpha": 90.0, "beta": 90.0, "gamma": 120.0}
    assert cell_parameter_problem(good) is None
    assert cell_parameter_problem({**good, "gamma": 180.0})[0] == "impossible cell"  # type: ignore[index]
    assert cell_parameter_problem({**good, "c": MAX_CELL_LENGTH * 1.01})[0] == "impossible cell"  # type: ignore[index]


def test_huge_poscar_cell_is_rejected(tmp_path: Path) -> None:
    s = Structure(Lattice.cubic(1e30), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    (got,) = _reasons(s.to(fmt="poscar"), "poscar")
    assert got[0] == "impossible cell"
