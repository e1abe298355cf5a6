from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure
from tests.evaluation.conftest import rocksalt

from xtalgen.evaluation.validity import sample_structural_validity, structural_validity


def test_rocksalt_is_valid():
    assert structural_validity(rocksalt()) == (True, "")


def test_close_atoms_are_invalid_with_distance_in_reason():
    s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.1, 0, 0]])  # 0.4 Å apart
    ok, reason = structural_validity(s)
    assert not ok and "0.400" in reason


def test_periodic_image_distance_counts():
    # 0.02 and 0.98 are 0.04 * 4 Å = 0.16 Å apart across the cell boundary
    s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0.02, 0, 0], [0.98, 0, 0]])
    ok, reason = structural_validity(s)
    assert not ok and "0.160" in reason


def test_short_lattice_vector_self_image_is_invalid():
    s = Structure(Lattice.orthorhombic(0.45, 5, 5), ["Na"], [[0, 0, 0]])
    assert structural_validity(s)[0] is False


def test_threshold_is_inclusive_at_half_angstrom():
    # exactly 0.5 Å is allowed, 0.49 Å is not
    ok = Structure(Lattice.cubic(10.0), ["H", "H"], [[0, 0, 0], [0.05, 0, 0]])
    bad = Structure(Lattice.cubic(10.0), ["H", "H"], [[0, 0, 0], [0.049, 0, 0]])
    assert structural_validity(ok)[0] is True
    assert structural_validity(bad)[0] is False


def test_tiny_volume_is_invalid():
    s = Structure(Lattice.cubic(0.4), ["H"], [[0, 0, 0]])  # 0.064 Å3
    ok, reason = structural_validity(s)
    assert not ok and "volume" in reason


def test_missing_structure_and_nan_coordinates():
    assert sample_structural_validity(None) == {"struct_valid": False, "struct_reason": "no structure"}
    s = Structure(Lattice.cubic(4.0), ["Na"], [[0, 0, 0]])
    s._sites[0]._frac_coords = np.array([np.nan, 0, 0])
    assert structural_validity(s)[0] is False
