"""The energy model every ML potential implements: FIRE relaxations (cell free) of samples and energies
(eV/atom) of reference structures, both cached on disk and resumable.

:class:`FireEnergyModel` is the interface of :mod:`xtalgen.evaluation.stability`; a potential subclasses it
(CHGNet in :mod:`xtalgen.postprocess.relax`, SevenNet in :mod:`xtalgen.postprocess.sevennet`) with its two
per-structure functions and its relaxation engines. Also here: the relaxation record every potential returns
(:func:`relaxation_record`: energies in eV/atom, largest force in eV/Å, RMSD in Å) and the worker jobs that
the resumable runner (:func:`xtalgen.postprocess.resumable_jobs.run_resumable`) sends to processes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.postprocess.early_stop import EarlyStopRule, HullEarlyStop
from xtalgen.postprocess.resumable_jobs import run_resumable

#: ASE filter that lets the cell relax with the atoms (CHGNet's default since 0.3).
CELL_FILTER = "FrechetCellFilter"
#: Structures stepped together by the batched engine on a CPU (larger batches pay off on a GPU).
BATCH_SIZE = 8


def as_structure(payload: Structure | str | dict[str, Any]) -> Structure:
    """A structure from a ``Structure``, its ``as_dict()`` or CIF text."""
    if isinstance(payload, Structure):
        return payload
    if isinstance(payload, dict):
        return Structure.from_dict(payload)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(payload, fmt="cif")


def displacement_rmsd(initial: Structure, final: Structure) -> float:
    """Root-mean-square atomic displacement (Å) between two versions of the same structure.

    Fractional displacements are wrapped to the nearest image, converted with the final lattice,
    and the net translation is removed. Sites must be in the same order (relaxation keeps it).
    """
    if len(initial) != len(final):
        raise ValueError(f"cannot compare structures with {len(initial)} and {len(final)} sites")
    dfrac = final.frac_coords - initial.frac_coords
    dfrac -= np.round(dfrac)
    dcart = dfrac @ final.lattice.matrix
    dcart -= dcart.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum(dcart**2, axis=1))))


def relaxation_record(
    initial: Structure, final: Structure, e0: float, energy: float, max_force: float, *, fmax: float, steps: int
) -> dict[str, Any]:
    """The record every potential's ``relax_structure`` returns: energies (eV/atom) before and after,
    largest final force (eV/Å), converged (≤ ``fmax``), FIRE steps taken, RMSD (Å), relative volume change
    and the final structure (dict)."""
    return {
        "energy_per_atom": energy,
        "initial_energy_per_atom": e0,
        "max_force": max_force,
        "converged": bool(max_force <= fmax),
        "steps": int(steps),
        "rmsd": displacement_rmsd(initial, final),
        "volume_change": float(final.volume / initial.volume - 1.0),
        "structure": final.as_dict(),
    }


def relax_job(
    payload: Any, relax: Callable[..., dict[str, Any]], steps: int, fmax: float, model_name: str
) -> dict[str, Any]:
    """Worker job: relax one structure (or CIF text / dict) with the potential's ``relax`` function."""
    return relax(as_structure(payload), steps=steps, fmax=fmax, model_name=model_name)


def energy_job(
    payload: Any, relax: Callable[..., dict[str, Any]], static: Callable[..., tuple[float, float]] | None,
    steps: int, fmax: float, model_name: str,
) -> dict[str, Any]:  # fmt: skip
    """Worker job: a reference energy (eV/atom) with its formula; relaxed when ``static`` is None."""
    structure = as_structure(payload)
    if static is None:
        energy = relax(structure, steps=steps, fmax=fmax, model_name=model_name)["energy_per_atom"]
    else:
        energy, _ = static(structure, model_name)
    return {"energy_per_atom": energy, "formula": structure.composition.formula}


