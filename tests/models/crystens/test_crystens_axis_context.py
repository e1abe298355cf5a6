"""Context channels (mirror, row/column consensus, row/column headers): values, shapes, and a diffusion model
that uses them."""

from __future__ import annotations

import pytest
import torch

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig
from xtalgen.models.crystens.axis_context import (
    CONTEXT_FACTOR,
    HEADER_CONTEXT_FACTOR,
    with_axis_context,
    with_header_context,
)
from xtalgen.representations.crystens.config import FIRST_ATOM

TINY = DiffusionConfig(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, axis_context=True)


def test_context_holds_mirror_and_consensus_over_rows_and_mirrored_columns():
    size = FIRST_ATOM + 4
    x = torch.zeros(1, 1, size, size)
    x[0, 0, 7, FIRST_ATOM:] = torch.tensor([80.0, 90.0, 90.0, 100.0])  # header row 7 over the 4 slots
    x[0, 0, FIRST_ATOM:, 7] = torch.tensor([90.0, 90.0, 90.0, 70.0])  # its mirrored header column
    x[0, 0, 7, 0] = 1000.0  # header columns do not enter the consensus
    out = with_axis_context(x)
    assert out.shape == (1, CONTEXT_FACTOR, size, size)
    assert torch.equal(out[:, 0], x[:, 0])
    assert torch.equal(out[0, 1], x[0, 0].T)  # mirror channel
    consensus = (80 + 90 + 90 + 100 + 90 + 90 + 90 + 70) / 8  # all 8 repeats of row 7's quantity
    assert torch.allclose(out[0, 2, 7], torch.full((size,), consensus))  # every position of row 7
    assert torch.allclose(out[0, 3, :, 7], torch.full((size,), consensus))  # and of column 7
    # rows with nothing in the atom-slot columns or the mirrored rows (header row 0, atom row 12): consensus 0
    assert float(out[0, 2, 0].abs().max()) == 0.0
    assert torch.allclose(out[0, 2, FIRST_ATOM], torch.zeros(size))


def test_channels_are_grouped_value_mirror_rows_columns():
    size = FIRST_ATOM + 3
    y = torch.randn(2, 4, size, size)
    ctx = with_axis_context(y)
    assert ctx.shape == (2, 16, size, size)
    sym = 0.5 * (y + y.transpose(-1, -2))
    expected = sym[..., 3, FIRST_ATOM:].mean(-1)  # (2, 4): row 3's consensus per channel
    assert torch.allclose(ctx[:, 8:12, 3, 0], expected, atol=1e-6)
    assert torch.allclose(ctx[:, 12:16, 0, 3], expected, atol=1e-6)
    assert torch.equal(ctx[:, 4:8], y.transpose(-1, -2))


def test_header_context_gives_each_pair_entry_both_atoms_headers():
    size = FIRST_ATOM + 5
    x = torch.randn(2, 3, size, size)
    h = with_header_context(x)
    assert h.shape == (2, 3 * HEADER_CONTEXT_FACTOR, size, size)
    h = h.reshape(2, 3, HEADER_CONTEXT_FACTOR, size, size)
    for i, j in [(FIRST_ATOM + 1, FIRST_ATOM + 3), (2, FIRST_ATOM), (FIRST_ATOM + 4, 0)]:
        assert torch.equal(h[:, :, :FIRST_ATOM, i, j], x[:, :, i, :FIRST_ATOM])  # row i's header columns
        assert torch.equal(h[:, :, FIRST_ATOM:, i, j], x[:, :, :FIRST_ATOM, j])  # column j's header rows
    # a pair-block difference x_i - x_j is then a pointwise function of the context
    i, j, coord = FIRST_ATOM + 1, FIRST_ATOM + 2, 1
    pointwise = h[:, 0, coord, i, j] - h[:, 0, FIRST_ATOM + coord, i, j]
    assert torch.allclose(pointwise, x[:, 0, i, coord] - x[:, 0, coord, j])


@pytest.mark.parametrize("fn", [with_axis_context, with_header_context])
@pytest.mark.parametrize("shape", [(4, 16, 16), (1, 4, 16, 15), (1, 4, FIRST_ATOM, FIRST_ATOM)])
def test_bad_shapes_are_rejected(fn, shape):
    with pytest.raises(ValueError, match="expected"):
        fn(torch.zeros(shape))


def test_diffusion_with_context_trains_and_samples(trains_and_samples):
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY)
    assert model.unet.config.in_channels == 4 * CONTEXT_FACTOR
    trains_and_samples(model)
