"""Volume sanity, merging and symmetry snapping of a decoded cell, each switchable and recorded."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.sample_cleanup import CleanupOptions, clean_structure
from xtalgen.postprocess.volume import ElementVolumes

OFF = CleanupOptions(volume_limit=None, merge_factor=None, symmetry_tolerance=None)


def _pair(distance: float) -> Structure:
    """Two Cu atoms ``distance`` Å apart along a in a 6 Å cubic cell, plus an O far away."""
    return Structure(Lattice.cubic(6.0), ["Cu", "Cu", "O"], [[0.1, 0.2, 0.3], [0.1 + distance / 6.0, 0.2, 0.3],
                                                              [0.6, 0.7, 0.8]])  # fmt: skip


def test_two_atoms_close_together_are_merged() -> None:
    s, row = clean_structure(_pair(0.3), CleanupOptions(volume_limit=None, symmetry_tolerance=None))
    assert row["atoms_merged"] == 1 and len(s) == 2
    off, row_off = clean_structure(_pair(0.3), OFF)
    assert len(off) == 3 and "atoms_merged" not in row_off
    far, row_far = clean_structure(_pair(2.5), CleanupOptions(volume_limit=None, symmetry_tolerance=None))
    assert row_far["atoms_merged"] == 0 and len(far) == 3


def test_absurd_volume_is_rescaled_and_plausible_kept() -> None:
    table = ElementVolumes({"Na": 25.0, "Cl": 25.0})
    nacl = Structure.from_spacegroup(225, Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    opts = CleanupOptions(merge_factor=None, symmetry_tolerance=None)
    kept, row = clean_structure(nacl, opts, volumes=table)  # 125 / 200 = 0.625: plausible
    assert row["volume_scale"] == 1.0 and row["volume_ratio"] == pytest.approx(0.625)
    assert kept.volume == pytest.approx(125.0)
    small = nacl.copy()
    small.scale_lattice(40.0)  # 0.2 of the prediction: absurd
    fixed, row = clean_structure(small, opts, volumes=table)
    assert fixed.volume == pytest.approx(200.0) and row["volume_scale"] == pytest.approx(5 ** (1 / 3), rel=1e-3)
    _, row_off = clean_structure(small, OFF, volumes=table)
    assert "volume_scale" not in row_off


def test_symmetry_step_records_groups_and_displacement() -> None:
    rng = np.random.default_rng(1)
    nacl = Structure.from_spacegroup(225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    noisy = Structure(nacl.lattice, nacl.species, nacl.cart_coords + rng.normal(0, 0.04, (8, 3)),
                      coords_are_cartesian=True)  # fmt: skip
    s, row = clean_structure(noisy, CleanupOptions(volume_limit=None))
    assert row["spacegroup_before"] != 225 and row["symmetry_applied"] == 225
    assert 0 < row["symmetry_max_displacement"] < 0.3 and row["atoms_final"] == 8 == len(s)
    _, row_off = clean_structure(noisy, CleanupOptions(volume_limit=None, symmetry_tolerance=None))
    assert row_off["symmetry_applied"] == 0 and "symmetry_max_displacement" not in row_off


def test_options_are_checked() -> None:
    bad_options = (CleanupOptions(volume_limit=0.5), CleanupOptions(merge_factor=-1),
                   CleanupOptions(symmetry_tolerance=0))  # fmt: skip
    for bad in bad_options:
        with pytest.raises(ValueError):
            bad.validate()
    assert CleanupOptions(symmetry_tolerance=0.15).tolerances == (0.01, 0.05, 0.1, 0.15)
