"""Symmetry projection inside the sampler: tensor entries are the encoder's; samples have the requested group."""

from __future__ import annotations

import numpy as np
import pytest
import spglib
import torch
from pymatgen.core import Lattice, Structure

from xtalgen.models.crystens import ConditioningConfig, CrysTensDiffusion, DiffusionConfig, Imputation, symmetrise
from xtalgen.models.crystens.symmetry_projection import SymmetryProjection
from xtalgen.representations.crystens import CrysTensConfig, decode, encode
from xtalgen.representations.crystens.cell_composition import cell_numbers
from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_A, ROW_X
from xtalgen.representations.crystens.known_entries import known_entries

CT = CrysTensConfig(size=20)  # 8 atom slots
STRUCTURES = {
    "NaCl": lambda: Structure.from_spacegroup(225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "SrTiO3": lambda: Structure.from_spacegroup(
        221, Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0]]
    ),
}


def _noisy(tensor: np.ndarray, n_atoms: int, lattice: bool, seed: int = 0) -> torch.Tensor:
    """The tensor with noise on its coordinate entries (header rows x, y, z and the difference layers) and,
    if ``lattice``, on its lattice entries."""
    rng = np.random.default_rng(seed)
    t = tensor.astype(np.float64).copy()
    atoms = slice(FIRST_ATOM, FIRST_ATOM + n_atoms)
    rows = slice(ROW_X, ROW_A + 3) if lattice else slice(ROW_X, ROW_X + 3)
    t[:, rows, atoms] += rng.normal(0, 0.01, t[:, rows, atoms].shape)
    t[:, atoms, rows] += rng.normal(0, 0.01, t[:, atoms, rows].shape)
    t[1:, atoms, atoms] += rng.normal(0, 0.01, t[1:, atoms, atoms].shape)
    return torch.from_numpy(t.astype(np.float32))[None]


@pytest.mark.parametrize(("formula", "sg"), [("NaCl", 225), ("SrTiO3", 221)])
def test_projected_tensor_is_the_encoders_tensor_of_the_symmetric_structure(formula, sg):
    """Noise on the coordinate entries of a real crystal's tensor: the projection returns the encoder's tensor."""
    structure = STRUCTURES[formula]()
    clean = encode(structure, CT)
    numbers = cell_numbers(formula, CT, sg)
    proj = SymmetryProjection.for_request(CT, sg, numbers)
    out, disp, labels = proj.project(_noisy(clean, len(numbers), lattice=False))
    assert np.allclose(out[0].numpy(), clean, atol=1e-6)
    assert disp.shape == (1, 2) and 0 < disp[0, 1] <= disp[0, 0] < 0.3
    # lattice noise too: the result is still the encoding of a cubic cell with the real coordinates
    out, _, _ = proj.project(_noisy(clean, len(numbers), lattice=True, seed=1))
    result = decode(out[0].numpy(), CT)
    a, b, c = result.structure.lattice.abc
    assert result.spacegroup_found == sg and abs(a - b) < 1e-4 and abs(a - c) < 1e-4
    assert np.allclose(result.structure.lattice.angles, 90.0, atol=1e-4)


@pytest.mark.parametrize("prediction", ["sample", "epsilon"])
@pytest.mark.parametrize(("formula", "sg"), [("SrTiO3", 221), ("ZnO", 186), ("TiO2", 136)])
def test_untrained_model_with_projection_gives_the_requested_group_and_formula(prediction, formula, sg):
    torch.manual_seed(0)
    cfg = DiffusionConfig(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4,
                          sampling_steps=3, prediction_type=prediction)  # fmt: skip
    model = CrysTensDiffusion(20, cfg, ConditioningConfig(enabled=False))
    numbers = cell_numbers(formula, CT, sg)
    impute = Imputation.from_known(known_entries(CT, sg, numbers), CT)
    proj = SymmetryProjection.for_request(CT, sg, numbers, impute)
    x = model.sample(3, impute=proj, generator=torch.Generator().manual_seed(2))
    center = float(CT.difference.normalise(0.0))
    sym = symmetrise(x, FIRST_ATOM, center=center, presence_threshold=CT.presence_threshold)
    for tensor in sym.numpy():
        s = decode(tensor, CT).structure
        assert s is not None and s.composition.reduced_formula == formula
        cell = (s.lattice.matrix, s.frac_coords, s.atomic_numbers)
        assert spglib.get_symmetry_dataset(cell, symprec=1e-3).number == sg  # exact, whatever the model
    assert len(proj.displacements) == 1 and proj.displacements[0].shape == (3, 2) and len(proj.labels) == 3
    assert (proj.displacements[0] > 0).all()  # the model's own estimate was not symmetric


def test_impossible_requests_raise():
    with pytest.raises(ValueError, match="no combination of Wyckoff positions"):
        SymmetryProjection.for_request(CT, 225, np.array([11, 17]))
    with pytest.raises(ValueError, match="needs conventional cells"):
        SymmetryProjection.for_request(CT.with_options(cell="primitive"), 225, np.array([11] * 4 + [17] * 4))
    with pytest.raises(ValueError, match="do not fit a size-20"):
        SymmetryProjection.for_request(CT, 225, np.array([11] * 8 + [17] * 8))
