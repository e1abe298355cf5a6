"""Symmetrise generated CrysTens tensors: average each entry with its mirrored partner (torch).

Layout (see :mod:`xtalgen.representations.crystens.config`): every layer is symmetric under
transposition except, in the difference layers (1-3), the block between two present atoms, which
holds signed differences ``x_i - x_j`` and is antisymmetric about the normalised value of a zero
difference (``center``). Entries involving an empty slot hold the fill value on both sides (symmetric).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

FIRST_ATOM = 12
DIFFERENCE_CHANNELS = (1, 2, 3)


def present_atoms(x: torch.Tensor, threshold: float, first_atom: int = FIRST_ATOM) -> torch.Tensor:
    """(..., A) bool: slots whose mean Z entry (header row 0 and column 0 of all layers) exceeds ``threshold``."""
    z = 0.5 * (x[..., :, 0, first_atom:] + x[..., :, first_atom:, 0]).mean(-2)
    return z > threshold


def symmetrise(
    x: torch.Tensor,
    first_atom: int = FIRST_ATOM,
    antisymmetric_channels: Sequence[int] = DIFFERENCE_CHANNELS,
    center: float = 0.0,
    presence_threshold: float | None = None,
) -> torch.Tensor:
    """Average mirrored entries of ``x`` (..., 4, N, N); returns a new tensor.

    Symmetric entries become ``(x + x^T) / 2``; antisymmetric ones (``antisymmetric_channels``, atom
    block) become ``((x - c) - (x - c)^T) / 2 + c`` with ``c = center``. With ``presence_threshold``
    (normalised Z level of an empty slot vs hydrogen) only pairs of present atoms are antisymmetric;
    without it the whole atom block is.
    """
    if x.ndim < 3 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"symmetrise: expected (..., C, N, N), got shape {tuple(x.shape)}")
    out = 0.5 * (x + x.transpose(-1, -2))
    if antisymmetric_channels:
        ch = list(antisymmetric_channels)
        block = x[..., ch, first_atom:, first_atom:] - center
        anti = 0.5 * (block - block.transpose(-1, -2)) + center
        if presence_threshold is not None:
            p = present_atoms(x, presence_threshold, first_atom)
            pair = (p[..., :, None] & p[..., None, :]).unsqueeze(-3)  # (..., 1, A, A)
            anti = torch.where(pair, anti, out[..., ch, first_atom:, first_atom:])
        out[..., ch, first_atom:, first_atom:] = anti
    return out


def asymmetry(
    x: torch.Tensor, first_atom: int = FIRST_ATOM, center: float = 0.0, presence_threshold: float | None = None
) -> torch.Tensor:
    """Mean absolute change symmetrisation makes, per sample (0 for a perfectly consistent tensor)."""
    sym = symmetrise(x, first_atom, DIFFERENCE_CHANNELS, center, presence_threshold)
    return (sym - x).abs().flatten(-3).mean(-1)
