"""Our one-backward CHGNet forces and stresses are CHGNet's own (``CHGNet.forward(task="efs")``)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.chgnet_forces import chgnet_batch_forces, chgnet_forces
from xtalgen.postprocess.relax import chgnet_model


def test_batched_forces_and_stresses_equal_chgnet_forward():
    from ase import units

    model = chgnet_model()
    cells = [
        Structure(Lattice.cubic(4.3), ["Cs", "Cl"], [[0, 0, 0], [0.52, 0.5, 0.5]]),
        Structure(Lattice.hexagonal(3.2, 5.1), ["Zn", "O", "O"], [[0, 0, 0], [1 / 3, 2 / 3, 0.38], [0.1, 0.5, 0.7]]),
    ]
    graphs = [model.graph_converter(s) for s in cells]
    ours = chgnet_forces(model, graphs)
    ref = model.predict_graph(graphs, task="efs")
    for mine, theirs in zip(ours, ref, strict=True):
        assert mine.energy_per_atom == pytest.approx(float(theirs["e"]), abs=1e-6)
        assert np.allclose(mine.forces, theirs["f"], atol=1e-4)
        assert np.allclose(mine.stress, theirs["s"] * units.GPa, atol=1e-5)  # CHGNet: GPa; ours eV/Å³
        assert np.abs(mine.forces).max() > 1e-3  # the comparison is not between zeros


def test_a_structure_with_an_isolated_atom_fails_alone():
    isolated = Structure(Lattice.cubic(30.0), ["Na"], [[0, 0, 0]])
    ok = Structure(Lattice.cubic(4.3), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    bad, good = chgnet_batch_forces(chgnet_model())([isolated, ok])
    assert isinstance(bad, Exception) and "isolated atom" in str(bad)
    assert not isinstance(good, Exception) and np.isfinite(good.energy_per_atom)
