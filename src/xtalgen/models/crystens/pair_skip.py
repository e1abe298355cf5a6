"""Pair-block skip connection for a CrysTens x0 denoiser: the atom-pair block is computed from the output's
own header coordinates, and the UNet writes only the residual.

In a CrysTens with fractional layer-0 distances, every pair-block entry of atoms i and j is a function of
their fractional coordinates: layers 1-3 hold ``x_i - x_j`` (row minus column) and layer 0 holds
``|x_i - x_j|`` (:mod:`xtalgen.representations.crystens.distances`). A convolutional UNet has to learn that
arithmetic across up to N pixels, and at the CPU budget it does not (docs/models/crystens.md,
"Self-conditioning and preconditioning"). :class:`PairSkip` adds, to the UNet's clean-tensor estimate,

    skip[l, i, j] = p_i p_j * slope_l * f_l(c_i - c_j)

where ``c`` are the physical fractional coordinates read from the estimate's own header (mean of each
coordinate's 8 repeats: 4 layers x row and column), ``f_0`` is the Euclidean norm, ``f_1..3`` the
components, ``slope_l`` the normalisation's slope and ``p`` a soft presence of each slot read from its Z
repeats (0 at the fill value, 1 from hydrogen up). On a real tensor the UNet's part of the pair block is
then a constant per layer (the normalised value of a zero difference / zero distance) wherever both slots
hold atoms, and the fill value elsewhere — an occupancy map, not arithmetic. The network still writes
every entry: the skip is a fixed function of its own header output, the residual is unconstrained, and
the loss is on the sum. This is a model choice (an inductive bias), not the paper's plain UNet.
"""

from __future__ import annotations

import torch
from torch import nn

from xtalgen.models.crystens.tensor_layout import slot_headers
from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_X, ROW_Z, CrysTensConfig

_EPS = 1e-8  # keeps the norm's gradient finite at zero difference (the diagonal)


class PairSkip(nn.Module):
    """``forward(x0)`` -> ``x0 + skip`` for (B, 4, N, N) normalised clean-tensor estimates (see module doc)."""

    def __init__(self, config: CrysTensConfig) -> None:
        super().__init__()
        if config.distance != "fractional":
            raise ValueError(
                "pair_skip needs fractional layer-0 distances (a function of the coordinates alone); this "
                f"CrysTens stores {config.distance!r} ones — encode with distance='fractional' or turn pair_skip off"
            )
        self.fill = float(config.fill_value)
        self.z_hydrogen = float(config.atomic_number.normalise(1.0))
        coord = config.coordinate
        self.coord_lo, self.coord_out_lo, self.coord_slope = float(coord.lo), float(coord.out_lo), float(coord.slope)
        self.distance_slope = float(config.pair_distance.slope)
        self.difference_slope = float(config.difference.slope)

    def presence(self, x: torch.Tensor) -> torch.Tensor:
        """(B, A) soft occupancy of each atom slot: 0 at the fill value, 1 from hydrogen's Z up."""
        z = slot_headers(x)[:, ROW_Z]
        return ((z - self.fill) / (self.z_hydrogen - self.fill)).clamp(0.0, 1.0)

    def coordinates(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, A) physical fractional coordinates of every atom slot (consensus of the 8 repeats)."""
        norm = slot_headers(x)[:, ROW_X : ROW_X + 3]
        return self.coord_lo + (norm - self.coord_out_lo) / self.coord_slope

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, A, A): the pair-block part computed from the header of ``x``."""
        c = self.coordinates(x)
        diff = c[:, :, :, None] - c[:, :, None, :]  # (B, 3, A, A): row atom minus column atom
        dist = torch.sqrt((diff * diff).sum(dim=1, keepdim=True) + _EPS)
        p = self.presence(x)
        both = (p[:, :, None] * p[:, None, :]).unsqueeze(1)  # (B, 1, A, A)
        return both * torch.cat([self.distance_slope * dist, self.difference_slope * diff], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 4 or x.shape[-1] != x.shape[-2] or x.shape[-1] <= FIRST_ATOM:
            raise ValueError(f"PairSkip: expected (B, 4, N, N) with N > {FIRST_ATOM}, got {tuple(x.shape)}")
        pair = x[:, :, FIRST_ATOM:, FIRST_ATOM:] + self.skip(x)
        head = x[:, :, :FIRST_ATOM, :]
        side = x[:, :, FIRST_ATOM:, :FIRST_ATOM]
        return torch.cat([head, torch.cat([side, pair], dim=-1)], dim=-2)
