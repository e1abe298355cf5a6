"""Self-consistency of a generated CrysTens (Alverson et al. 2024, Tables 1 and 2).

All metrics are computed from the raw, un-averaged entries (on a copy of the tensor), in physical
units: a model that has learnt the layout repeats each value identically, so the variances are 0 for
a tensor made by :func:`~.encode.encode` and grow with noise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from pymatgen.core import Lattice

from xtalgen.representations.crystens.config import FIRST_ATOM, CrysTensConfig
from xtalgen.representations.crystens.distances import pair_distances
from xtalgen.representations.crystens.reconstruct import (
    Averaged,
    average,
    check_tensor,
    denormalise_header,
    header_repeats,
    present_slots,
)


@dataclass(frozen=True)
class ConsistencyMetrics:
    """Per-tensor self-consistency (NaN where undefined, e.g. no atoms or a single atom).

    Attributes:
        n_atoms: atoms found (A).
        var_length: mean over a, b, c of the variance of each one's 8A repeats (Å²).
        var_angle: mean over alpha, beta, gamma of the variance of each one's 8A repeats (deg²).
        var_spacegroup: variance of the 8A space-group repeats.
        var_frac_coord: mean over atoms and over x, y AND z of the variance of the 8 repeats.
        var_atomic_number: mean over atoms of the variance of the 8 Z repeats.
        coord_agreement: mean over atoms of the mean |absolute - relative-derived| fractional coordinate,
            over every other atom j, both mirrored entries and the three axes (Table 2, ΔCoordinate/atom).
        pairwise_diff_per_atom: mean over atoms of sum_j |generated - reconstructed| layer-0 distance,
            reconstructed from the combined coordinates (Table 2, ΣPairwise/atom; fractional units or Å).
    """

    n_atoms: int
    var_length: float
    var_angle: float
    var_spacegroup: float
    var_frac_coord: float
    var_atomic_number: float
    coord_agreement: float
    pairwise_diff_per_atom: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _empty() -> ConsistencyMetrics:
    nan = math.nan
    return ConsistencyMetrics(0, nan, nan, nan, nan, nan, nan, nan)


def consistency_metrics(tensor: np.ndarray, config: CrysTensConfig, slots: np.ndarray | None = None,
                        averaged: Averaged | None = None) -> ConsistencyMetrics:
    """Self-consistency metrics of one tensor; the tensor is not modified.

    ``slots`` (present atom slots) and ``averaged`` may be passed to reuse work done by the decoder.
    """
    t = check_tensor(tensor, config)
    if slots is None:
        slots = present_slots(t, config)
    slots = np.asarray(slots, dtype=int)
    n = len(slots)
    if n == 0:
        return _empty()
    phys = denormalise_header(header_repeats(t, slots), config)  # (11, 8, A) raw repeats
    flat = phys.reshape(phys.shape[0], -1)  # (11, 8A)
    var_length = float(flat[4:7].var(axis=1).mean())
    var_angle = float(flat[7:10].var(axis=1).mean())
    var_sg = float(flat[10].var())
    var_coord = float(phys[1:4].var(axis=1).mean())
    var_z = float(phys[0].var(axis=0).mean())

    av = averaged if averaged is not None else average(t, config, slots)
    cols = FIRST_ATOM + slots
    block = t[:, cols][:, :, cols]
    raw_diff = config.difference.denormalise(block[1:])  # (3, A, A), not symmetrised
    if n > 1:
        absolute = av.absolute.T  # (3, A)
        est_row = absolute[:, None, :] + raw_diff  # x_j + d[i, j]
        est_col = absolute[:, None, :] - raw_diff.transpose(0, 2, 1)  # x_j - d[j, i]
        err = np.abs(absolute[:, :, None] - est_row) + np.abs(absolute[:, :, None] - est_col)
        off = ~np.eye(n, dtype=bool)
        per_atom = (err * off).sum(axis=(0, 2)) / (2 * 3 * (n - 1))
        coord_agreement = float(per_atom.mean())
    else:
        coord_agreement = math.nan
    raw_dist = config.pair_distance.denormalise(block[0])
    lat_ok = np.all(np.isfinite(av.lattice)) and np.all(av.lattice[:3] > 0)
    try:
        lattice = Lattice.from_parameters(*av.lattice) if lat_ok else None
        rec = pair_distances(av.combined, config.distance, lattice)
        pairwise = float(np.abs(raw_dist - rec).sum(axis=1).mean())
    except (ValueError, np.linalg.LinAlgError):
        pairwise = math.nan
    return ConsistencyMetrics(n, var_length, var_angle, var_sg, var_coord, var_z, coord_agreement, pairwise)
