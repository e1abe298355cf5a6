"""Project a cell onto a space group: lattice onto its crystal system, atoms onto Wyckoff orbits.

The idea follows symmetry-constrained crystal diffusion (DiffCSP++, Jiao et al. ICLR 2024: sample only
the free parameters of a Wyckoff template); here the template is applied after the fact, as a projection
of a generated cell (Å, fractional coordinates) onto the nearest cell with the template's symmetry:

1. lattice parameters onto the constraints of the group's crystal system in its standard conventional
   setting (cubic a = b = c, 90°; hexagonal/trigonal a = b, 90°, 90°, 120°; ...), lengths averaged;
2. for each Wyckoff choice (one PyXtal Wyckoff position per site, compatible with the atom counts of
   the cell): the atoms of each element are matched to the copies of their sites' orbits (Hungarian
   assignment on periodic Cartesian distances), each site's free parameters are averaged over the
   images of its matched atoms mapped back by the inverse operations and projected (metric-orthogonally)
   onto the site's subspace, the orbit is regenerated, and matching and averaging are repeated;
3. the choice with the smallest RMS displacement wins.

Conventional cells only (the Wyckoff positions of PyXtal are listed in the conventional cell); groups with
several ITA origin choices or settings use PyXtal's, which may differ from spglib's standard setting.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from xtalgen.data.crystal_systems import lattice_system

_SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.float64)  # (27, 3)


@dataclass(frozen=True)
class WyckoffSite:
    """One occupied Wyckoff position: element ``z``, label (e.g. ``4a``), its m operations and subspace."""

    z: int
    label: str
    rotations: np.ndarray  # (m, 3, 3) fractional, of the group operations mapping the first copy to copy k
    translations: np.ndarray  # (m, 3)
    inverse_rotations: np.ndarray  # (m, 3, 3)
    basis: np.ndarray  # (3, 3) rotation of the first operation: the site's subspace is basis @ v + origin
    origin: np.ndarray  # (3,)
    dof: int  # free parameters

    @property
    def multiplicity(self) -> int:
        return len(self.rotations)

    def orbit(self, representative: np.ndarray) -> np.ndarray:
        """(m, 3) fractional coordinates of the orbit of ``representative`` (a point of the first copy's
        subspace), wrapped into [0, 1)."""
        return (np.einsum("mij,j->mi", self.rotations, representative) + self.translations) % 1.0


@dataclass(frozen=True)
class WyckoffChoice:
    """A Wyckoff assignment of a whole cell: the sites of each element (labels as ``Z:4a``)."""

    spacegroup: int
    sites: tuple[WyckoffSite, ...]

    @property
    def labels(self) -> str:
        return " ".join(f"{s.z}:{s.label}" for s in self.sites)


@dataclass(frozen=True)
class ProjectedCell:
    """The projection of a cell: lattice parameters (Å, deg), coordinates in the input's atom order,
    per-atom displacement (Å, periodic, measured in the projected lattice) and the Wyckoff choice used."""

    lattice: np.ndarray  # (6,)
    frac: np.ndarray  # (A, 3) in [0, 1)
    displacement: np.ndarray  # (A,) Å
    choice: WyckoffChoice

    @property
    def max_displacement(self) -> float:
        return float(self.displacement.max()) if len(self.displacement) else 0.0

    @property
    def rms_displacement(self) -> float:
        return float(np.sqrt(np.mean(self.displacement**2))) if len(self.displacement) else 0.0


def _site(group: object, index: int, z: int) -> WyckoffSite:
    """The site's copies as general-position operations g_k (invertible) with g_k(op_0(p)) = op_k(p)."""
    wp = group.Wyckoff_positions[index]  # type: ignore[attr-defined]
    general = np.array([op.affine_matrix for op in group.Wyckoff_positions[0].ops], dtype=np.float64)  # type: ignore[attr-defined]
    first = np.array(wp.ops[0].affine_matrix, dtype=np.float64)
    rots, trans = [], []
    for op in wp.ops:
        target = np.array(op.affine_matrix, dtype=np.float64)
        for g in general:
            comp = g @ first
            dt = target[:3, 3] - comp[:3, 3]
            if np.allclose(comp[:3, :3], target[:3, :3]) and np.allclose(dt, np.round(dt), atol=1e-6):
                rots.append(g[:3, :3])
                trans.append(g[:3, 3] + np.round(dt))
                break
        else:  # PyXtal lists each copy as a coset of the site symmetry; this should not happen
            raise ValueError(
                f"space group {group.number} site {wp.multiplicity}{wp.letter}: copy {op} "  # type: ignore[attr-defined]
                "is not a group operation applied to the first copy"
            )
    rot = np.array(rots)
    return WyckoffSite(
        z=int(z), label=f"{wp.multiplicity}{wp.letter}", rotations=rot, translations=np.array(trans),
        inverse_rotations=np.linalg.inv(rot), basis=first[:3, :3], origin=first[:3, 3] % 1.0,
        dof=int(wp.get_dof()),
    )  # fmt: skip


