"""Read the redundant entries of a (possibly noisy) CrysTens without modifying it.

Each atom value (Z, x, y, z) appears 8 times (its header row and column in 4 layers); each lattice
value and the space group appear 8A times for A atoms (Alverson et al. 2024, sec. 3.2). All functions
here work on copies; the input tensor is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xtalgen.representations.crystens.config import FIRST_ATOM, N_HEADER, CrysTensConfig


def check_tensor(tensor: np.ndarray, config: CrysTensConfig) -> np.ndarray:
    """The tensor as float64 (a copy), after checking its shape against the config."""
    t = np.array(tensor, dtype=np.float64, copy=True)
    n = config.size
    if t.shape != (4, n, n):
        raise ValueError(f"CrysTens must have shape (4, {n}, {n}) for this config, got {t.shape}")
    return t


def header_repeats(t: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Raw header entries of the given atom slots, shape (11, 8, S): row r, repeat k, slot s."""
    cols = FIRST_ATOM + np.asarray(slots, dtype=int)
    rows_part = t[:, :N_HEADER, :][:, :, cols]  # (4, 11, S): header rows, atom columns
    cols_part = t[:, cols, :][:, :, :N_HEADER].transpose(0, 2, 1)  # (4, 11, S): atom rows, header columns
    return np.concatenate([rows_part, cols_part], axis=0).transpose(1, 0, 2)


def denormalise_header(values: np.ndarray, config: CrysTensConfig) -> np.ndarray:
    """Physical values of header entries whose first axis is the 11 header rows."""
    lo, out_lo, slope = config.header_affine()
    shape = (N_HEADER,) + (1,) * (values.ndim - 1)
    return lo.reshape(shape) + (values - out_lo.reshape(shape)) / slope.reshape(shape)


def present_slots(t: np.ndarray, config: CrysTensConfig, threshold: float | None = None) -> np.ndarray:
    """Indices of the atom slots whose mean Z entry (8 repeats) is above the empty level.

    The default threshold lies halfway between ``fill_value`` and the normalised Z of hydrogen, so the
    count does not depend on any lattice-angle heuristic and slots need not be contiguous.
    """
    thr = config.presence_threshold if threshold is None else threshold
    z = header_repeats(t, np.arange(config.max_atoms))[0].mean(axis=0)
    return np.nonzero(z > thr)[0]


@dataclass(frozen=True)
class Averaged:
    """Averages read from a tensor for its A present atoms (physical units)."""

    slots: np.ndarray  # (A,) atom slot indices
    atom_values: np.ndarray  # (11, A) per-atom mean of the 8 repeats of each header row
    lattice: np.ndarray  # (6,) a, b, c (Å), alpha, beta, gamma (deg): mean of 8A repeats each
    spacegroup: float  # mean of the 8A repeats
    differences: np.ndarray  # (3, A, A) antisymmetrised signed differences (fractional)
    distances: np.ndarray  # (A, A) symmetrised layer-0 distances (fractional units or Å)
    absolute: np.ndarray  # (A, 3) fractional coordinates from the header
    combined: np.ndarray  # (A, 3) mean of the absolute and the A - 1 relative estimates
    z_noise: float  # estimated standard error of a per-atom mean Z (from the spread of its 8 repeats)


def average(t: np.ndarray, config: CrysTensConfig, slots: np.ndarray) -> Averaged:
    """Symmetrise mirrored entries and average all repeats (on copies) for the given atom slots."""
    slots = np.asarray(slots, dtype=int)
    phys = denormalise_header(header_repeats(t, slots), config)  # (11, 8, A)
    atom_values = phys.mean(axis=1)
    lattice = atom_values[4:10].mean(axis=1)
    cols = FIRST_ATOM + slots
    block = t[:, cols][:, :, cols]  # (4, A, A)
    diff = config.difference.denormalise(block[1:])
    diff = 0.5 * (diff - diff.transpose(0, 2, 1))
    dist = config.pair_distance.denormalise(block[0])
    dist = 0.5 * (dist + dist.T)
    absolute = atom_values[1:4].T.copy()  # (A, 3)
    # estimate of atom i from atom j: x_j + (x_i - x_j); atom i's own estimate is the j = i term
    combined = absolute.mean(axis=0)[None, :] + diff.mean(axis=2).T
    z_noise = float(np.sqrt(phys[0].var(axis=0, ddof=1).mean() / phys.shape[1]))
    return Averaged(slots=slots, atom_values=atom_values, lattice=lattice,
                    spacegroup=float(atom_values[10].mean()), differences=diff, distances=dist,
                    absolute=absolute, combined=combined, z_noise=z_noise)
