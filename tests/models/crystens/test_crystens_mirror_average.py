"""Symmetrisation of generated CrysTens: mirrored entries averaged, difference blocks antisymmetric."""

from __future__ import annotations

import torch

from xtalgen.models.crystens import asymmetry, symmetrise


def _consistent(n: int = 16, atoms: int = 3) -> torch.Tensor:
    """A tensor with the CrysTens mirror structure: symmetric everywhere, antisymmetric diff blocks."""
    g = torch.Generator().manual_seed(0)
    t = torch.full((4, n, n), -1.0)
    head = torch.rand(4, 11, atoms, generator=g)
    cols = slice(12, 12 + atoms)
    t[:, :11, cols] = head
    t[:, cols, :11] = head.transpose(1, 2)
    x = torch.rand(atoms, 3, generator=g)
    diff = (x[:, None, :] - x[None, :, :]).permute(2, 0, 1)  # (3, A, A), d[i, j] = x_i - x_j
    dist = diff.norm(dim=0)
    t[0, cols, cols] = dist
    t[1:, cols, cols] = diff
    t[1:, 12 + atoms :, 12:] = 0.0  # empty difference entries at the zero-difference level
    t[1:, 12:, 12 + atoms :] = 0.0
    return t


def test_consistent_tensor_is_unchanged():
    t = _consistent()
    torch.testing.assert_close(symmetrise(t), t, rtol=0, atol=1e-7)
    assert float(asymmetry(t)) < 1e-7


def test_noisy_tensor_becomes_mirror_consistent_and_idempotent():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 16, 16, generator=g)
    s = symmetrise(x)
    torch.testing.assert_close(s[:, 0], s[:, 0].transpose(-1, -2))
    torch.testing.assert_close(s[:, 1:, :12, :], s[:, 1:, :, :12].transpose(-1, -2))
    block = s[:, 1:, 12:, 12:]
    torch.testing.assert_close(block, -block.transpose(-1, -2))
    torch.testing.assert_close(symmetrise(s), s)
    # the symmetric value is the mean of the two mirrored entries
    assert torch.isclose(s[0, 2, 3, 14], 0.5 * (x[0, 2, 3, 14] + x[0, 2, 14, 3]))
    assert torch.isclose(s[0, 2, 13, 14], 0.5 * (x[0, 2, 13, 14] - x[0, 2, 14, 13]))
    assert (asymmetry(x) > 0.1).all()


def test_center_shifts_the_antisymmetry_level():
    x = torch.zeros(4, 14, 14)
    x[1, 12, 13], x[1, 13, 12] = 0.7, 0.3  # around center 0.5: +0.2 / -0.2
    s = symmetrise(x, center=0.5)
    assert torch.isclose(s[1, 12, 13], torch.tensor(0.7)) and torch.isclose(s[1, 13, 12], torch.tensor(0.3))
    assert torch.isclose(s[1, 12, 12], torch.tensor(0.5))