#: Most partial Wyckoff assignments examined (bounds memory and time for large cells in high-symmetry groups,
#: where PyXtal's full cross-element enumeration explodes combinatorially).
SEARCH_LIMIT = 20_000
#: PyXtal's bound on one element's enumeration (its ``Nmax``).
ELEMENT_SEARCH_LIMIT = 1_000_000


def _index_combinations(group: object, counts: list[int], limit: int) -> Iterator[list[list[int]]]:
    """Per element, the Wyckoff indices of ``group`` whose multiplicities sum to its count; a position without
    free parameters used at most once over all elements. Lazily, in PyXtal's order (a depth-first search that
    skips conflicting branches), at most ``limit`` partial assignments tried."""
    per_element = []
    for c in counts:
        _, _, idx = group.list_wyckoff_combinations([c], Nmax=ELEMENT_SEARCH_LIMIT)  # type: ignore[attr-defined]
        if not idx:
            return
        per_element.append([list(i[0]) for i in idx])
    fixed = {i for i, wp in enumerate(group) if np.trace(wp.ops[0].rotation_matrix) <= 0}  # type: ignore[attr-defined]
    budget = [limit]

    def extend(k: int, used: frozenset[int], chosen: list[list[int]]) -> Iterator[list[list[int]]]:
        if k == len(per_element):
            yield [list(sites) for sites in chosen]
            return
        for sites in per_element[k]:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            mine = [i for i in sites if i in fixed]
            if len(mine) != len(set(mine)) or used.intersection(mine):
                continue
            yield from extend(k + 1, used | frozenset(mine), [*chosen, sites])

    yield from extend(0, frozenset(), [])


def wyckoff_choices(numbers: Sequence[int] | np.ndarray, spacegroup: int, limit: int = 64,
                    exact: bool = True) -> list[WyckoffChoice]:  # fmt: skip
    """The Wyckoff assignments (up to ``limit``) of the conventional cell with atomic ``numbers`` in ``spacegroup``.

    ``exact``: keep only choices whose generic instance has exactly ``spacegroup``
    (:func:`generic_spacegroup`), unless none does.
    Raises ``ValueError`` when no combination of the group's Wyckoff positions holds the atom counts (the
    counts must be those of the conventional cell).
    """
    from pyxtal.symmetry import Group

    if not 1 <= int(spacegroup) <= 230:
        raise ValueError(f"spacegroup: must be in 1..230, got {spacegroup}")
    zs, counts = np.unique(np.asarray(numbers, dtype=np.int64), return_counts=True)
    if len(zs) == 0:
        raise ValueError("numbers: a cell needs at least one atom")
    group = Group(int(spacegroup))
    indices = list(_index_combinations(group, [int(c) for c in counts], SEARCH_LIMIT))
    if not indices:
        raise ValueError(
            f"no combination of Wyckoff positions of space group {spacegroup} holds "
            + ", ".join(f"{c} atoms of Z={z}" for z, c in zip(zs.tolist(), counts.tolist(), strict=True))
            + " (conventional cell)"
        )
    out, supergroup = [], []
    for per_element in indices:
        sites = tuple(_site(group, i, z) for z, idx in zip(zs, per_element, strict=True) for i in idx)
        choice = WyckoffChoice(int(spacegroup), sites)
        (out if not exact or generic_spacegroup(choice) == int(spacegroup) else supergroup).append(choice)
        if len(out) == limit:
            break
    return out or supergroup[:limit]


