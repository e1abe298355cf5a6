"""Space-group operations as 4×4 affine matrices (fractional, standard setting), padded to 192.

The standard setting of a space group is spglib's default Hall setting, i.e. the smallest Hall
number of that space-group type (ITA: b-unique monoclinic cell choice 1, origin choice 1 where two
exist, hexagonal axes for the rhombohedral groups). These are the settings spglib's standardized
conventional cell uses, so the ops apply directly to the cells produced by :mod:`.encode`.
The ops include the centring translations, so applying all of them to one position generates its
whole orbit in the conventional cell (e.g. 192 ops for Fm-3m and Fd-3m).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import spglib

#: Largest number of operations of any space group in its conventional cell (Fm-3m, Fd-3m, ...).
MAX_OPS = 192
N_SPACEGROUPS = 230


def _check_spacegroup(spacegroup: int) -> int:
    sg = int(spacegroup)
    if not 1 <= sg <= N_SPACEGROUPS or sg != spacegroup:
        raise ValueError(f"space group number must be an integer in 1..230, got {spacegroup!r}")
    return sg


@lru_cache(maxsize=1)
def _default_hall_numbers() -> tuple[int, ...]:
    first: dict[int, int] = {}
    for hall in range(1, 531):
        first.setdefault(int(spglib.get_spacegroup_type(hall).number), hall)
    return tuple(first[n] for n in range(1, N_SPACEGROUPS + 1))


def default_hall_number(spacegroup: int) -> int:
    """spglib's default Hall number (the standard setting) of a space group 1..230."""
    return _default_hall_numbers()[_check_spacegroup(spacegroup) - 1]


@lru_cache(maxsize=N_SPACEGROUPS)
def _ops(spacegroup: int) -> np.ndarray:
    sym = spglib.get_symmetry_from_database(default_hall_number(spacegroup))
    rot = np.asarray(sym["rotations"], dtype=np.float64)
    trans = np.mod(np.asarray(sym["translations"], dtype=np.float64), 1.0)
    n = len(rot)
    ops = np.zeros((n, 4, 4), dtype=np.float64)
    ops[:, :3, :3] = rot
    ops[:, :3, 3] = trans
    ops[:, 3, 3] = 1.0
    ops.setflags(write=False)
    return ops


def spacegroup_ops(spacegroup: int) -> np.ndarray:
    """All ops (n, 4, 4) float64 of a space group: x' = R x + t acting on fractional column vectors.

    Row 3 is (0, 0, 0, 1); translations are in [0, 1). The first op is the identity. Read-only array.
    """
    return _ops(_check_spacegroup(spacegroup))


def n_ops(spacegroup: int) -> int:
    """Number of ops of the space group in its conventional cell (incl. centring)."""
    return len(spacegroup_ops(spacegroup))


def padded_ops(spacegroup: int, max_ops: int = MAX_OPS) -> tuple[np.ndarray, np.ndarray]:
    """Ops padded to ``max_ops``: (max_ops, 4, 4) float32 and a (max_ops,) bool mask.

    Padding entries are all-zero matrices (not valid transforms) with mask False.
    """
    ops = spacegroup_ops(spacegroup)
    if len(ops) > max_ops:
        raise ValueError(f"space group {spacegroup} has {len(ops)} ops > max_ops={max_ops}")
    out = np.zeros((max_ops, 4, 4), dtype=np.float32)
    out[: len(ops)] = ops
    mask = np.zeros(max_ops, dtype=bool)
    mask[: len(ops)] = True
    return out, mask


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    ops = np.zeros((N_SPACEGROUPS + 1, MAX_OPS, 4, 4), dtype=np.float32)
    mask = np.zeros((N_SPACEGROUPS + 1, MAX_OPS), dtype=bool)
    for sg in range(1, N_SPACEGROUPS + 1):
        ops[sg], mask[sg] = padded_ops(sg)
    ops.setflags(write=False)
    mask.setflags(write=False)
    return ops, mask


def ops_table() -> tuple[np.ndarray, np.ndarray]:
    """Padded ops of all groups: (231, 192, 4, 4) float32 and (231, 192) bool, indexed by number.

    Row 0 is unused (all zeros, mask False). ~2.8 MB; index it with a batch's ``spacegroup``
    (``table[sg]``) instead of storing ops per sample. Read-only arrays.
    """
    return _table()


def ops_for(spacegroups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Padded ops (M, 192, 4, 4) float32 and mask (M, 192) for an array of space-group numbers."""
    sg = np.asarray(spacegroups, dtype=np.int64)
    if sg.size and (sg.min() < 1 or sg.max() > N_SPACEGROUPS):
        bad = sg[(sg < 1) | (sg > N_SPACEGROUPS)][0]
        raise ValueError(f"space group number must be in 1..230, got {bad}")
    ops, mask = ops_table()
    return ops[sg], mask[sg]


def apply_ops(ops: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Apply ops (n, 4, 4) to fractional points (..., 3) → (..., n, 3), not wrapped."""
    frac = np.asarray(frac, dtype=np.float64)
    return np.einsum("nij,...j->...ni", ops[:, :3, :3], frac) + ops[:, :3, 3]
