"""Pieces every potential's energy model shares: payloads to structures, the relaxation record and its RMSD (Å)."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.fire_energy_model import as_structure, displacement_rmsd, relaxation_record


def _cscl(a: float = 4.12) -> Structure:
    return Structure(Lattice.cubic(a), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_rmsd_removes_translation_and_wraps_images():
    s = _cscl()
    moved = s.copy()
    moved.translate_sites([0, 1], [0.3, 0.0, 0.0])  # rigid shift only
    assert displacement_rmsd(s, moved) == pytest.approx(0.0, abs=1e-9)
    one = s.copy()
    one.translate_sites([0], [-0.05, 0, 0])  # atom 0 goes to x = 0.95 (wraps); 0.206 Å move
    # displacement of atom 0 relative to the pair's mean: +-0.103 Å on each atom -> rms 0.103
    assert displacement_rmsd(s, one) == pytest.approx(0.05 * 4.12 / 2, rel=1e-6)
    with pytest.raises(ValueError, match="sites"):
        displacement_rmsd(s, Structure(Lattice.cubic(4), ["Cs"], [[0, 0, 0]]))


def test_payloads_of_every_kind_become_the_same_structure():
    s = _cscl()
    assert as_structure(s) is s
    assert as_structure(s.as_dict()) == s
    assert as_structure(s.to(fmt="cif")).matches(s)


def test_relaxation_record_reports_energies_convergence_and_volume_change():
    s = _cscl()
    final = _cscl(4.12 * 1.1)
    rec = relaxation_record(s, final, -3.0, -3.2, 0.05, fmax=0.1, steps=7)
    assert rec["converged"] and rec["steps"] == 7 and rec["energy_per_atom"] == -3.2
    assert rec["initial_energy_per_atom"] == -3.0 and rec["rmsd"] == pytest.approx(0.0, abs=1e-9)
    assert rec["volume_change"] == pytest.approx(1.1**3 - 1) and Structure.from_dict(rec["structure"]) == final
    assert not relaxation_record(s, final, -3.0, -3.2, 0.2, fmax=0.1, steps=7)["converged"]