def generic_spacegroup(choice: WyckoffChoice, seed: int = 0) -> int | None:
    """The space group spglib (symprec 1e-3 Å) finds for a generic instance of ``choice``: a lattice with
    unequal free lengths/angles and random free parameters. Some choices always have more symmetry (e.g.
    only fixed sites that a supergroup also fixes); those can never give the requested group."""
    import spglib

    rng = np.random.default_rng(seed)
    params = project_lattice([5.0, 5.9, 6.8, 83.0, 97.0, 109.0], choice.spacegroup)
    matrix = lattice_matrix(params)
    frac, numbers = [], []
    for site in choice.sites:
        rep = _SiteFit(site, matrix @ matrix.T).project(rng.random(3))
        frac.append(site.orbit(rep))
        numbers += [site.z] * site.multiplicity
    ds = spglib.get_symmetry_dataset((matrix, np.concatenate(frac), numbers), symprec=1e-3)
    return int(ds.number) if ds is not None else None


def project_lattice(params: Sequence[float] | np.ndarray, spacegroup: int, min_length: float = 1.0,
                    max_length: float = 60.0) -> np.ndarray:  # fmt: skip
    """Lattice parameters (a, b, c in Å, alpha, beta, gamma in degrees) with the group's crystal-system
    constraints in the standard conventional setting (equal lengths averaged); lengths clipped to
    [``min_length``, ``max_length``], free angles to [30, 150] degrees (90 if the cell would be degenerate)."""
    a, b, c, al, be, ga = (float(v) for v in params)
    a, b, c = (float(np.clip(v, min_length, max_length)) for v in (a, b, c))
    al, be, ga = (float(np.clip(v, 30.0, 150.0)) for v in (al, be, ga))
    system = lattice_system(spacegroup)
    if system == "monoclinic":  # spglib standard: unique axis b
        al = ga = 90.0
    elif system == "orthorhombic":
        al = be = ga = 90.0
    elif system == "tetragonal":
        a = b = 0.5 * (a + b)
        al = be = ga = 90.0
    elif system == "hexagonal":
        a = b = 0.5 * (a + b)
        al, be, ga = 90.0, 90.0, 120.0
    elif system == "cubic":
        a = b = c = (a + b + c) / 3.0
        al = be = ga = 90.0
    out = np.array([a, b, c, al, be, ga])
    if system in ("triclinic", "monoclinic"):
        cos = np.cos(np.radians(out[3:]))
        if 1 - (cos**2).sum() + 2 * cos.prod() <= 1e-3:  # no volume: fall back to right angles
            out[3:] = 90.0
    return out


def lattice_matrix(params: np.ndarray) -> np.ndarray:
    """(3, 3) lattice matrix (rows, Å) of parameters (a, b, c, alpha, beta, gamma), pymatgen's convention."""
    from pymatgen.core import Lattice

    return np.array(Lattice.from_parameters(*(float(v) for v in params)).matrix)


def periodic_distances(a: np.ndarray, b: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) shortest Cartesian distances (Å) between fractional points under the lattice ``matrix``."""
    d = a[:, None, :] - b[None, :, :]
    d -= np.round(d)
    cart = (d[:, :, None, :] + _SHIFTS[None, None]) @ matrix  # (A, B, 27, 3)
    return np.sqrt((cart**2).sum(-1)).min(-1)


def _nearest_image(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``y`` shifted by lattice vectors to lie nearest (in fractional units) to ``x``."""
    return x + (y - x) - np.round(y - x)


class _SiteFit:
    """Metric-orthogonal projection onto a site's subspace ``origin + basis @ v`` (modulo lattice vectors)."""

    def __init__(self, site: WyckoffSite, metric: np.ndarray) -> None:
        b = site.basis
        self.site = site
        self.proj = b @ np.linalg.pinv(b.T @ metric @ b) @ b.T @ metric
        self.metric = metric

    def project(self, y: np.ndarray) -> np.ndarray:
        if self.site.dof == 0:
            return self.site.origin.copy()
        cand = y[None, :] + _SHIFTS - self.site.origin  # (27, 3)
        on = cand @ self.proj.T
        off = cand - on
        best = int(np.argmin(np.einsum("ki,ij,kj->k", off, self.metric, off)))
        return self.site.origin + on[best]


