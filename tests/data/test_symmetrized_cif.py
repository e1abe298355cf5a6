"""The CIF written from a spglib dataset says what pymatgen's CifWriter(symprec) says, without a second spglib run."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifParser, CifWriter
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.data.symmetrized_cif import refined_orbits, standard_operations, symmetrized_cif
from xtalgen.postprocess.filters import symmetry_dataset

_OP_LINE = re.compile(r"^\s+\d+\s+'(.*)'$", re.M)


def _split_ops(text: str) -> tuple[list[str], str]:
    """(sorted operation strings, the text without the operation rows)."""
    return sorted(_OP_LINE.findall(text)), _OP_LINE.sub("", text)


def _noisy(structure: Structure, scale: float, seed: int) -> Structure:
    rng = np.random.default_rng(seed)
    moved = structure.frac_coords + rng.normal(0, scale, (len(structure), 3))
    return Structure(structure.lattice, structure.species, moved)


def _structures() -> list[Structure]:
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    perovskite = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.9), ["Sr", "Ti", "O"],
                                           [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]])  # fmt: skip
    spinel = Structure.from_spacegroup("Fd-3m", Lattice.cubic(8.1), ["Mg", "Al", "O"],
                                       [[0.125, 0.125, 0.125], [0.5, 0.5, 0.5], [0.26, 0.26, 0.26]])  # fmt: skip
    rutile = Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.6, 2.96), ["Ti", "O"],
                                       [[0, 0, 0], [0.305, 0.305, 0]])  # fmt: skip
    monoclinic = Structure.from_spacegroup(12, Lattice.monoclinic(9.1, 3.3, 5.2, 101), ["Li", "Ga", "O"],
                                           [[0, 0.5, 0.5], [0.2, 0, 0.3], [0.12, 0.5, 0.8]])  # fmt: skip
    return [rocksalt, perovskite, _noisy(spinel, 0.001, 0), rutile, monoclinic,
            rocksalt.copy().make_supercell([1, 1, 2]) or rocksalt, _noisy(monoclinic, 0.003, 1)]  # fmt: skip


@pytest.mark.parametrize("index", range(6))
def test_same_content_as_cifwriter(index: int) -> None:
    structure = _structures()[index]
    dataset = symmetry_dataset(structure, 0.1)
    ours = symmetrized_cif({site.specie.Z: site.specie.symbol for site in structure}, dataset)
    theirs = str(CifWriter(structure, symprec=0.1))
    assert _split_ops(ours) == _split_ops(theirs)  # everything equal but the order of the operation rows
    assert list(standard_operations(int(dataset.hall_number))) == _OP_LINE.findall(ours)


def test_operations_are_the_stated_groups() -> None:
    """A noisy C2/m cell that spglib reads as P2_1/m at 0.1 Å while its refined cell has the C2/m symmetry:
    CifWriter states P2_1/m but lists the 8 operations it finds in the refined cell; here the 4 of P2_1/m."""
    structure = _structures()[6]
    dataset = symmetry_dataset(structure, 0.1)
    ours = symmetrized_cif({site.specie.Z: site.specie.symbol for site in structure}, dataset)
    theirs = str(CifWriter(structure, symprec=0.1))
    assert int(dataset.number) == 11
    assert len(_OP_LINE.findall(theirs)) == 8
    assert _OP_LINE.findall(ours) == list(standard_operations(int(dataset.hall_number)))
    assert len(_OP_LINE.findall(ours)) == 4
    header = [line for line in theirs.splitlines() if "_symmetry_space_group_name" in line]
    assert header == [line for line in ours.splitlines() if "_symmetry_space_group_name" in line]


def test_reads_back_with_the_stated_group() -> None:
    structure = _structures()[2]
    dataset = symmetry_dataset(structure, 0.1)
    text = symmetrized_cif({site.specie.Z: site.specie.symbol for site in structure}, dataset)
    back = CifParser.from_str(text).parse_structures(primitive=False)[0]
    assert len(back) == len(dataset.std_types)
    assert SpacegroupAnalyzer(back, symprec=0.01).get_space_group_number() == int(dataset.number) == 227
    assert f"_symmetry_Int_Tables_number   {int(dataset.number)}" in text
    assert back.composition.reduced_formula == structure.composition.reduced_formula


def test_refined_orbits_group_equivalent_sites() -> None:
    structure = _structures()[2]
    dataset = symmetry_dataset(structure, 0.1)
    orbits = refined_orbits(dataset)
    sizes = sorted(np.bincount(orbits)[np.unique(orbits)].tolist())
    assert sizes == [8, 16, 32]  # Mg 8a, Al 16d, O 32e of the conventional spinel cell


def test_operation_strings_are_pymatgens_for_every_hall_number() -> None:
    import spglib
    from pymatgen.core.operations import SymmOp

    from xtalgen.data.symmetrized_cif import _format_ops

    for hall in range(1, 531):
        ops = spglib.get_symmetry_from_database(hall)
        rot, trans = np.asarray(ops["rotations"]), np.asarray(ops["translations"])
        theirs = []
        for r, t in zip(rot, trans, strict=True):  # pymatgen's own formatting, operation by operation
            t = np.array([float(Fraction(float(c)).limit_denominator(1000)) for c in t])
            t[np.abs(t) == 1] = 0
            theirs.append(SymmOp.from_rotation_and_translation(r, t).as_xyz_str())
        assert _format_ops(rot, trans) == tuple(theirs), hall


def test_the_cached_operation_loop_is_the_blocks_own() -> None:
    from pymatgen.io.cif import CifBlock

    first, second = (symmetrized_cif({11: "Na", 17: "Cl"}, symmetry_dataset(s)) for s in _structures()[:1] * 2)
    assert first == second  # the second CIF's operation loop came from the cache
    ops = standard_operations(523)
    block = CifBlock({"_a": "1", "_symmetry_equiv_pos_site_id": [str(i + 1) for i in range(len(ops))],
                      "_symmetry_equiv_pos_as_xyz": list(ops)},
                     [["_symmetry_equiv_pos_site_id", "_symmetry_equiv_pos_as_xyz"]], "x")  # fmt: skip
    assert str(block).split("\n", 2)[2] in first  # Fm-3m's loop, as pymatgen formats it
