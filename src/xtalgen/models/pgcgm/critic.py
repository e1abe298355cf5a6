"""PGCGM critic (WGAN-GP): base-site coordinates + lattice + conditions -> one score."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from xtalgen.models.pgcgm.conditions import ConditionEncoder, Conditions, mlp
from xtalgen.models.pgcgm.lattice import LatticeScaler


class PGCGMCritic(nn.Module):
    """Scores (M,) for base sites (M, S, K, 3) and lattice features (M, 6) under conditions.

    Coordinates enter as sin/cos of 2πkx, k = 1..``coord_harmonics``, so that 0.999 and 0.001 look
    alike (fractional coordinates are periodic) and, with k up to 4 or more, special positions on the
    1/2, 1/3, 1/4 grids (where most atoms of real crystals sit) are easy to recognise.
    No batch normalisation (the gradient penalty is per sample); layer norm only.
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
        coord_harmonics: int = 1,
        site_dim: int = 0,
    ):
        super().__init__()
        if coord_harmonics < 1:
            raise ValueError(f"coord_harmonics must be >= 1, got {coord_harmonics}")
        self.n_sites, self.n_sets = n_sites, n_sets
        harmonics = torch.arange(1, coord_harmonics + 1, dtype=torch.float32)
        self.register_buffer("harmonics", harmonics, persistent=False)  # derived from the config, not saved
        self.cond = ConditionEncoder(n_sites, element_dim, ops_hidden, hidden, site_dim)
        in_dim = hidden + n_sets * n_sites * 6 * coord_harmonics + 6
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
        angle = 2.0 * math.pi * coords.unsqueeze(-1) * self.harmonics.to(coords.dtype)  # (M, S, K, 3, H)
        enc = torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)
        enc = enc * cond.site_mask[:, None, :, None, None].to(enc.dtype)
        h = torch.cat([self.cond(cond), enc.reshape(m, -1), lattice_features], dim=-1)
        return self.out(self.body(h)).squeeze(-1)

    def score(self, coords: Tensor, lattice: Tensor, cond: Conditions) -> Tensor:
        """Scores (M,) from coordinates and lattice parameters (M, 6) in Å/degrees."""
        return self.forward(coords, self.scaler.encode(lattice), cond)
