"""CHGNet relaxations: the per-structure (ASE) and the batched engine, and the CHGNet energy model."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.relax import CHGNetEnergyModel, relax_structure


def _cscl(a: float = 4.12) -> Structure:
    return Structure(Lattice.cubic(a), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_chgnet_relaxation_of_a_strained_cell_lowers_the_energy():
    s = _cscl(4.5)  # CsCl strained by ~9 %: CHGNet contracts it
    s.translate_sites([1], [0.03, 0.0, 0.0])
    out = relax_structure(s, steps=15, fmax=0.05)
    assert out["energy_per_atom"] < out["initial_energy_per_atom"]
    assert out["volume_change"] < -0.03
    assert 0 < out["rmsd"] < 0.5
    assert out["converged"] == (out["max_force"] <= 0.05)
    final = Structure.from_dict(out["structure"])
    assert final.composition == s.composition and len(final) == 2


def test_energy_model_rejects_bad_settings():
    with pytest.raises(ValueError, match="fmax"):
        CHGNetEnergyModel(fmax=0)


def test_isolated_atoms_are_refused_even_after_a_relaxation():
    """CHGNet's calculator switches the shared graph converter to "warn"; our model accessor undoes it.

    Without that, whether an isolated atom (no neighbour within 6 Å) gets an energy would depend on
    whether a relaxation ran earlier in the same process (seen as a CI-only failure).
    """
    from xtalgen.postprocess.batch_energies import batch_static_energies
    from xtalgen.postprocess.relax import static_energy

    isolated = Structure(Lattice.cubic(30.0), ["Na"], [[0, 0, 0]])
    relax_structure(_cscl(4.3), steps=2)
    with pytest.raises(ValueError, match="isolated atom"):
        static_energy(isolated)
    [(energy, error)] = batch_static_energies([isolated])
    assert energy is None and "isolated atom" in error
    with pytest.raises(ValueError, match="isolated atom"):
        relax_structure(isolated, steps=2)


def _zno() -> Structure:
    return Structure(Lattice.hexagonal(3.3, 5.0), ["Zn", "Zn", "O", "O"],
                     [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.52], [1 / 3, 2 / 3, 0.40], [2 / 3, 1 / 3, 0.85]])  # fmt: skip


def test_batched_engine_matches_the_per_structure_relaxation():
    from xtalgen.postprocess.relax import relax_many

    cells = {"cscl": _cscl(4.5), "zno": _zno()}
    cells["cscl"].translate_sites([1], [0.03, 0.0, 0.0])
    batched = dict(relax_many(cells.items(), steps=4, fmax=0.05, batch_size=2))
    for key, structure in cells.items():
        one = relax_structure(structure, steps=4, fmax=0.05)
        mine = batched[key]
        assert mine["steps"] == 4 and one["steps"] - 1 == 4  # ASE's record counts one trajectory frame more
        assert mine["energy_per_atom"] == pytest.approx(one["energy_per_atom"], abs=1e-5)
        assert mine["initial_energy_per_atom"] == pytest.approx(one["initial_energy_per_atom"], abs=1e-6)
        assert mine["max_force"] == pytest.approx(one["max_force"], abs=1e-3)
        a, b = Structure.from_dict(mine["structure"]), Structure.from_dict(one["structure"])
        assert np.allclose(a.lattice.matrix, b.lattice.matrix, atol=1e-4)
        assert np.allclose(a.cart_coords, b.cart_coords, atol=1e-4)
        assert mine["energy_per_atom"] < mine["initial_energy_per_atom"]


def test_batched_engine_records_bad_input_and_isolated_atoms_per_structure(tmp_path):
    isolated = Structure(Lattice.cubic(30.0), ["Na"], [[0, 0, 0]])
    model = CHGNetEnergyModel(steps=2)
    out = model.relax([("iso", isolated), ("junk", "not a cif"), ("ok", _cscl(4.3))], cache_path=tmp_path / "r.jsonl",
                      progress=False)  # fmt: skip
    assert "isolated atom" in out["iso"]["error"] and out["junk"]["error"]
    assert out["ok"]["steps"] == 2 and out["ok"]["energy_per_atom"] < 0


def test_engines_have_their_own_cache_tags_and_resume_keys():
    from xtalgen.postprocess.relax_resume import resume_fields, stale_reason

    batched, ase = CHGNetEnergyModel(), CHGNetEnergyModel(engine="ase")
    assert batched.engine == "batched" and batched.relax_tag == "chgnet-0.3.0-fire200-0.1-batched"
    assert ase.relax_tag == "chgnet-0.3.0-fire200-0.1" and "engine" not in ase.relax_settings  # records from before
    fields = resume_fields(_cscl(), batched.relax_settings)
    old = {**resume_fields(_cscl(), ase.relax_settings)}
    assert "engine None -> 'batched'" in stale_reason(old, fields)
    assert stale_reason(fields, fields) is None
    with pytest.raises(ValueError, match="engine"):
        CHGNetEnergyModel(engine="warp")
    with pytest.raises(ValueError, match="batch_size"):
        CHGNetEnergyModel(batch_size=0)


def test_early_stop_has_its_own_cache_tag_and_needs_the_batched_engine():
    from xtalgen.postprocess.early_stop import EarlyStopRule

    rule = EarlyStopRule()
    early = CHGNetEnergyModel(early_stop=rule)
    assert early.relax_tag == f"chgnet-0.3.0-fire200-0.1-batched-{rule.tag}"
    assert early.relax_settings["early_stop"] == rule.settings()
    assert "early_stop" not in CHGNetEnergyModel().relax_settings
    with pytest.raises(ValueError, match="early_stop"):
        CHGNetEnergyModel(engine="ase", early_stop=rule)


def test_model_relax_stops_early_with_hull_energies_and_traces(tmp_path):
    from xtalgen.postprocess.early_stop import EarlyStopRule

    rule = EarlyStopRule(after=2, margin=0.1, window=1, max_drop=10.0)  # stops anything far above its hull
    cells = [("far", _cscl(4.5)), ("free", _cscl(4.5))]
    model = CHGNetEnergyModel(steps=6, fmax=1e-4, early_stop=rule, trace=True)
    out = model.relax(cells, cache_path=tmp_path / "r.jsonl", progress=False, hull={"far": -100.0})
    assert out["far"]["stopped_early"] and out["far"]["steps"] == 2 and len(out["far"]["energies"]) == 3
    assert "stopped_early" not in out["free"] and out["free"]["steps"] == 6 and len(out["free"]["energies"]) == 7