class FireEnergyModel:
    """FIRE relaxations (cell free) of samples and energies of reference structures with one ML potential,
    both cached on disk. Implements the energy-model interface of :mod:`xtalgen.evaluation.stability`.

    A potential subclasses it with its ``potential`` name, display ``label``, ``default_model``, its two
    module-level functions (``relax_structure``, ``static_energy``) that the worker processes run, and its
    relaxation ``engines`` (the first is the default): ``"ase"`` runs ``relax_structure`` per structure,
    ``"batched"`` runs ``relax_many`` (many structures per potential call; ``device`` and ``batch_size`` apply
    to it only). ``early_stop`` (batched engine only; None: off): stop clearly unstable structures early by
    this rule, given their hull energies in :meth:`relax`; ``trace``: records also carry the energy per step.
    """

    potential: str
    label: str
    default_model: str
    relax_structure: Callable[..., dict[str, Any]]
    static_energy: Callable[..., tuple[float, float]]
    engines: tuple[str, ...] = ("ase",)
    relax_many: Callable[..., Iterator[tuple[str, dict[str, Any]]]] | None = None

    def __init__(
        self,
        steps: int = 200,
        fmax: float = 0.1,
        relax_references: bool = False,
        model_name: str | None = None,
        *,
        engine: str | None = None,
        device: str = "cpu",
        batch_size: int = BATCH_SIZE,
        early_stop: EarlyStopRule | None = None,
        trace: bool = False,
    ) -> None:
        if steps < 0 or fmax <= 0:
            raise ValueError(f"steps must be ≥ 0 and fmax > 0, got steps={steps}, fmax={fmax}")
        engine = engine or self.engines[0]
        if engine not in self.engines:
            raise ValueError(f"engine {engine!r}: {self.label} relaxes with {' or '.join(self.engines)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if early_stop is not None and engine == "ase":
            raise ValueError("early_stop: needs the batched engine, not 'ase'")
        self.early_stop, self.trace = early_stop, trace
        self.steps, self.fmax = steps, fmax
        self.relax_references = relax_references
        self.model_name = model_name or self.default_model
        self.engine, self.device, self.batch_size = engine, device, batch_size
        self.name = f"{self.label} {self.model_name} (FIRE, ≤{steps} steps, fmax {fmax} eV/Å)"

    @property
    def relax_tag(self) -> str:
        """Identifies the relaxation settings (part of the relaxation cache file name)."""
        tag = f"{self.potential}-{self.model_name}-fire{self.steps}-{self.fmax}"
        tag = tag if self.engine == "ase" else f"{tag}-{self.engine}"
        return tag if self.early_stop is None else f"{tag}-{self.early_stop.tag}"

    @property
    def relax_settings(self) -> dict[str, Any]:
        """Every setting that changes a relaxation's result (part of ``xtalgen relax``'s resume key); no
        ``engine`` key means the per-structure ASE engine (records written before engines existed)."""
        settings = {"potential": self.potential, "model": self.model_name, "optimizer": "FIRE", "steps": self.steps,
                    "fmax": self.fmax, "cell_filter": CELL_FILTER}  # fmt: skip
        settings = settings if self.engine == "ase" else {**settings, "engine": self.engine}
        return settings if self.early_stop is None else {**settings, "early_stop": self.early_stop.settings()}

    @property
    def reference_tag(self) -> str:
        """Identifies how reference energies are made (part of their cache file name)."""
        return f"{self.potential}-{self.model_name}-" + (
            f"relaxed{self.steps}-{self.fmax}" if self.relax_references else "static"
        )

    def relax(
        self,
        items: Sequence[tuple[str, Any]],
        *,
        cache_path: Path | None,
        workers: int = 1,
        progress: bool = True,
        item_meta: Mapping[str, Mapping[str, Any]] | None = None,
        hull: Mapping[str, float] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Relax each ``(key, structure)``; records as the potential's ``relax_structure`` returns them (or
        ``error``). ``item_meta``: see :func:`run_resumable` (a recorded result is reused only if its fields
        match). The batched engine on a GPU runs in this process (one process feeds the device). ``hull``: the
        hull energy (eV/atom) at each key's composition, for ``early_stop`` (a key without one is not stopped)."""
        job = partial(relax_job, relax=type(self).relax_structure, steps=self.steps, fmax=self.fmax,
                      model_name=self.model_name)  # fmt: skip
        many = None
        if self.engine != "ase" and self.relax_many is not None:
            stop = None if self.early_stop is None else HullEarlyStop(self.early_stop, dict(hull or {}))
            many = partial(type(self).relax_many, steps=self.steps, fmax=self.fmax, model_name=self.model_name,
                           device=self.device, batch_size=self.batch_size, trace=self.trace,
                           early_stop=stop)  # fmt: skip
            workers = workers if self.device == "cpu" else 1
        return run_resumable(
            job, items, cache_path, workers=workers, description=f"{self.label} relax", progress=progress,
            item_meta=item_meta, many=many, chunk_size=4 * self.batch_size,
        )  # fmt: skip

    def energies(
        self,
        items: Sequence[tuple[str, Any]],
        *,
        cache_path: Path | None,
        workers: int = 1,
        progress: bool = True,
    ) -> dict[str, dict[str, Any]]:
        """Energy (eV/atom) of each ``(key, structure or CIF text)``: ``{"energy_per_atom", "formula"}``."""
        static = None if self.relax_references else type(self).static_energy
        job = partial(energy_job, relax=type(self).relax_structure, static=static, steps=self.steps, fmax=self.fmax,
                      model_name=self.model_name)  # fmt: skip
        return run_resumable(
            job, items, cache_path, workers=workers, description=f"{self.label} reference energies",
            progress=progress,
        )  # fmt: skip
