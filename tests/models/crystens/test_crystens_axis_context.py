"""Row/column context channels: values, shape checks, and a diffusion model that uses them."""

from __future__ import annotations

import pytest
import torch

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig
from xtalgen.models.crystens.axis_context import CONTEXT_FACTOR, with_axis_context
from xtalgen.representations.crystens.config import FIRST_ATOM

TINY = DiffusionConfig(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, axis_context=True)


def test_context_channels_are_row_and_column_means_over_atom_slots():
    size = FIRST_ATOM + 4
    x = torch.zeros(2, 1, size, size)
    x[0, 0, 3, FIRST_ATOM:] = torch.tensor([1.0, 2.0, 3.0, 6.0])  # a header row: mean over slots 3
    x[0, 0, 3, 0] = 100.0  # header columns do not count
    x[1, 0, FIRST_ATOM:, 5] = torch.tensor([4.0, 0.0, 0.0, 0.0])  # a column: mean over atom rows 1
    x[1, 0, 0, 5] = -50.0  # header rows do not count
    out = with_axis_context(x)
    assert out.shape == (2, CONTEXT_FACTOR, size, size)
    assert torch.equal(out[:, :1], x)
    assert torch.allclose(out[0, 1, 3], torch.full((size,), 3.0))  # whole row carries its mean
    assert torch.allclose(out[1, 2, :, 5], torch.full((size,), 1.0))  # whole column carries its mean
    assert float(out[0, 2].abs().max()) == 0.0  # sample 0 has nothing in its atom rows: column means 0
    assert float(out[1, 1].abs().max()) == 0.0  # sample 1's values sit in header column 5: row means 0
    # channels stay apart: a four-channel input gives 12 channels, grouped value / row / column
    y = torch.randn(1, 4, size, size)
    ctx = with_axis_context(y)
    assert ctx.shape == (1, 12, size, size)
    assert torch.allclose(ctx[:, 4:8, 0, 0], y[..., 0, FIRST_ATOM:].mean(-1))


@pytest.mark.parametrize("shape", [(4, 16, 16), (1, 4, 16, 15), (1, 4, FIRST_ATOM, FIRST_ATOM)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match="expected"):
        with_axis_context(torch.zeros(shape))


def test_diffusion_with_axis_context_trains_and_samples(overfit):
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY)
    assert model.unet.config.in_channels == 4 * CONTEXT_FACTOR
    x0 = (torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(3)) * 1.8 - 0.9).expand(8, -1, -1, -1)
    before, after = overfit(model, x0)
    assert after < 0.5 * before, (before, after)
    samples = model.sample(2, steps=3, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (2, 4, 16, 16) and torch.isfinite(samples).all()
