"""Read and mask the CrysTens layout in torch: each atom slot's header, and the rows and columns of slots.

Layout: :mod:`xtalgen.representations.crystens.config` (header rows ``ROW_A``..``ROW_SG`` and atom slots
from ``FIRST_ATOM``, 4 layers, each header entry repeated in its slot's row and column).
"""

from __future__ import annotations

import torch

from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_SG


def slot_headers(x0: torch.Tensor) -> torch.Tensor:
    """Mean of the 8 repeats (header row and column, 4 layers) of each header entry: (B, 11, A)."""
    atoms = slice(FIRST_ATOM, x0.shape[-1])
    rows = x0[:, :, :ROW_SG + 1, atoms]  # (B, 4, 11, A)
    cols = x0[:, :, atoms, :ROW_SG + 1].transpose(-1, -2)  # (B, 4, 11, A)
    return 0.5 * (rows.mean(dim=1) + cols.mean(dim=1))  # exact for 8 equal repeats (a mean over 8 is not)


def slot_mask(slots: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 4, N, N) bool: the rows and columns of the given (B, A) atom slots, in all layers."""
    full = torch.zeros(slots.shape[0], size, dtype=torch.bool, device=slots.device)
    full[:, FIRST_ATOM:] = slots
    mask = full[:, :, None] | full[:, None, :]
    return mask[:, None].expand(-1, 4, -1, -1)
