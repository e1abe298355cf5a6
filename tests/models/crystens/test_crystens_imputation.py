"""Imputation: the known entries end exactly at their targets for every prediction type and sampler."""

from __future__ import annotations

import pytest
import torch

from xtalgen.models.crystens import ConditioningConfig, CrysTensDiffusion, DiffusionConfig, Imputation, symmetrise
from xtalgen.representations.crystens import CrysTensConfig, decode
from xtalgen.representations.crystens.cell_composition import cell_numbers
from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_SG
from xtalgen.representations.crystens.known_entries import known_entries

CT = CrysTensConfig(size=20)  # 8 atom slots


def _model(prediction: str, conditional: bool) -> CrysTensDiffusion:
    torch.manual_seed(0)
    cfg = DiffusionConfig(
        block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, sampling_steps=4,
        prediction_type=prediction,
    )  # fmt: skip
    return CrysTensDiffusion(20, cfg, ConditioningConfig(enabled=conditional, hidden_dim=8))


@pytest.mark.parametrize("prediction", ["sample", "epsilon", "v_prediction"])
@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_known_entries_are_exact_and_decode_to_the_formula(prediction, sampler):
    """An untrained model with imputation: every sample holds the targets exactly and decodes to SrTiO3."""
    numbers = cell_numbers("SrTiO3", CT, 221)
    known = known_entries(CT, 221, numbers)
    impute = Imputation.from_known(known, CT)
    model = _model(prediction, conditional=True)
    x = model.sample(
        3, sampler=sampler, spacegroup=torch.full((3,), 221), guidance_scale=2.0, impute=impute,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    mask = torch.from_numpy(known.mask).expand_as(x)
    assert torch.equal(x[mask], torch.from_numpy(known.values).expand_as(x)[mask])
    assert not torch.equal(x[~mask], torch.zeros_like(x[~mask]))  # the rest is generated
    center = float(CT.difference.normalise(0.0))
    sym = symmetrise(x, FIRST_ATOM, center=center, presence_threshold=CT.presence_threshold).numpy()
    for tensor in sym:
        result = decode(tensor, CT)
        assert result.n_atoms == 5 and result.spacegroup_stated == 221
        if result.structure is not None:
            assert result.structure.composition.reduced_formula == "SrTiO3"


def test_without_imputation_the_untrained_model_misses_the_formula():
    """The control for the test above: the same model and seed without imputation does not state 221."""
    model = _model("sample", conditional=True)
    x = model.sample(3, spacegroup=torch.full((3,), 221), generator=torch.Generator().manual_seed(1))
    target = float(CT.spacegroup.normalise(221))
    assert not torch.allclose(x[:, :, ROW_SG, FIRST_ATOM:], torch.full_like(x[:, :, ROW_SG, FIRST_ATOM:], target))


def test_spacegroup_only_is_written_into_the_present_slots():
    """Only a space group: the slots the x0 estimate fills get it, empty slots keep the fill value."""
    impute = Imputation.from_known(known_entries(CT, 62), CT)
    x0 = torch.full((2, 4, 20, 20), CT.fill_value)
    x0[0, :, 0, FIRST_ATOM] = x0[0, :, FIRST_ATOM, 0] = 0.5  # sample 0: slot 0 holds an atom
    out = impute.apply(x0)
    sg = float(CT.spacegroup.normalise(62))
    assert torch.allclose(out[0, :, ROW_SG, FIRST_ATOM], torch.full((4,), sg))
    assert torch.allclose(out[0, :, FIRST_ATOM, ROW_SG], torch.full((4,), sg))
    assert (out[0, :, ROW_SG, FIRST_ATOM + 1 :] == CT.fill_value).all()
    assert (out[1, :, ROW_SG, FIRST_ATOM:] == CT.fill_value).all()
    model = _model("sample", conditional=False)  # an unconditional model takes imputation too
    x = model.sample(2, impute=impute, generator=torch.Generator().manual_seed(0))
    for tensor in x.numpy():
        result = decode(tensor, CT)
        assert result.n_atoms == 0 or result.spacegroup_stated == 62


def test_unknown_prediction_type_is_an_error():
    impute = Imputation.from_known(known_entries(CT, 221), CT)
    x = torch.zeros(1, 4, 20, 20)
    with pytest.raises(ValueError, match="prediction_type"):
        impute.model_output(x, x, torch.tensor(5), torch.linspace(0.99, 0.01, 1000), "score")
