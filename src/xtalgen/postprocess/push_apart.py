"""Symmetry-preserving push-apart of atoms that are too close, before the distance filter.

A generated cell (after expansion, volume rescaling and merging) whose shortest contact is below
``distance_factor × (r_i + r_j)`` (:mod:`.filters`) is repaired by a few gradient steps of a soft-sphere
repulsion ``E = ½ Σ_pairs max(0, t (r_i + r_j) − d_ij)²`` with ``t = distance_factor + margin``. The cell is
fixed. The free variables are the fractional coordinates of one representative atom per orbit of the space
group spglib finds at ``symprec`` Å (it must be the target group when one is given): the gradient of every
orbit member is carried back to its representative through the operation that maps the representative onto
it and summed, the step is projected onto the representative's site-symmetry (a special position stays
special), and every member is regenerated from its representative, so the cell keeps the group exactly.
The first regeneration is the snap: the members are placed exactly on the group's images.

The repair gives up (the input is returned and the filter rejects it as before) when a periodic image of an
atom is too close to itself (the lattice, not the atoms, is at fault), when some pair is so close that moving
both atoms by ``max_displacement`` Å cannot separate it enough, when an atom would move farther than
``max_displacement`` Å from its input position, when ``steps`` steps do not reach the bound, or when the
cell has more than ``max_atoms`` atoms. Lengths in Å.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from xtalgen.data.radii import atomic_radius

#: Largest move of any atom, Å (provenance: docs/benchmarks/pgcgm_push_apart.md).
DEFAULT_MAX_DISPLACEMENT = 0.5
#: Target contact = (distance factor + this) × summed radii: a little room above the filter's bound.
DEFAULT_MARGIN = 0.03
#: Most gradient steps per candidate.
DEFAULT_STEPS = 40
#: Largest move of an atom in one step, Å.
MAX_STEP = 0.15
#: Cells with more atoms are not repaired (4 × the 20-site primitive cells PGCGM accepts, F-centred).
MAX_ATOMS = 80


@dataclass(frozen=True)
class PushApart:
    """Settings of the repair: ``max_displacement`` Å, target ``margin`` above the distance factor,
    ``steps``, spglib's ``symprec`` Å for the operations, and the most atoms in a cell it repairs."""

    max_displacement: float = DEFAULT_MAX_DISPLACEMENT
    margin: float = DEFAULT_MARGIN
    steps: int = DEFAULT_STEPS
    symprec: float = 0.1
    max_atoms: int = MAX_ATOMS

    def __post_init__(self) -> None:
        if not self.max_displacement > 0:
            raise ValueError(f"max_displacement: must be > 0 Å, got {self.max_displacement}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin: must be in [0, 1), got {self.margin}")
        if self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {self.steps}")


def _images(matrix: np.ndarray, cutoff: float) -> np.ndarray:
    """Integer lattice translations (M, 3) that reach every periodic image within ``cutoff`` Å of a
    nearest-image fractional difference."""
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(matrix), axis=0)
    n = [int(math.ceil(cutoff / s)) for s in spacing]
    grid = np.meshgrid(*[np.arange(-k, k + 1) for k in n], indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=1).astype(np.float64)


