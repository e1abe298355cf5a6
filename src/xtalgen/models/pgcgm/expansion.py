"""Differentiable symmetry expansion of base sites and periodic distances (torch).

Symmetry operations are 4x4 affine matrices acting on fractional column vectors,
``x' = R x + t`` (mod 1), padded to 192 per space group with a boolean mask.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from xtalgen.models.pgcgm.lattice import lattice_matrix

# The 8 sign patterns used by the minimum-image search (see ``min_image_frac``).
_CORNERS = torch.tensor(list(itertools.product((0.0, 1.0), repeat=3)))


def expand_base_sites(coords: Tensor, ops: Tensor) -> Tensor:
    """Apply every symmetry operation to every base site.

    Args:
        coords: fractional base-site coordinates (M, ..., 3).
        ops: affine operations (M, G, 4, 4) acting on fractional column vectors.

    Returns:
        Fractional images (M, ..., G, 3) wrapped into [0, 1). Padded operations produce
        images too; mask them with ``ops_mask`` (M, G) downstream.
    """
    if ops.shape[-2:] != (4, 4) or coords.shape[-1] != 3 or ops.shape[0] != coords.shape[0]:
        raise ValueError(f"expected coords (M,...,3) and ops (M,G,4,4); got {tuple(coords.shape)}, "
                         f"{tuple(ops.shape)}")
    m, g = ops.shape[:2]
    rot = ops[:, :, :3, :3]
    trans = ops[:, :, :3, 3]
    flat = coords.reshape(m, -1, 3)  # (M, N, 3)
    images = torch.einsum("mgij,mnj->mngi", rot, flat) + trans[:, None, :, :]
    images = torch.remainder(images, 1.0)
    return images.reshape(*coords.shape[:-1], g, 3)


def min_image_frac(diff: Tensor) -> Tensor:
    """Candidate minimum-image fractional differences (..., 8, 3) for differences (..., 3).

    Each component is wrapped to [-0.5, 0.5] and also shifted by one cell towards the other side.
    The shortest of the 8 candidates is the exact minimum image for cells whose angles lie within
    about 60-120° (all standard conventional cells of real crystals we train on); for extremely
    skewed cells it is an upper bound.
    """
    w = diff - torch.round(diff)
    corners = _CORNERS.to(device=diff.device, dtype=diff.dtype)
    return w.unsqueeze(-2) - corners * torch.sign(w).unsqueeze(-2)


def periodic_distance(frac_a: Tensor, frac_b: Tensor, lattice: Tensor, eps: float = 1e-10) -> Tensor:
    """Minimum-image distances in Å between fractional points.

    Args:
        frac_a, frac_b: fractional coordinates (M, ..., 3), broadcastable against each other.
        lattice: lattice parameters (M, 6) (Å, degrees) or row-vector matrices (M, 3, 3).
        eps: added under the square root so the gradient at zero distance stays finite.

    Returns:
        Distances (M, ...) in Å.
    """
    mat = lattice if lattice.shape[-2:] == (3, 3) else lattice_matrix(lattice)
    diff = frac_a - frac_b
    m = diff.shape[0]
    cand = min_image_frac(diff.reshape(m, -1, 3))  # (M, N, 8, 3)
    cart = torch.einsum("mnkj,mji->mnki", cand, mat)
    dist = torch.sqrt((cart**2).sum(-1) + eps).amin(-1)
    return dist.reshape(diff.shape[:-1])


def to_cartesian(frac: Tensor, lattice: Tensor) -> Tensor:
    """Cartesian coordinates (M, ..., 3) in Å from fractional (M, ..., 3) and parameters (M, 6)."""
    mat = lattice if lattice.shape[-2:] == (3, 3) else lattice_matrix(lattice)
    m = frac.shape[0]
    cart = torch.einsum("mnj,mji->mni", frac.reshape(m, -1, 3), mat)
    return cart.reshape(frac.shape)
