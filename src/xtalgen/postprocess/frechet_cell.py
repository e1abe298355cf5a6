"""The cell-and-atoms coordinates of ASE's ``FrechetCellFilter``, for one structure, without ASE objects.

A relaxation with the cell free moves ``n + 3`` "atoms": the ``n`` atomic positions expressed in the
*undeformed* cell, and three rows ``u = n · log(F)`` where ``F`` is the deformation gradient from the
starting cell (``cell = cell0 · Fᵀ``) and ``log`` the matrix logarithm. The generalised forces on these
coordinates are the atomic forces mapped into the undeformed cell (``f · F``) and the derivative of the
energy with respect to ``log(F)`` (the virial ``-V σ`` pulled back through the Fréchet derivative of the
matrix exponential), divided by ``n``. This is the parameterisation of ASE's ``FrechetCellFilter`` with
its defaults (no mask, no pressure, ``exp_cell_factor = n``), written so that a batch of structures can be
stepped without an ``Atoms`` object and with one Fréchet derivative per step instead of nine: the nine
directional derivatives ASE sums equal the adjoint ``L(logFᵀ, G)`` (the exponential's Fréchet
derivative is self-adjoint up to transposing its base point under the Frobenius product).
ASE's coordinates also add a constant ``n · log(n)`` to the diagonal of ``u``; FIRE only ever uses
differences of coordinates, so leaving it out changes nothing.

Units: Å, eV/Å; stress in eV/Å³ (ASE's sign: positive under tension).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm, expm_frechet


def deformation(u: np.ndarray, n_atoms: int) -> np.ndarray:
    """The deformation gradient ``F = exp(u / n)`` (3×3) from the cell coordinates ``u``."""
    return np.asarray(expm(u / n_atoms))


def cell_and_positions(cell0: np.ndarray, x: np.ndarray, u: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """(cell rows in Å, Cartesian positions in Å) from undeformed positions ``x`` (n×3) and cell coordinates ``u``."""
    f = deformation(u, n_atoms)
    return cell0 @ f.T, x @ f.T


def generalised_forces(
    forces: np.ndarray, stress: np.ndarray, cell: np.ndarray, u: np.ndarray, n_atoms: int
) -> np.ndarray:
    """The ``(n + 3) × 3`` forces on the filter's coordinates.

    ``forces``: atomic forces (eV/Å, n×3) at the current positions; ``stress``: 3×3 stress (eV/Å³),
    symmetrised here as ASE's Voigt round trip does; ``cell``: the current cell (rows, Å).
    """
    f = deformation(u, n_atoms)
    sym = 0.5 * (stress + stress.T)
    volume = abs(float(np.linalg.det(cell)))
    virial = -volume * sym
    cell_gradient = virial @ np.linalg.inv(f.T)
    log_force = expm_frechet((u / n_atoms).T, cell_gradient, compute_expm=False)
    out = np.empty((n_atoms + 3, 3))
    out[:n_atoms] = forces @ f
    out[n_atoms:] = np.asarray(log_force) / n_atoms
    return out