def _refine(fits: list[_SiteFit], reps: list[np.ndarray], pos: np.ndarray, matrix: np.ndarray,
            rounds: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Match atoms ``pos`` to the sites' orbit copies, re-fit the free parameters; (copies per atom, cost rows)."""
    for r in range(rounds + 1):
        copies = np.concatenate([f.site.orbit(rep) for f, rep in zip(fits, reps, strict=True)])
        owner = np.concatenate([np.full(f.site.multiplicity, k) for k, f in enumerate(fits)])
        op_index = np.concatenate([np.arange(f.site.multiplicity) for f in fits])
        dist = periodic_distances(pos, copies, matrix)
        rows, cols = linear_sum_assignment(dist)
        assigned = np.empty(len(pos), dtype=int)
        assigned[rows] = cols
        if r == rounds:
            return copies[assigned], dist[np.arange(len(pos)), assigned]
        for k, f in enumerate(fits):
            if f.site.dof == 0:
                continue
            atoms = np.nonzero(owner[assigned] == k)[0]
            ests = []
            for i in atoms:
                c = assigned[i]
                m = op_index[c]
                y = _nearest_image(pos[i], copies[c])
                # undo copy m's operation; the wrap of the copy into [0, 1) is a lattice vector to undo too
                raw = f.site.rotations[m] @ reps[k] + f.site.translations[m]
                y = y + (raw - copies[c])
                ests.append(f.site.inverse_rotations[m] @ (y - f.site.translations[m]))
            est = np.array(ests)
            est = np.array([_nearest_image(e, est[0]) for e in est]).mean(axis=0)
            reps[k] = f.project(est)
    raise AssertionError("unreachable")


def _fit_element(sites: list[WyckoffSite], pos: np.ndarray, matrix: np.ndarray, metric: np.ndarray,
                 rounds: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Projected coordinates and displacements (Å) of one element's atoms ``pos`` onto its ``sites``."""
    fits = [_SiteFit(s, metric) for s in sites]
    order = sorted(range(len(fits)), key=lambda k: (fits[k].site.dof > 0, -fits[k].site.multiplicity))
    reps: list[np.ndarray] = [np.zeros(3)] * len(fits)
    free = np.ones(len(pos), dtype=bool)
    for k in order:  # greedy start: each site takes the atoms its best orbit is nearest to
        f = fits[k]
        left = np.nonzero(free)[0]
        candidates = [f.project(np.zeros(3))] if f.site.dof == 0 else [f.project(pos[i]) for i in left]
        best = None
        for rep in candidates:
            d = periodic_distances(f.site.orbit(rep), pos[left], matrix)
            rows, cols = linear_sum_assignment(d)
            cost = float((d[rows, cols] ** 2).sum())
            if best is None or cost < best[0]:
                best = (cost, rep, left[cols])
        assert best is not None
        reps[k] = best[1]
        free[best[2]] = False
    return _refine(fits, reps, pos, matrix, rounds)


def project_cell(lattice: Sequence[float] | np.ndarray, frac: np.ndarray, numbers: Sequence[int] | np.ndarray,
                 choices: Sequence[WyckoffChoice], rounds: int = 2, min_length: float = 1.0,
                 max_length: float = 60.0) -> ProjectedCell:  # fmt: skip
    """The nearest cell (smallest RMS displacement over ``choices``) with the choices' space group.

    ``lattice``: (a, b, c, alpha, beta, gamma) in Å / degrees; ``frac``: (A, 3) fractional coordinates;
    ``numbers``: the A atomic numbers, whose counts must match every choice (``ValueError`` otherwise).
    """
    if not choices:
        raise ValueError("project_cell: no Wyckoff choice given")
    frac = np.asarray(frac, dtype=np.float64) % 1.0
    numbers = np.asarray(numbers, dtype=np.int64)
    params = project_lattice(lattice, choices[0].spacegroup, min_length, max_length)
    matrix = lattice_matrix(params)
    metric = matrix @ matrix.T
    best: ProjectedCell | None = None
    fitted: dict[tuple[int, tuple[str, ...]], tuple[np.ndarray, np.ndarray]] = {}  # choices share element fits
    for choice in choices:
        out = np.empty_like(frac)
        disp = np.empty(len(frac))
        for z in np.unique(numbers):
            idx = np.nonzero(numbers == z)[0]
            sites = [s for s in choice.sites if s.z == z]
            if sum(s.multiplicity for s in sites) != len(idx):
                raise ValueError(f"Wyckoff choice {choice.labels}: does not hold the {len(idx)} atoms of Z={z}")
            key = (int(z), tuple(s.label for s in sites))
            if key not in fitted:
                fitted[key] = _fit_element(sites, frac[idx], matrix, metric, rounds)
            out[idx], disp[idx] = fitted[key]
        cand = ProjectedCell(params, out % 1.0, disp, choice)
        if best is None or cand.rms_displacement < best.rms_displacement:
            best = cand
    assert best is not None
    return best
