"""PGCGM critic (WGAN-GP): base-site coordinates + lattice + conditions -> one score."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from xtalgen.models.pgcgm.conditions import ConditionEncoder, Conditions, mlp
from xtalgen.models.pgcgm.lattice import LatticeScaler


class PGCGMCritic(nn.Module):
    """Scores (M,) for base sites (M, S, K, 3) and lattice features (M, 6) under conditions.

    Coordinates enter as sin/cos of 2πx so that 0.999 and 0.001 look alike (fractional coordinates
    are periodic). No batch normalisation (the gradient penalty is per sample); layer norm only.
    Use :meth:`score` with lattice parameters, or :meth:`forward` with already-encoded lattice
    features (what the gradient penalty interpolates).
    """

    def __init__(
        self,
        n_sites: int = 3,
        n_sets: int = 3,
        hidden: int = 256,
        n_layers: int = 3,
        element_dim: int = 23,
        ops_hidden: int = 64,
        log_length_mean: float = 1.5,
        log_length_std: float = 0.4,
    ):
        super().__init__()
        self.n_sites, self.n_sets = n_sites, n_sets
        self.cond = ConditionEncoder(n_sites, element_dim, ops_hidden, hidden)
        in_dim = hidden + n_sets * n_sites * 6 + 6
        layers: list[nn.Module] = []
        sizes = [in_dim] + [hidden] * n_layers
        for i in range(n_layers):
            layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.LayerNorm(sizes[i + 1]), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.out = mlp([hidden, 1])
        self.scaler = LatticeScaler(log_length_mean, log_length_std)

    def forward(self, coords: Tensor, lattice_features: Tensor, cond: Conditions) -> Tensor:
        """Scores (M,) from coordinates (M, S, K, 3) and encoded lattice features (M, 6)."""
        m = coords.shape[0]
        angle = 2.0 * math.pi * coords
        enc = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
        enc = enc * cond.site_mask[:, None, :, None].to(enc.dtype)
        h = torch.cat([self.cond(cond), enc.reshape(m, -1), lattice_features], dim=-1)
        return self.out(self.body(h)).squeeze(-1)

    def score(self, coords: Tensor, lattice: Tensor, cond: Conditions) -> Tensor:
        """Scores (M,) from coordinates and lattice parameters (M, 6) in Å/degrees."""
        return self.forward(coords, self.scaler.encode(lattice), cond)
