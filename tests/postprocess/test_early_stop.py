"""The early-stop rule stops a structure whose energy stays far above its hull and not one near it; with no
rule (or a rule that never fires) the batched FIRE gives exactly today's result. A Lennard-Jones potential
(ASE's) stands in for the ML potential."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from xtalgen.postprocess.batched_fire import ForceResult, relax_batched
from xtalgen.postprocess.early_stop import EarlyStopRule, HullEarlyStop


def _lj_forces(structures: Sequence[Structure]) -> list[ForceResult]:
    from ase.calculators.lj import LennardJones

    out = []
    for s in structures:
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = LennardJones(sigma=2.5, epsilon=0.2, rc=6.0, smooth=True)
        out.append(ForceResult(atoms.get_potential_energy() / len(atoms), atoms.get_forces(),
                               atoms.get_stress(voigt=False)))  # fmt: skip
    return out


def _cells() -> list[Structure]:
    rng = np.random.default_rng(3)
    lattice = Lattice.cubic(4.6)
    return [Structure(lattice, ["Ar"] * 4, rng.uniform(size=(4, 3))) for _ in range(3)]


def _final_energy(structure: Structure) -> float:
    [out] = relax_batched([(0, structure)], _lj_forces, steps=300, fmax=0.01, batch_size=1)
    return out.energy_per_atom


RULE = EarlyStopRule(after=20, margin=1.5, window=5, max_drop=0.01, limit=0.1)


def test_rule_stops_far_above_the_hull_and_not_near_it():
    cells = _cells()
    minimum = _final_energy(cells[0])
    far = minimum - 3.0  # the relaxed energy stays 3 eV/atom above this hull: hopeless
    near = minimum - 0.02  # ends within the limit of this hull (after a plateau ~1 eV/atom above it)
    stop = HullEarlyStop(RULE, {"far": far, "near": near})
    outs = {o.key: o for o in relax_batched([("far", cells[0]), ("near", cells[0]), ("none", cells[0])], _lj_forces,
                                            steps=300, fmax=0.01, batch_size=3, stop_early=stop)}  # fmt: skip
    assert outs["far"].stopped_early and not outs["far"].fire_converged
    assert RULE.after <= outs["far"].steps < outs["none"].steps
    assert not outs["near"].stopped_early and outs["near"].fire_converged
    assert not outs["none"].stopped_early and outs["none"].fire_converged  # no hull for this key: never stopped
    assert outs["near"].steps == outs["none"].steps and outs["near"].energy_per_atom == outs["none"].energy_per_atom
    far = outs["far"]
    assert len(far.energies) == far.steps + 1 and far.energies[0] == far.initial_energy_per_atom


def test_rule_waits_while_the_energy_still_falls_fast():
    rule = EarlyStopRule(after=3, margin=0.1, window=2, max_drop=0.05)
    assert not rule.should_stop(hull=0.0, energies=[5.0, 4.0, 3.0])  # before `after` steps
    assert not rule.should_stop(hull=0.0, energies=[5.0, 4.0, 3.0, 2.0])  # falling 1 eV/atom per step
    assert rule.should_stop(hull=0.0, energies=[5.0, 4.0, 3.99, 3.98])  # stalled far above the hull
    assert not rule.should_stop(hull=3.9, energies=[5.0, 4.0, 3.99, 3.98])  # within limit + margin
    assert not rule.should_stop(hull=float("nan"), energies=[5.0, 4.0, 3.99, 3.98])


def test_off_is_identical_to_today():
    cells = _cells()
    items = list(enumerate(cells))
    never = HullEarlyStop(RULE, {})  # no hull energies: the rule never fires
    for stop in (None, never):
        got = {o.key: o for o in relax_batched(items, _lj_forces, steps=60, fmax=0.01, batch_size=2, stop_early=stop)}
        ref = {o.key: o for o in relax_batched(items, _lj_forces, steps=60, fmax=0.01, batch_size=2)}
        for key, out in ref.items():
            assert got[key].steps == out.steps and got[key].energy_per_atom == out.energy_per_atom
            assert np.array_equal(got[key].final.cart_coords, out.final.cart_coords) and not got[key].stopped_early


@pytest.mark.parametrize("kwargs", [{"after": 2, "window": 5}, {"window": 0, "after": 3}, {"margin": -0.1}])
def test_bad_rule_is_refused(kwargs):
    with pytest.raises(ValueError, match="early stop"):
        EarlyStopRule(**kwargs)
