"""FIRE relaxation of many structures at once, the cell free, with one potential call per step for the batch.

The optimiser is ASE's ``FIRE`` (Bitzek et al., Phys. Rev. Lett. 97, 170201 (2006), as implemented in
``ase.optimize.FIRE``, with its default parameters, which CHGNet's ``StructOptimizer`` uses) acting on the
coordinates of ASE's ``FrechetCellFilter`` (:mod:`xtalgen.postprocess.frechet_cell`), so a structure
follows the same path as ``FIRE(FrechetCellFilter(atoms)).run(fmax, steps)`` up to floating-point rounding.
Each structure keeps its own FIRE state (velocities, time step, mixing ``a``, steps since the last uphill
move); a structure leaves the batch as soon as the largest generalised force (atoms and cell rows) is below
``fmax`` or it has taken ``steps`` steps, and the next waiting structure takes its place, so the batch stays
full. The potential is a function from a list of structures to a list of :class:`ForceResult` (or an
exception for a structure it cannot handle, which fails that structure only).

Units: Å, eV, eV/Å, eV/Å³; FIRE's time step in ASE's units.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.postprocess.frechet_cell import cell_and_positions, generalised_forces


@dataclass(frozen=True)
class ForceResult:
    """One structure: energy (eV/atom), forces (eV/Å, n×3), stress (eV/Å³, 3×3; positive under tension)."""

    energy_per_atom: float
    forces: np.ndarray
    stress: np.ndarray


#: The potential: forces of each structure, or the exception that structure raised.
BatchForces = Callable[[Sequence[Structure]], Sequence[ForceResult | Exception]]
#: Early stop: (key, energies per atom so far, eV/atom, one per potential call) -> True to stop that structure.
StopRule = Callable[[Hashable, Sequence[float]], bool]


@dataclass(frozen=True)
class FireParameters:
    """ASE ``FIRE``'s defaults (``ase/optimize/fire.py``): time steps, step cap (Å), mixing ``a`` and its schedule."""

    dt: float = 0.1
    maxstep: float = 0.2
    dtmax: float = 1.0
    nmin: int = 5
    finc: float = 1.1
    fdec: float = 0.5
    astart: float = 0.1
    fa: float = 0.99
    a: float = 0.1


@dataclass
class FireOutcome:
    """A finished relaxation: start and end structures, energies (eV/atom), largest atomic force (eV/Å) at the
    end, FIRE steps taken, whether FIRE stopped on its force criterion or the early-stop rule stopped it, and
    the energy (eV/atom) at every step; or ``error`` (the rest unset)."""

    key: Hashable
    initial: Structure
    final: Structure | None = None
    initial_energy_per_atom: float = math.nan
    energy_per_atom: float = math.nan
    max_force: float = math.nan
    steps: int = 0
    fire_converged: bool = False
    error: str | None = None
    stopped_early: bool = False
    energies: tuple[float, ...] = ()


