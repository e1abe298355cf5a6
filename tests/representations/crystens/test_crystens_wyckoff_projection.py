"""Wyckoff projection: perturbed real crystals come back exactly symmetric, in their own space group."""

from __future__ import annotations

import numpy as np
import pytest
import spglib
from pymatgen.core import Lattice, Structure

from xtalgen.data.crystal_systems import lattice_system
from xtalgen.representations.crystens.wyckoff_projection import (
    generic_spacegroup,
    lattice_matrix,
    periodic_distances,
    project_cell,
    project_lattice,
    wyckoff_choices,
)


def _rutile() -> Structure:
    return Structure.from_spacegroup(136, Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]])


def _perturbed(s: Structure, seed: int, coord_noise: float = 0.01, length_noise: float = 0.05):
    rng = np.random.default_rng(seed)
    params = np.array(s.lattice.abc + s.lattice.angles) + np.r_[rng.normal(0, length_noise, 3), rng.normal(0, 0.5, 3)]
    frac = s.frac_coords + rng.normal(0, coord_noise, (len(s), 3))
    return params, frac


def _group(params: np.ndarray, frac: np.ndarray, numbers, symprec: float = 1e-4) -> int:
    return int(spglib.get_symmetry_dataset((lattice_matrix(params), frac, list(numbers)), symprec=symprec).number)


@pytest.mark.parametrize("name", ["nacl", "srtio3", "zno", "rutile"])
def test_perturbed_crystal_is_projected_back_onto_its_group(name, request):
    """Noise of 0.01 (fractional) and 0.05 Å: the projection has the group at symprec 1e-4 Å and its atoms
    sit at the real positions (fixed sites exactly; free parameters within the noise)."""
    s = _rutile() if name == "rutile" else request.getfixturevalue(name)
    sg = int(spglib.get_symmetry_dataset((s.lattice.matrix, s.frac_coords, s.atomic_numbers)).number)
    params, frac = _perturbed(s, seed=1)
    numbers = np.array(s.atomic_numbers)
    cell = project_cell(params, frac, numbers, wyckoff_choices(numbers, sg))
    assert _group(cell.lattice, cell.frac, numbers) == sg
    shift = cell.frac - s.frac_coords
    err = np.abs(shift - np.round(shift))
    fixed = {"nacl": True, "srtio3": True, "zno": False, "rutile": False}[name]
    if fixed:  # no free parameters: the exact symmetric structure
        assert err.max() < 1e-12
    else:
        assert err.max() < 0.02
    # displacement = distance each atom was moved, in the projected lattice
    d = periodic_distances(frac % 1.0, cell.frac, lattice_matrix(cell.lattice))
    assert np.allclose(np.diag(d), cell.displacement)
    assert 0 < cell.rms_displacement <= cell.max_displacement < 0.5


def test_exact_input_is_a_fixed_point(srtio3):
    params = np.array(srtio3.lattice.abc + srtio3.lattice.angles)
    numbers = np.array(srtio3.atomic_numbers)
    cell = project_cell(params, srtio3.frac_coords, numbers, wyckoff_choices(numbers, 221))
    assert cell.max_displacement < 1e-9 and np.allclose(cell.lattice, params)


def test_lattice_constraints_per_crystal_system():
    raw = [4.0, 5.0, 6.0, 80.0, 95.0, 110.0]
    assert np.allclose(project_lattice(raw, 225), [5, 5, 5, 90, 90, 90])
    assert np.allclose(project_lattice(raw, 136), [4.5, 4.5, 6, 90, 90, 90])
    assert np.allclose(project_lattice(raw, 186), [4.5, 4.5, 6, 90, 90, 120])
    assert np.allclose(project_lattice(raw, 62), [4, 5, 6, 90, 90, 90])
    assert np.allclose(project_lattice(raw, 14), [4, 5, 6, 90, 95, 90])
    assert np.allclose(project_lattice(raw, 1), raw)
    assert np.allclose(project_lattice([0.0, 100.0, 5.0, 90, 90, 90], 62), [1, 60, 5, 90, 90, 90])
    assert [lattice_system(n) for n in (1, 3, 16, 75, 143, 168, 195)] == [
        "triclinic", "monoclinic", "orthorhombic", "tetragonal", "hexagonal", "hexagonal", "cubic",
    ]  # fmt: skip


def test_choices_that_always_have_more_symmetry_are_left_out():
    """TiO2 in P4_2/mnm: Ti 2b + O 4d (fixed sites only) is always I4/mmm, so it is not offered."""
    numbers = [22, 22, 8, 8, 8, 8]
    kept = [c.labels for c in wyckoff_choices(numbers, 136)]
    assert "8:4f 22:2a" in kept and "8:4d 22:2b" not in kept
    every = wyckoff_choices(numbers, 136, exact=False)
    dropped = [c for c in every if c.labels not in kept]
    assert dropped and all(generic_spacegroup(c) != 136 for c in dropped)


def test_impossible_requests_are_named():
    with pytest.raises(ValueError, match="no combination of Wyckoff positions of space group 225"):
        wyckoff_choices([11, 17], 225)  # the primitive cell's counts: the conventional cell has 4 + 4
    with pytest.raises(ValueError, match="1..230"):
        wyckoff_choices([11, 17], 231)
    with pytest.raises(ValueError, match="does not hold the 2 atoms of Z=8"):
        choices = wyckoff_choices([38, 22, 8, 8, 8], 221)
        project_cell([4, 4, 4, 90, 90, 90], np.zeros((5, 3)), [38, 22, 8, 8, 9], choices)


def test_wyckoff_choices_equal_pyxtal_enumeration_and_stay_bounded_for_large_cells() -> None:
    """Per-element enumeration combined lazily gives PyXtal's joint enumeration (same choices, same order), and a
    large many-element cell in a high-symmetry group (PyXtal's joint product took 24 GB) returns quickly."""
    import itertools
    import time

    from pyxtal.symmetry import Group

    from xtalgen.representations.crystens.wyckoff_projection import _index_combinations, wyckoff_choices

    for sg, counts in [(71, [8, 2]), (225, [4, 8]), (62, [4, 4, 8]), (166, [3, 6]), (14, [4, 8])]:
        _, _, ref = Group(sg).list_wyckoff_combinations(counts)
        assert [[list(x) for x in r] for r in ref] == list(_index_combinations(Group(sg), counts, 20_000))
    numbers = list(itertools.chain.from_iterable([z] * 12 for z in (3, 8, 11, 12, 13, 14, 15, 16)))
    start = time.perf_counter()
    choices = wyckoff_choices(numbers, 139, limit=4)
    assert time.perf_counter() - start < 60
    assert 0 < len(choices) <= 4
