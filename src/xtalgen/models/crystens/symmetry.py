"""Symmetrise generated CrysTens tensors: average each entry with its mirrored partner (torch).

Layout (see :mod:`xtalgen.representations.crystens.config`): every layer is symmetric under
transposition except the atom block of the difference layers (1-3), which holds signed differences
``x_i - x_j`` and is antisymmetric about the normalised value of a zero difference (``center``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

FIRST_ATOM = 12
DIFFERENCE_CHANNELS = (1, 2, 3)


def symmetrise(
    x: torch.Tensor,
    first_atom: int = FIRST_ATOM,
    antisymmetric_channels: Sequence[int] = DIFFERENCE_CHANNELS,
    center: float = 0.0,
) -> torch.Tensor:
    """Average mirrored entries of ``x`` (..., 4, N, N); returns a new tensor.

    Symmetric parts become ``(x + x^T) / 2``; the atom block (rows/columns ``first_atom..N-1``) of
    ``antisymmetric_channels`` becomes ``((x - c) - (x - c)^T) / 2 + c`` with ``c = center``.
    """
    if x.ndim < 3 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"symmetrise: expected (..., C, N, N), got shape {tuple(x.shape)}")
    out = 0.5 * (x + x.transpose(-1, -2))
    if antisymmetric_channels:
        ch = list(antisymmetric_channels)
        block = x[..., ch, first_atom:, first_atom:] - center
        out[..., ch, first_atom:, first_atom:] = 0.5 * (block - block.transpose(-1, -2)) + center
    return out


def asymmetry(x: torch.Tensor, first_atom: int = FIRST_ATOM, center: float = 0.0) -> torch.Tensor:
    """Mean absolute change symmetrisation makes, per sample (0 for a perfectly consistent tensor)."""
    return (symmetrise(x, first_atom, DIFFERENCE_CHANNELS, center) - x).abs().flatten(-3).mean(-1)
