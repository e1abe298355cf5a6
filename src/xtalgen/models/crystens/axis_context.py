"""Row/column context channels for a CrysTens denoiser: each position also sees its row's and column's means.

Every lattice length, angle and the space group is repeated along a header row (one entry per atom slot),
and whether a slot holds an atom is repeated down its column. A convolutional UNet sees one position's
neighbourhood; adding, for every position, the mean of its row over the atom-slot columns and the mean of
its column over the atom-slot rows gives it the consensus of all repeats at once (averaging 20 noisy
repeats cuts the noise by ~4.5x) — the same idea as CoordConv's extra input channels (Liu et al., NeurIPS
2018), here with data rather than coordinates. The network still writes every entry itself.
"""

from __future__ import annotations

import torch

from xtalgen.representations.crystens.config import FIRST_ATOM

#: input channels per tensor channel with context: the value, its row mean, its column mean
CONTEXT_FACTOR = 3


def with_axis_context(x: torch.Tensor, first_atom: int = FIRST_ATOM) -> torch.Tensor:
    """(B, C, N, N) -> (B, 3C, N, N): ``x``, the mean of each row over columns ``first_atom:`` and the
    mean of each column over rows ``first_atom:``, broadcast back to N x N."""
    if x.ndim != 4 or x.shape[-1] != x.shape[-2] or x.shape[-1] <= first_atom:
        raise ValueError(f"with_axis_context: expected (B, C, N, N) with N > {first_atom}, got {tuple(x.shape)}")
    rows = x[..., first_atom:].mean(dim=-1, keepdim=True).expand_as(x)
    cols = x[..., first_atom:, :].mean(dim=-2, keepdim=True).expand_as(x)
    return torch.cat([x, rows, cols], dim=1)
