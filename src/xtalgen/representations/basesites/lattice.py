"""Crystal-system lattice constraints of the standard conventional cell.

Lattices are (a, b, c, α, β, γ) with lengths in Å and angles in degrees. Each crystal system ties
some lengths together and fixes some angles (standard settings, see :mod:`.symops`):

=============  ====  ==================  ===========================
system         code  free parameters     constraints
=============  ====  ==================  ===========================
triclinic      0     a b c α β γ         –
monoclinic     1     a b c β             α = γ = 90 (b unique)
orthorhombic   2     a b c               α = β = γ = 90
tetragonal     3     a c                 b = a; α = β = γ = 90
trigonal       4     a c                 b = a; α = β = 90, γ = 120 (hexagonal axes)
hexagonal      5     a c                 b = a; α = β = 90, γ = 120
cubic          6     a                   b = c = a; α = β = γ = 90
=============  ====  ==================  ===========================

The tables :data:`LENGTH_SOURCE` and :data:`FIXED_ANGLES` encode the same constraints as arrays so
that a model can apply them to a batch (e.g. in torch) without Python branching.
"""

from __future__ import annotations

import numpy as np

from xtalgen.data.crystal_systems import CRYSTAL_SYSTEMS, FIXED_ANGLES, LENGTH_SOURCE

#: FREE_PARAMETERS[cs] = indices into (a, b, c, α, β, γ) of the free parameters.
FREE_PARAMETERS: tuple[tuple[int, ...], ...] = tuple(
    tuple(i for i in range(3) if LENGTH_SOURCE[cs, i] == i)
    + tuple(3 + i for i in range(3) if np.isnan(FIXED_ANGLES[cs, i]))
    for cs in range(7)
)


def _check_cs(cs: np.ndarray) -> np.ndarray:
    cs = np.asarray(cs, dtype=np.int64)
    if cs.size and (cs.min() < 0 or cs.max() > 6):
        raise ValueError("crystal system codes must be in 0..6")
    return cs


def apply_constraints(lattice: np.ndarray, cs: np.ndarray | int) -> np.ndarray:
    """Impose the crystal-system constraints on lattices (..., 6): copy tied lengths, set fixed angles.

    Tied lengths take the value of their source (b ← a, c ← a), not an average; use
    :func:`symmetrize` to average instead.
    """
    lat = np.array(lattice, dtype=np.float64)
    cs = np.broadcast_to(_check_cs(cs), lat.shape[:-1])
    src = LENGTH_SOURCE[cs]
    lengths = np.take_along_axis(lat[..., :3], src, axis=-1)
    fixed = FIXED_ANGLES[cs]
    angles = np.where(np.isnan(fixed), lat[..., 3:], fixed)
    return np.concatenate([lengths, angles], axis=-1)


def symmetrize(lattice: np.ndarray, cs: np.ndarray | int) -> np.ndarray:
    """Like :func:`apply_constraints` but tied lengths take the mean of the group (for measured cells)."""
    lat = np.array(lattice, dtype=np.float64)
    cs = np.broadcast_to(_check_cs(cs), lat.shape[:-1])
    src = LENGTH_SOURCE[cs]
    lengths = lat[..., :3]
    means = np.empty_like(lengths)
    for i in range(3):
        members = src == src[..., i : i + 1]
        means[..., i] = (lengths * members).sum(-1) / members.sum(-1)
    fixed = FIXED_ANGLES[cs]
    return np.concatenate([means, np.where(np.isnan(fixed), lat[..., 3:], fixed)], axis=-1)


def to_free_parameters(lattice: np.ndarray, cs: int) -> np.ndarray:
    """The free parameters (in the order of :data:`FREE_PARAMETERS`) of lattices (..., 6)."""
    return np.asarray(lattice, dtype=np.float64)[..., list(FREE_PARAMETERS[int(_check_cs(cs))])]


def from_free_parameters(params: np.ndarray, cs: int) -> np.ndarray:
    """Full lattices (..., 6) from free parameters (..., n_free) of crystal system ``cs``."""
    cs = int(_check_cs(cs))
    params = np.asarray(params, dtype=np.float64)
    idx = FREE_PARAMETERS[cs]
    if params.shape[-1] != len(idx):
        raise ValueError(
            f"{CRYSTAL_SYSTEMS[cs]} lattices have {len(idx)} free parameters, got {params.shape[-1]}"
        )
    lat = np.zeros(params.shape[:-1] + (6,))
    lat[..., list(idx)] = params
    return apply_constraints(lat, cs)


def log_lengths(lattice: np.ndarray) -> np.ndarray:
    """Natural log of the lengths a, b, c (Å) of lattices (..., 6) → (..., 3)."""
    lengths = np.asarray(lattice, dtype=np.float64)[..., :3]
    if np.any(lengths <= 0):
        raise ValueError("lattice lengths must be positive to take their log")
    return np.log(lengths)


def from_log_lengths(log_abc: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Lattices (..., 6) from log lengths (..., 3) and angles in degrees (..., 3)."""
    return np.concatenate([np.exp(np.asarray(log_abc, dtype=np.float64)), np.asarray(angles)], axis=-1)


def lattice_matrix(lattice: np.ndarray) -> np.ndarray:
    """Row-vector lattice matrix (3, 3) in Å of one (a, b, c, α, β, γ) (pymatgen's orientation)."""
    from pymatgen.core import Lattice

    a, b, c, al, be, ga = (float(x) for x in np.asarray(lattice).reshape(6))
    return np.asarray(Lattice.from_parameters(a, b, c, al, be, ga).matrix)


def volume(lattice: np.ndarray) -> np.ndarray:
    """Cell volume in Å³ of lattices (..., 6)."""
    lat = np.asarray(lattice, dtype=np.float64)
    ca, cb, cg = (np.cos(np.radians(lat[..., 3 + i])) for i in range(3))
    g = 1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg
    return lat[..., 0] * lat[..., 1] * lat[..., 2] * np.sqrt(np.clip(g, 0.0, None))