def _nearest(matrix: np.ndarray, frac: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nearest-image shifts (N, N, 3), Cartesian differences (N, N, 3) Å and interplanar spacings (3,) Å."""
    diff = frac[None, :, :] - frac[:, None, :]
    shift = -np.round(diff)
    cart = (diff + shift) @ matrix  # (N, N, 3), each component within half a cell
    return shift, cart, 1.0 / np.linalg.norm(np.linalg.inv(matrix), axis=0)


def _pairs(matrix: np.ndarray, frac: np.ndarray, reach: np.ndarray, nearest: tuple | None = None) -> tuple:
    """Pairs (i, j, fractional image offset) of different atoms closer than ``reach[i, j]`` Å, and their
    distances (Å); ``nearest``: :func:`_nearest` of the same cell, already computed."""
    cutoff = float(reach.max())
    shift, cart, spacing = _nearest(matrix, frac) if nearest is None else nearest
    if cutoff < 0.5 * spacing.min():  # the nearest image is the only one that can be this close
        images = np.zeros((1, 3))
    else:
        images = _images(matrix, cutoff)
        far = np.linalg.norm(images @ matrix, axis=1) > cutoff + 0.5 * np.linalg.norm(matrix, axis=1).sum()
        images = images[~far]
    vec = cart[:, :, None, :] + (images @ matrix)[None, None]
    d2 = np.einsum("ijmk,ijmk->ijm", vec, vec)
    d2[d2 == 0.0] = np.inf  # an atom itself (its own images count via the lattice check)
    i, j, m = np.nonzero(d2 < (reach * reach)[:, :, None])
    return i, j, shift[i, j] + images[m], np.sqrt(d2[i, j, m])


@lru_cache(maxsize=1)
def _standard_halls() -> dict[int, int]:
    """Space-group number → its first (standard-setting) Hall number in spglib's database."""
    import spglib

    first: dict[int, int] = {}
    for hall in range(1, 531):
        first.setdefault(int(spglib.get_spacegroup_type(hall).number), hall)
    return first


@lru_cache(maxsize=230)
def group_operations(spacegroup: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (G, 3, 3) and translations (G, 3) of a space group in spglib's default (standard) setting,
    centring included: the setting PGCGM's expansion uses."""
    import spglib

    hall = _standard_halls()[int(spacegroup)]
    sym = spglib.get_symmetry_from_database(hall)
    return np.asarray(sym["rotations"], dtype=np.float64), np.mod(np.asarray(sym["translations"]), 1.0)


def _operations(matrix: np.ndarray, symbols: Sequence[str], frac: np.ndarray, target: int | None,
                symprec: float) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """The target group's operations, or without a target those spglib finds at ``symprec`` Å (None: none)."""
    if target is not None:
        return group_operations(int(target))
    import spglib

    numbers = np.unique(np.asarray(symbols), return_inverse=True)[1]
    try:
        sym = spglib.get_symmetry((matrix, frac, numbers), symprec=symprec)
    except Exception:  # spglib fails on degenerate cells
        return None
    return None if sym is None else (np.asarray(sym["rotations"], dtype=np.float64), np.asarray(sym["translations"]))


def _orbits(matrix: np.ndarray, symbols: Sequence[str], frac: np.ndarray, target: int | None, symprec: float):
    """(representative of each atom, the rotation (N, 3, 3) and translation (N, 3) (with the atom's lattice
    offset) that map the representative onto it, the site-symmetry projector (N, 3, 3) of each atom's
    representative, the coords (N, 3) with each representative snapped onto its site symmetry's fixed set),
    or None when the cell is not symmetric under the group within ``2 symprec`` Å."""
    ops = _operations(matrix, symbols, frac, target, symprec)
    if ops is None:
        return None
    rot, trans = ops
    n = len(frac)
    arr = np.asarray(symbols)
    rep, op = np.full(n, -1), np.zeros(n, dtype=np.int64)
    offset, proj, base = np.zeros((n, 3)), np.zeros((n, 3, 3)), frac.copy()
    while np.any(rep < 0):
        r = int(np.argmax(rep < 0))
        images = rot @ frac[r] + trans  # (G, 3)
        diff = images[:, None, :] - frac[None]
        diff -= np.round(diff)
        err = _norms(diff @ matrix)
        err[:, arr != arr[r]] = np.inf
        hit = err < 2 * symprec  # (G, N)
        members = np.flatnonzero(hit.any(axis=0))
        if not hit.any(axis=1).all() or np.any(rep[members] >= 0):
            return None  # an image with no atom, or an atom in two orbits: not this group
        rep[members] = r
        op[members] = err[:, members].argmin(axis=0)
        offset[members] = np.round(frac[members] - images[op[members]])
        stab = hit[:, r]
        proj[r] = rot[stab].mean(axis=0)
        base[r] = frac[r] + diff[stab, r].mean(axis=0)
    return rep, rot[op], trans[op] + offset, proj[rep], base


def push_apart_arrays(
    matrix: np.ndarray,
    symbols: Sequence[str],
    frac: np.ndarray,
    *,
    distance_factor: float,
    target: int | None = None,
    options: PushApart = PushApart(),
) -> tuple[np.ndarray, float | None]:
    """Repair a cell (row lattice (3, 3) Å, symbols (N,), fractional coords (N, 3)) whose shortest contact
    between two atoms is below ``distance_factor × (r_i + r_j)`` (module docstring). Returns the fractional
    coords and the largest move of an atom (Å): the input and 0.0 when nothing was too close, the input and
    None when the repair gave up."""
    from pymatgen.core import Lattice

    from xtalgen.postprocess.filters import shortest_lattice_vector

    matrix = np.asarray(matrix, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
    n = len(frac)
    if n < 2:
        return frac, 0.0
    radii = np.array([atomic_radius(s) for s in symbols])
    sums = radii[:, None] + radii[None, :]
    bound, goal, move = distance_factor * sums, (distance_factor + options.margin) * sums, options.max_displacement
    nearest = _nearest(matrix, frac)
    i, j, _, dist = _pairs(matrix, frac, bound, nearest)
    if not len(i):
        return frac, 0.0
    if n > options.max_atoms or np.any(dist + 2 * move < bound[i, j]):
        return frac, None
    if shortest_lattice_vector(Lattice(matrix)) < 2 * distance_factor * radii.max():
        return frac, None
    orbits = _orbits(matrix, symbols, frac, target, options.symprec)
    if orbits is None:
        return frac, None
    reach = goal + 2 * move + 2 * MAX_STEP  # every pair that may come within the goal while atoms move
    out = _descend(matrix, frac, orbits, _pairs(matrix, frac, reach, nearest), goal, bound, options)
    if out is None:
        return frac, None
    moved = frac_moves(matrix, frac, out)
    return out, round(float(moved.max()), 4)


def frac_moves(matrix: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Periodic distance (Å) between each atom's fractional positions ``before`` and ``after`` (N, 3)."""
    d = np.asarray(after) - np.asarray(before)
    d -= np.round(d)
    return _norms(d @ matrix)


def _norms(vectors: np.ndarray) -> np.ndarray:
    """Lengths of (..., 3) float vectors; ``np.linalg.norm(v, axis=-1)`` bit for bit, without its checks."""
    return np.sqrt(np.add.reduce(vectors * vectors, axis=-1))


def _descend(matrix: np.ndarray, frac: np.ndarray, orbits: tuple, pairs: tuple, goal: np.ndarray,
             bound: np.ndarray, options: PushApart) -> np.ndarray | None:  # fmt: skip
    """Gradient steps on the representatives (module docstring) until every pair of ``pairs`` (i, j, image)
    is at least halfway from the bound to the goal (Å); the repaired coords or None."""
    rep, rot, trans, proj, base = orbits  # representatives' coords live at their own index in ``base``
    start = frac.copy()
    i, j, img, _ = pairs
    goal_ij, bound_ij = goal[i, j], bound[i, j]
    enough = 0.5 * (bound_ij + goal_ij)
    metric_inv_t = np.linalg.inv(matrix @ matrix.T).T
    per_rep = np.maximum(np.bincount(rep, minlength=len(rep)).astype(np.float64), 1.0)[:, None]
    pos = np.einsum("nab,nb->na", rot, base[rep]) + trans  # every atom from its representative
    for _ in range(options.steps):
        vec = (pos[j] + img - pos[i]) @ matrix
        dist = _norms(vec)
        if np.all(dist >= enough):
            break
        overlap = np.clip(goal_ij - dist, 0.0, None)
        grad = np.zeros_like(pos)  # dE/dx (Cartesian) of every atom: pushed away from its contacts
        np.add.at(grad, i, (overlap / np.maximum(dist, 1e-9))[:, None] * vec)
        g_frac = np.einsum("nba,nb->na", rot, grad @ matrix.T)  # carried back to the representative
        g_rep = np.zeros_like(pos)
        np.add.at(g_rep, rep, g_frac)
        step = -0.5 * (g_rep @ metric_inv_t) / per_rep
        step = np.einsum("nab,nb->na", proj, step)  # stay on the site-symmetry's fixed set
        size = _norms(step @ matrix)
        step *= np.minimum(1.0, MAX_STEP / np.maximum(size, 1e-12))[:, None]
        base = base + step
        pos = np.einsum("nab,nb->na", rot, base[rep]) + trans
        if frac_moves(matrix, start, pos).max() > options.max_displacement:
            return None
    vec = (pos[j] + img - pos[i]) @ matrix
    if np.any(_norms(vec) < bound_ij):
        return None
    return pos - np.floor(pos)
