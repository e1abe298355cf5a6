from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess import potentials
from xtalgen.postprocess.potentials import (
    PotentialUnavailable,
    energy_model,
    parse_potentials,
    relax_structure,
    static_energy,
)


def _cscl(a: float = 4.12) -> Structure:
    return Structure(Lattice.cubic(a), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_parse_potentials_checks_names_early():
    assert parse_potentials("chgnet") == ["chgnet"]
    assert parse_potentials(" CHGNet ") == ["chgnet"]
    with pytest.raises(ValueError, match="unknown potential 'mace'.*chgnet, sevennet"):
        parse_potentials("chgnet,mace")
    with pytest.raises(ValueError, match="given twice"):
        parse_potentials("chgnet,chgnet")
    with pytest.raises(ValueError, match="no potential"):
        parse_potentials(" , ")


def test_missing_package_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(potentials.importlib.util, "find_spec", lambda n: None if n == "sevenn" else real(n))
    with pytest.raises(PotentialUnavailable, match=r"pip install 'xtalgen\[sevennet\]'"):
        parse_potentials("chgnet,sevennet")
    with pytest.raises(PotentialUnavailable, match="sevenn"):
        energy_model("sevennet")


def test_energy_models_have_distinct_cache_tags():
    chg = energy_model("chgnet", steps=5, fmax=0.05)
    assert chg.reference_tag == "chgnet-0.3.0-static"  # the shipped table's tag is unchanged
    sev = energy_model("sevennet", steps=5, fmax=0.05)
    assert sev.relax_tag == "sevennet-7net-l3i5-fire5-0.05"
    assert sev.reference_tag == "sevennet-7net-l3i5-static"
    with pytest.raises(ValueError, match="fmax"):
        energy_model("sevennet", fmax=0)


# --- the SevenNet path (optional extra; CI installs it, see .ci/run) ---------------------------------------
def test_sevennet_static_energy_and_two_step_relaxation():
    pytest.importorskip("sevenn", reason="SevenNet extra not installed: pip install 'xtalgen[sevennet]'")
    s = _cscl(4.5)  # strained CsCl with Cl moved off centre
    s.translate_sites([1], [0.1, 0.0, 0.0])
    energy, fmax = static_energy("sevennet", s)
    assert -6.0 < energy < -1.0 and fmax > 0.01
    out = relax_structure("sevennet", s, steps=2, fmax=0.01)
    assert out["initial_energy_per_atom"] == pytest.approx(energy, abs=1e-5)
    assert out["steps"] == 2 and not out["converged"]
    assert out["energy_per_atom"] < out["initial_energy_per_atom"]
    assert 0 < out["rmsd"] < 0.5
    final = Structure.from_dict(out["structure"])
    assert final.composition == s.composition and not final.site_properties


def test_sevennet_refuses_elements_without_parameters():
    pytest.importorskip("sevenn", reason="SevenNet extra not installed")
    s = Structure(Lattice.cubic(3.0), ["Og"], [[0, 0, 0]])
    with pytest.raises(ValueError, match="no parameters for Og"):
        static_energy("sevennet", s)


def test_sevennet_energy_model_caches_records(tmp_path):
    pytest.importorskip("sevenn", reason="SevenNet extra not installed")
    model = energy_model("sevennet", steps=2, fmax=0.01)
    path = tmp_path / "relax.jsonl"
    out = model.relax([("a", _cscl(4.3))], cache_path=path, progress=False)
    assert np.isfinite(out["a"]["energy_per_atom"]) and path.is_file()
    ref = model.energies([("r", _cscl(4.12).to(fmt="cif"))], cache_path=None, progress=False)
    assert ref["r"]["formula"] == "Cs1 Cl1" and np.isfinite(ref["r"]["energy_per_atom"])


def test_sevennet_runaway_relaxation_is_an_error(monkeypatch):
    pytest.importorskip("sevenn", reason="SevenNet extra not installed")
    from xtalgen.postprocess import sevennet

    # a bound above CsCl's energy makes an ordinary relaxation look like a runaway one
    monkeypatch.setattr(sevennet, "MIN_ENERGY_PER_ATOM", 0.0)
    with pytest.raises(ValueError, match="relaxation diverged"):
        relax_structure("sevennet", _cscl(4.3), steps=3)
    monkeypatch.setattr(sevennet, "MIN_ENERGY_PER_ATOM", -20.0)
    monkeypatch.setattr(sevennet, "DIVERGED_FORCE", 0.0)  # any force left at the end counts as runaway
    with pytest.raises(ValueError, match="largest force"):
        relax_structure("sevennet", _cscl(4.5), steps=1)
