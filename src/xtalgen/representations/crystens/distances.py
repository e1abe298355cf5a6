"""Pairwise quantities stored in CrysTens layers: signed fractional differences and distances."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice


def differences(frac: np.ndarray) -> np.ndarray:
    """Signed fractional differences, shape (3, A, A): ``d[k, i, j] = frac[i, k] - frac[j, k]`` (row minus column).

    Not wrapped: with coordinates in [0, 1) each difference lies in (-1, 1), so ``frac[j] + d[:, i, j]``
    gives back ``frac[i]`` exactly.
    """
    f = np.asarray(frac, dtype=np.float64)
    return (f[:, None, :] - f[None, :, :]).transpose(2, 0, 1)


def pair_distances(frac: np.ndarray, kind: str, lattice: Lattice | None = None) -> np.ndarray:
    """(A, A) distances between atoms.

    ``kind="fractional"``: Euclidean norm of the unwrapped fractional difference (dimensionless, as in
    the paper); ``kind="cartesian"``: periodic minimum-image distance in Å (needs ``lattice``).
    """
    f = np.asarray(frac, dtype=np.float64)
    if kind == "fractional":
        d = f[:, None, :] - f[None, :, :]
        return np.sqrt(np.einsum("ijk,ijk->ij", d, d))
    if kind == "cartesian":
        if lattice is None:
            raise ValueError("cartesian distances need the lattice")
        out = np.asarray(lattice.get_all_distances(f, f), dtype=np.float64)
        np.fill_diagonal(out, 0.0)
        return out
    raise ValueError(f"distance kind must be 'fractional' or 'cartesian', got {kind!r}")
