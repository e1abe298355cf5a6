"""Differentiable lattice geometry for PGCGM: matrices, volumes and crystal-system constraints.

Lattice parameters are ``(a, b, c, alpha, beta, gamma)`` with lengths in Å and angles in degrees,
describing the standard conventional cell (trigonal groups in hexagonal axes, monoclinic with
unique axis b), as produced by ``xtalgen.representations.basesites``.

Crystal systems are numbered 0 triclinic, 1 monoclinic, 2 orthorhombic, 3 tetragonal,
4 trigonal, 5 hexagonal, 6 cubic.
"""

from __future__ import annotations

import torch
from torch import Tensor

from xtalgen.data.crystal_systems import FIXED_ANGLES, LENGTH_SOURCE, N_CRYSTAL_SYSTEMS

# Which generated length each of a, b, c copies (tied lengths share one output), and the fixed angles
# (degrees; NaN marks an angle that is generated), per crystal system.
_LENGTH_SOURCE = torch.from_numpy(LENGTH_SOURCE)
_FIXED_ANGLES = torch.tensor(FIXED_ANGLES, dtype=torch.float32)


def lattice_matrix(params: Tensor) -> Tensor:
    """Row-vector lattice matrices (..., 3, 3) in Å from parameters (..., 6) (Å, degrees).

    Convention: a along x, b in the xy plane. Distances do not depend on the orientation chosen.
    Differentiable; degenerate angle sets are clamped to a tiny positive height instead of NaN.
    """
    a, b, c = params[..., 0], params[..., 1], params[..., 2]
    al, be, ga = (torch.deg2rad(params[..., i]) for i in (3, 4, 5))
    ca, cb, cg, sg = torch.cos(al), torch.cos(be), torch.cos(ga), torch.sin(ga)
    zero = torch.zeros_like(a)
    cy = (ca - cb * cg) / sg
    cz = torch.sqrt(torch.clamp(1.0 - cb**2 - cy**2, min=1e-8))
    rows = [
        torch.stack([a, zero, zero], dim=-1),
        torch.stack([b * cg, b * sg, zero], dim=-1),
        torch.stack([c * cb, c * cy, c * cz], dim=-1),
    ]
    return torch.stack(rows, dim=-2)


def cell_volume(params: Tensor) -> Tensor:
    """Cell volumes (...,) in Å^3 from lattice parameters (..., 6) (Å, degrees)."""
    a, b, c = params[..., 0], params[..., 1], params[..., 2]
    ca, cb, cg = (torch.cos(torch.deg2rad(params[..., i])) for i in (3, 4, 5))
    factor = 1.0 - ca**2 - cb**2 - cg**2 + 2.0 * ca * cb * cg
    return a * b * c * torch.sqrt(torch.clamp(factor, min=1e-8))


def constrain_lattice(
    lengths: Tensor, angles: Tensor, crystal_system: Tensor
) -> Tensor:
    """Lattice parameters (M, 6) whose tied lengths and fixed angles obey each crystal system.

    ``lengths`` (M, 3) Å and ``angles`` (M, 3) degrees are free network outputs; for each sample the
    lengths its system ties (a = b, a = b = c) are copied from one output and fixed angles
    (90°, 120°) replace the generated ones. Gradients flow only to the outputs that are used.
    """
    cs = crystal_system.long()
    if (cs < 0).any() or (cs >= N_CRYSTAL_SYSTEMS).any():
        raise ValueError(f"crystal_system must be in 0..6, got {sorted(set(cs.tolist()))}")
    src = _LENGTH_SOURCE.to(cs.device)[cs]
    tied = torch.gather(lengths, 1, src)
    fixed = _FIXED_ANGLES.to(device=angles.device, dtype=angles.dtype)[cs]
    free = torch.isnan(fixed)
    out_angles = torch.where(free, angles, torch.nan_to_num(fixed))
    return torch.cat([tied, out_angles], dim=-1)


def free_angle_mask(crystal_system: Tensor) -> Tensor:
    """Bool (M, 3): which of alpha, beta, gamma a crystal system leaves free."""
    return torch.isnan(_FIXED_ANGLES.to(crystal_system.device)[crystal_system.long()])


class LatticeScaler(torch.nn.Module):
    """Maps lattice parameters to network features and back.

    Lengths are log-scaled and standardised with training-set statistics (stored as buffers so they
    are saved with the weights); angles map to ``(angle - 90°) / angle_scale``.
    """

    def __init__(self, log_length_mean: float = 1.5, log_length_std: float = 0.4, angle_scale: float = 30.0):
        super().__init__()
        if log_length_std <= 0 or angle_scale <= 0:
            raise ValueError("log_length_std and angle_scale must be positive")
        self.register_buffer("log_length_mean", torch.tensor(float(log_length_mean)))
        self.register_buffer("log_length_std", torch.tensor(float(log_length_std)))
        self.angle_scale = float(angle_scale)

    def encode(self, params: Tensor) -> Tensor:
        """Features (M, 6) from lattice parameters (M, 6) (Å, degrees)."""
        lengths = (torch.log(params[..., :3].clamp(min=1e-3)) - self.log_length_mean) / self.log_length_std
        angles = (params[..., 3:] - 90.0) / self.angle_scale
        return torch.cat([lengths, angles], dim=-1)

    def decode_lengths(self, raw: Tensor) -> Tensor:
        """Lengths in Å from standardised log-lengths."""
        return torch.exp(raw * self.log_length_std + self.log_length_mean)
