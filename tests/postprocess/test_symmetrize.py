"""Symmetry recovery at a loose tolerance and snapping onto Wyckoff positions (postprocess/symmetrize.py)."""

from __future__ import annotations

import numpy as np
import pytest
import spglib
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.symmetrize import symmetrize_structure


def _nacl() -> Structure:
    return Structure.from_spacegroup(225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _jitter(s: Structure, sigma: float, seed: int = 0) -> Structure:
    rng = np.random.default_rng(seed)
    cart = s.cart_coords + rng.normal(0, sigma, (len(s), 3))
    lat = Lattice(s.lattice.matrix * (1 + rng.normal(0, 0.01, (3, 3))))
    return Structure(lat, s.species, cart, coords_are_cartesian=True)


def _tight(s: Structure) -> int:
    return spglib.get_symmetry_dataset((s.lattice.matrix, s.frac_coords, s.atomic_numbers), symprec=1e-3).number


def test_noisy_rocksalt_is_snapped_to_fm3m() -> None:
    noisy = _jitter(_nacl(), 0.05)
    assert _tight(noisy) == 1
    res = symmetrize_structure(noisy)
    assert res.spacegroup == 225 and _tight(res.structure) == 225
    assert res.structure.composition.reduced_formula == "NaCl" and len(res.structure) == 8
    assert 0.0 < res.max_displacement < 0.3 and res.tolerance is not None


def test_the_requested_group_is_preferred() -> None:
    # rocksalt stretched 3 % along c: I4/mmm (139) at a tight tolerance, Fm-3m (225) at a loose one
    s = _nacl()
    s.lattice = Lattice.tetragonal(5.64, 5.64 * 1.03)
    assert symmetrize_structure(s).spacegroup == 225  # the most symmetric group found
    res = symmetrize_structure(s, target=139)
    assert res.spacegroup == 139 and _tight(res.structure) == 139
    assert symmetrize_structure(s, target=221).spacegroup == 225  # not found: the most symmetric group


def test_random_cell_stays_p1_and_unchanged() -> None:
    rng = np.random.default_rng(3)
    s = Structure(Lattice.from_parameters(4.1, 5.3, 6.7, 71, 83, 97), ["Si"] * 5, rng.random((5, 3)))
    res = symmetrize_structure(s, tolerances=(0.01, 0.05))
    assert res.spacegroup == 1 and res.tolerance is None and res.max_displacement == 0.0
    assert res.structure is s


def test_bad_target_is_refused() -> None:
    with pytest.raises(ValueError, match="1..230"):
        symmetrize_structure(_nacl(), target=231)
