"""PGCGM generator: noise + conditions -> 3 sets of base-site coordinates and a lattice."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from xtalgen.models.pgcgm.conditions import ConditionEncoder, Conditions, mlp
from xtalgen.models.pgcgm.lattice import LatticeScaler, constrain_lattice


class PGCGMGenerator(nn.Module):
    """Generates fractional base-site coordinates (M, S, K, 3) in [0, 1) and lattices (M, 6).

    Lengths come out as standardised log-lengths (decoded with training-set statistics) and are tied
    as the crystal system requires; angles are fixed by the crystal system except monoclinic beta and
    the three triclinic angles, which are generated in ``90° ± angle_span``.

    Args:
        n_sites: K, base sites per sample (padding allowed through ``site_mask``).
        n_sets: S, sets of symmetry-equivalent representatives generated per sample (paper: 3).
        noise_dim: length of the Gaussian noise vector.
        hidden: width of the hidden layers.
        n_layers: hidden layers after the condition encoder.
        element_dim: element features per site.
        ops_hidden: width of the symmetry-operation encoder.
        angle_span: half-range of generated angles, degrees.
        coord_activation: ``"sigmoid"`` (the seed's choice, output in (0, 1)) or ``"periodic"``
            (``raw mod 1``: no saturation at the special positions 0 and 1; everything downstream
            of the generator - critic features, distances, expansion - is periodic anyway).
        log_length_mean, log_length_std: statistics of ln(length / Å) in the training set.
        site_dim: Wyckoff features per site in the conditions (0: elements only, the paper's model).
    """

    def __init__(
        self,
        n_sites: int = 3,
        n_sets: int = 3,
        noise_dim: int = 64,
        hidden: int = 256,
        n_layers: int = 3,
        element_dim: int = 23,
        ops_hidden: int = 64,
        angle_span: float = 50.0,
        log_length_mean: float = 1.5,
        log_length_std: float = 0.4,
        coord_activation: str = "sigmoid",
        site_dim: int = 0,
    ):
        super().__init__()
        if not 0 < angle_span < 90:
            raise ValueError(f"angle_span must be in (0, 90) degrees, got {angle_span}")
        if coord_activation not in ("sigmoid", "periodic"):
            raise ValueError(f"coord_activation must be 'sigmoid' or 'periodic', got {coord_activation!r}")
        self.coord_activation = coord_activation
        self.n_sites, self.n_sets, self.noise_dim = n_sites, n_sets, noise_dim
        self.angle_span = float(angle_span)
        self.cond = ConditionEncoder(n_sites, element_dim, ops_hidden, hidden, site_dim)
        self.body = mlp([noise_dim + hidden] + [hidden] * n_layers, final_act=True)
        self.coord_head = nn.Linear(hidden, n_sets * n_sites * 3)
        self.length_head = nn.Linear(hidden, 3)
        self.angle_head = nn.Linear(hidden, 3)
        self.scaler = LatticeScaler(log_length_mean, log_length_std)

    def sample_noise(self, m: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        """Standard normal noise (m, noise_dim)."""
        return torch.randn(m, self.noise_dim, generator=generator, device=device)

    def forward(self, noise: Tensor, cond: Conditions) -> tuple[Tensor, Tensor]:
        """Return ``(coords (M, S, K, 3) fractional, lattice (M, 6) Å/degrees)``."""
        m = noise.shape[0]
        h = self.body(torch.cat([noise, self.cond(cond)], dim=-1))
        raw = self.coord_head(h)
        coords = torch.sigmoid(raw) if self.coord_activation == "sigmoid" else torch.remainder(raw, 1.0)
        coords = coords.reshape(m, self.n_sets, self.n_sites, 3)
        coords = coords * cond.site_mask[:, None, :, None].to(coords.dtype)
        lengths = self.scaler.decode_lengths(self.length_head(h))
        angles = 90.0 + self.angle_span * torch.tanh(self.angle_head(h))
        return coords, constrain_lattice(lengths, angles, cond.crystal_system)
