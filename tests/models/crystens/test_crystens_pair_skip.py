"""Pair-block skip: the pair block of the x0 estimate = differences / distances of its own header + residual."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig
from xtalgen.models.crystens.pair_skip import PairSkip
from xtalgen.representations.crystens import CrysTensConfig
from xtalgen.representations.crystens.config import FIRST_ATOM
from xtalgen.representations.crystens.encode import encode

CT = CrysTensConfig(size=20, cell="primitive")
TINY = DiffusionConfig(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, axis_context=True,
                       sampling_steps=4, pair_skip=True)  # fmt: skip


def _real() -> torch.Tensor:
    srtio3 = Structure(Lattice.cubic(3.9), ["Sr", "Ti", "O", "O", "O"],
                       [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])  # fmt: skip
    zno = Structure(Lattice.hexagonal(3.25, 5.2), ["Zn", "Zn", "O", "O"],
                    [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, 0.38], [2 / 3, 1 / 3, 0.88]])  # fmt: skip
    return torch.tensor(np.stack([encode(srtio3, CT), encode(zno, CT)]))


def _residual_map(t: torch.Tensor) -> torch.Tensor:
    """What the UNet has to write on a real tensor: per layer the normalised zero distance / zero difference
    where both slots hold atoms, the fill value elsewhere; header and side copies as they are."""
    out = t.clone()
    present = t[:, 0, 0, FIRST_ATOM:] > CT.presence_threshold  # (B, A)
    both = present[:, :, None] & present[:, None, :]
    zero = torch.tensor([float(CT.pair_distance.normalise(0.0))] + [float(CT.difference.normalise(0.0))] * 3)
    block = torch.where(both[:, None], zero[None, :, None, None], torch.tensor(CT.fill_value))
    out[:, :, FIRST_ATOM:, FIRST_ATOM:] = block
    return out


def test_skip_plus_constant_residual_rebuilds_real_tensors():
    t = _real()
    rebuilt = PairSkip(CT)(_residual_map(t))
    assert torch.allclose(rebuilt, t, atol=2e-4)  # 2e-4: the norm's epsilon on the diagonal
    # the header and the side copies pass through untouched
    assert torch.equal(rebuilt[:, :, :FIRST_ATOM], t[:, :, :FIRST_ATOM])
    assert torch.equal(rebuilt[:, :, FIRST_ATOM:, :FIRST_ATOM], t[:, :, FIRST_ATOM:, :FIRST_ATOM])


def test_empty_slots_get_no_skip_and_presence_is_soft():
    t = _real()
    skip = PairSkip(CT)
    p = skip.presence(t)
    assert torch.equal(p[0, :5], torch.ones(5)) and torch.equal(p[0, 5:], torch.zeros(CT.max_atoms - 5))
    assert torch.equal(skip.skip(t)[0, :, 5:, :], torch.zeros(4, CT.max_atoms - 5, CT.max_atoms))
    half = t.clone()
    z_half = 0.5 * (CT.fill_value + float(CT.atomic_number.normalise(1.0)))
    half[:, :, 0, FIRST_ATOM + 4] = z_half  # slot 4's Z row copies halfway to hydrogen ...
    half[:, :, FIRST_ATOM + 4, 0] = z_half  # ... and its column copies
    assert skip.presence(half)[0, 4] == pytest.approx(0.5)


def test_gradients_are_finite_at_zero_differences():
    x = torch.full((1, 4, 20, 20), 0.3, requires_grad=True)  # every slot at the same coordinates
    PairSkip(CT)(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_option_errors():
    with pytest.raises(ValueError, match="fractional layer-0 distances"):
        PairSkip(CT.with_options(distance="cartesian"))
    with pytest.raises(ValueError, match="pair_skip: needs prediction_type 'sample'"):
        dataclasses.replace(TINY, prediction_type="epsilon").validate()
    with pytest.raises(ValueError, match="needs the training tensors' CrysTens config"):
        CrysTensDiffusion(20, TINY)


def test_the_prediction_is_the_unet_output_plus_its_skip():
    torch.manual_seed(0)
    model = CrysTensDiffusion(20, TINY, tensor_config=CT).eval()
    xt, t = torch.randn(2, 4, 20, 20), torch.tensor([500, 20])
    with torch.no_grad():
        raw = model.network(xt, t)
        assert torch.equal(model.predict(xt, t), model.pair_skip(raw))
    off = CrysTensDiffusion(20, dataclasses.replace(TINY, pair_skip=False), tensor_config=CT)
    assert off.pair_skip is None


def test_pair_skip_diffusion_trains_and_samples(trains_and_samples):
    torch.manual_seed(0)
    trains_and_samples(CrysTensDiffusion(16, TINY, tensor_config=CT.with_options(size=16)))


def test_bundled_cpu_config_switches_the_skip_on_and_the_library_default_is_off():
    """The CPU config's choice was measured (docs/benchmarks/crystens_pair_skip.md); the class default stays off."""
    from xtalgen.configs import bundled_config
    from xtalgen.pipelines.crystens.train import load_crystens_config

    assert DiffusionConfig().pair_skip is False
    assert load_crystens_config("diffusion", bundled_config("crystens_diffusion_cpu")).model.pair_skip is True
