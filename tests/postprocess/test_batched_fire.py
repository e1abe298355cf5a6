"""The batched FIRE follows ASE's FIRE on FrechetCellFilter step for step, keeps its batch full, and fails one
structure at a time. A Lennard-Jones potential (ASE's) makes the exact comparisons cheap; CHGNet is used
only for a few steps on two tiny cells."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from xtalgen.postprocess.batched_fire import ForceResult, relax_batched
from xtalgen.postprocess.frechet_cell import cell_and_positions, generalised_forces


def _lj_atoms(structure: Structure):
    from ase.calculators.lj import LennardJones

    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = LennardJones(sigma=2.5, epsilon=0.2, rc=6.0, smooth=True)
    return atoms


def _lj_forces(structures: Sequence[Structure]) -> list[ForceResult]:
    out = []
    for s in structures:
        atoms = _lj_atoms(s)
        stress = atoms.get_stress(voigt=False)
        out.append(ForceResult(atoms.get_potential_energy() / len(atoms), atoms.get_forces(), stress))
    return out


def _cells() -> list[Structure]:
    a = Structure(Lattice([[3.1, 0.2, 0], [0, 2.9, 0.1], [0.3, 0, 3.3]]), ["Ar", "Ar"], [[0, 0, 0], [0.45, 0.55, 0.5]])
    b = Structure(Lattice.hexagonal(3.0, 4.4), ["Ar", "Ar", "Ar"], [[0, 0, 0], [1 / 3, 2 / 3, 0.45], [0.6, 0.2, 0.8]])
    return [a, b]


def _ase_fire(structure: Structure, steps: int, fmax: float):
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = _lj_atoms(structure)
    opt = FIRE(FrechetCellFilter(atoms), logfile=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.run(fmax=fmax, steps=steps)
    return atoms, opt.nsteps


def test_generalised_forces_equal_ase_frechet_cell_filter():
    from ase.filters import FrechetCellFilter

    structure = _cells()[1]
    atoms = _lj_atoms(structure)
    filtered = FrechetCellFilter(atoms)
    rng = np.random.default_rng(0)
    x0 = filtered.get_positions()
    step = rng.normal(scale=0.05, size=x0.shape)
    filtered.set_positions(x0 + step)  # atoms and cell both moved
    n = len(atoms)
    u = step[n:]  # our cell coordinates leave out ASE's constant n·log(n) on the diagonal
    x = structure.cart_coords + step[:n]
    cell, cart = cell_and_positions(structure.lattice.matrix, x, u, n)
    assert np.allclose(cell, atoms.cell[:], atol=1e-10) and np.allclose(cart, atoms.positions, atol=1e-10)
    ours = generalised_forces(atoms.get_forces(), atoms.get_stress(voigt=False), cell, u, n)
    assert np.allclose(ours, filtered.get_forces(), atol=1e-9)


def test_batched_fire_follows_ase_fire_step_for_step():
    cells = _cells()
    for steps in (3, 40):
        outcomes = {o.key: o for o in relax_batched(enumerate(cells), _lj_forces, steps=steps, fmax=0.01, batch_size=2)}
        for i, structure in enumerate(cells):
            atoms, nsteps = _ase_fire(structure, steps, 0.01)
            out = outcomes[i]
            assert out.error is None and out.steps == nsteps
            assert np.allclose(out.final.lattice.matrix, atoms.cell[:], atol=1e-8)
            assert np.allclose(out.final.cart_coords, atoms.positions, atol=1e-8)
            assert out.energy_per_atom == pytest.approx(atoms.get_potential_energy() / len(atoms), abs=1e-9)


class _Recording:
    """LJ forces that note which structures (by site count) each call received; ``converged_at_start``: a
    structure of that many sites gets zero forces and stress (it stops before its first step)."""

    def __init__(self, converged_at_start: int) -> None:
        self.calls: list[list[int]] = []
        self.converged_at_start = converged_at_start

    def __call__(self, structures: Sequence[Structure]) -> list[ForceResult | Exception]:
        self.calls.append([len(s) for s in structures])
        out: list[ForceResult | Exception] = []
        for s, r in zip(structures, _lj_forces(structures), strict=True):
            if len(s) == self.converged_at_start:
                out.append(ForceResult(r.energy_per_atom, np.zeros_like(r.forces), np.zeros((3, 3))))
            elif len(s) == 4:
                out.append(ValueError("isolated atom"))
            else:
                out.append(r)
        return out


def test_converged_structure_leaves_the_batch_and_the_next_one_takes_its_place():
    one = Structure(Lattice.cubic(3.5), ["Ar"], [[0, 0, 0]])
    two, three = _cells()
    forces = _Recording(converged_at_start=1)
    outcomes = list(relax_batched([("one", one), ("two", two), ("three", three)], forces, steps=4, fmax=1e-6,
                                  batch_size=2))  # fmt: skip
    assert outcomes[0].key == "one" and outcomes[0].steps == 0 and outcomes[0].fire_converged
    assert forces.calls[0] == [1, 2]  # "one" and "two" start together
    assert forces.calls[1] == [2, 3]  # "one" has left, "three" has joined
    assert all(1 not in call for call in forces.calls[1:])
    done = {o.key: o for o in outcomes}
    assert done["two"].steps == 4 and not done["two"].fire_converged  # step cap
    assert done["three"].steps == 4


def test_a_failing_structure_fails_alone():
    bad = Structure(Lattice.cubic(4.0), ["Ar"] * 4, [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]])
    outcomes = {o.key: o for o in relax_batched([("bad", bad), ("ok", _cells()[0])], _Recording(0), steps=3)}
    assert "isolated atom" in outcomes["bad"].error and outcomes["bad"].final is None
    assert outcomes["ok"].error is None and outcomes["ok"].steps == 3


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="batch_size"):
        list(relax_batched([], _lj_forces, batch_size=0))
    with pytest.raises(ValueError, match="fmax"):
        list(relax_batched([], _lj_forces, fmax=0))