class _Relaxation:
    """One structure's coordinates and FIRE state inside the batch."""

    def __init__(self, key: Hashable, structure: Structure, params: FireParameters) -> None:
        self.key, self.initial = key, structure
        self.n = len(structure)
        self.species = [site.species for site in structure]
        self.cell0 = np.array(structure.lattice.matrix, dtype=float)
        self.x = np.array(structure.cart_coords, dtype=float)  # positions in the undeformed cell
        self.u = np.zeros((3, 3))  # n · log(deformation gradient)
        self.vel: np.ndarray | None = None
        self.dt, self.a, self.n_pos, self.nsteps = params.dt, params.a, 0, 0
        self.e0 = math.nan
        self.energies: list[float] = []
        self.last: ForceResult | None = None
        self.gradient = np.zeros((self.n + 3, 3))

    def structure(self) -> Structure:
        cell, cart = cell_and_positions(self.cell0, self.x, self.u, self.n)
        return Structure(cell, self.species, cart, coords_are_cartesian=True)

    def observe(self, result: ForceResult) -> float:
        """Take the potential's result at the current coordinates; return the largest generalised force."""
        if self.nsteps == 0:
            self.e0 = result.energy_per_atom
        self.energies.append(result.energy_per_atom)
        self.last = result
        cell, _ = cell_and_positions(self.cell0, self.x, self.u, self.n)
        self.gradient = generalised_forces(result.forces, result.stress, cell, self.u, self.n)
        return float(np.linalg.norm(self.gradient, axis=1).max())

    def step(self, p: FireParameters) -> None:
        """One FIRE step (``ase.optimize.FIRE.step`` on the flattened coordinates)."""
        g = self.gradient
        if self.vel is None:
            self.vel = np.zeros_like(g)
        else:
            vf = float(np.vdot(g, self.vel))
            if vf > 0.0:
                grad_norm = math.sqrt(float(np.vdot(g, g)))
                vel_norm = math.sqrt(float(np.vdot(self.vel, self.vel)))
                self.vel = (1.0 - self.a) * self.vel + self.a * g / grad_norm * vel_norm
                if self.n_pos > p.nmin:
                    self.dt = min(self.dt * p.finc, p.dtmax)
                    self.a *= p.fa
                self.n_pos += 1
            else:
                self.vel = np.zeros_like(g)
                self.a = p.astart
                self.dt *= p.fdec
                self.n_pos = 0
        self.vel = self.vel + self.dt * g
        dr = self.dt * self.vel
        norm = math.sqrt(float(np.vdot(dr, dr)))
        if norm > p.maxstep:
            dr = p.maxstep * dr / norm
        self.x = self.x + dr[: self.n]
        self.u = self.u + dr[self.n :]
        self.nsteps += 1

    def outcome(self, converged: bool, stopped_early: bool = False) -> FireOutcome:
        assert self.last is not None
        return FireOutcome(
            self.key, self.initial, final=self.structure(), initial_energy_per_atom=self.e0,
            energy_per_atom=self.last.energy_per_atom,
            max_force=float(np.linalg.norm(self.last.forces, axis=1).max()) if self.n else 0.0,
            steps=self.nsteps, fire_converged=converged, stopped_early=stopped_early,
            energies=tuple(self.energies),
        )  # fmt: skip


def relax_batched(
    items: Iterable[tuple[Hashable, Structure]],
    forces: BatchForces,
    *,
    steps: int = 200,
    fmax: float = 0.1,
    batch_size: int = 16,
    params: FireParameters | None = None,
    stop_early: StopRule | None = None,
) -> Iterator[FireOutcome]:
    """Relax each ``(key, structure)`` (FIRE, cell free) with ``batch_size`` structures per potential call;
    yield each :class:`FireOutcome` as soon as that structure stops (not in input order).

    A structure stops when its largest generalised force is below ``fmax`` (eV/Å; ASE's criterion, which
    includes the cell rows) or after ``steps`` steps; a non-finite energy or force, or an exception from the
    potential, stops it with ``error``. ``stop_early`` (None: never) is asked after every potential call of a
    structure that has not converged; when it answers True the structure stops there (``stopped_early``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    if steps < 0 or fmax <= 0:
        raise ValueError(f"steps must be ≥ 0 and fmax > 0, got steps={steps}, fmax={fmax}")
    p = params or FireParameters()
    waiting = iter(items)
    active: list[_Relaxation] = []
    exhausted = False
    while True:
        while not exhausted and len(active) < batch_size:
            nxt = next(waiting, None)
            if nxt is None:
                exhausted = True
            else:
                active.append(_Relaxation(nxt[0], nxt[1], p))
        if not active:
            return
        results = forces([r.structure() for r in active])
        still: list[_Relaxation] = []
        for relaxation, result in zip(active, results, strict=True):
            failure = _failure(result)
            if failure is not None:
                yield FireOutcome(relaxation.key, relaxation.initial, steps=relaxation.nsteps, error=failure)
                continue
            assert isinstance(result, ForceResult)
            largest = relaxation.observe(result)
            if not math.isfinite(largest):
                yield FireOutcome(relaxation.key, relaxation.initial, steps=relaxation.nsteps,
                                  error=f"non-finite generalised force after {relaxation.nsteps} steps")  # fmt: skip
            elif largest < fmax or relaxation.nsteps >= steps:
                yield relaxation.outcome(largest < fmax)
            elif stop_early is not None and stop_early(relaxation.key, relaxation.energies):
                yield relaxation.outcome(False, stopped_early=True)
            else:
                relaxation.step(p)
                still.append(relaxation)
        active = still


def _failure(result: Any) -> str | None:
    if isinstance(result, Exception):
        return f"{type(result).__name__}: {result}"[:300]
    if not math.isfinite(result.energy_per_atom):
        return f"non-finite energy {result.energy_per_atom}"
    if not (np.all(np.isfinite(result.forces)) and np.all(np.isfinite(result.stress))):
        return "non-finite forces or stress"
    return None
