"""Relax structures with the CHGNet universal potential and record their energies (eV/atom).

CHGNet (Deng et al., Nat. Mach. Intell. 2023) ships its weights inside the ``chgnet`` package, so this
works offline. Relaxation: FIRE with the cell free (Fréchet cell filter), at most ``steps`` steps, stopping
when every force is below ``fmax`` (eV/Å). Two engines give the same relaxation: ``"batched"`` (the
default for CHGNet) steps many structures together with one CHGNet pass per step
(:mod:`xtalgen.postprocess.batched_fire`), ``"ase"`` relaxes one structure at a time with CHGNet's
``StructOptimizer`` (ASE's ``FIRE`` on ``FrechetCellFilter``); the energy recorded is CHGNet's energy of the
final structure. Results are appended to a JSON-lines file as each structure finishes, so an interrupted
run resumes without redoing finished structures (:mod:`xtalgen.postprocess.resumable_jobs`); the cached
energy-model interface CHGNet shares with SevenNet is :mod:`xtalgen.postprocess.fire_energy_model`.

Reference energies for convex hulls (:meth:`CHGNetEnergyModel.energies`) are by default *static*
CHGNet energies of the given (DFT-relaxed, e.g. Materials Project) structures: fast, and close to the
CHGNet minimum because CHGNet was trained on those relaxations. Since generated samples are relaxed
with CHGNet but references are not, hull energies are biased slightly low (references sit a little
above their CHGNet minimum); pass ``relax_references=True`` to relax references too.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.postprocess.batched_fire import StopRule
from xtalgen.postprocess.fire_energy_model import (
    BATCH_SIZE,
    CELL_FILTER,
    FireEnergyModel,
    as_structure,
    displacement_rmsd,
    relaxation_record,
)
from xtalgen.postprocess.resumable_jobs import read_jsonl, run_resumable

# Re-exported: the shared relaxation pieces were defined here before they got their own modules.
__all__ = [
    "BATCH_SIZE", "CELL_FILTER", "DEFAULT_MODEL", "ENGINES", "CHGNetEnergyModel", "FireEnergyModel", "chgnet_model",
    "displacement_rmsd", "read_jsonl", "relax_many", "relax_structure", "relaxation_record", "run_resumable",
    "static_energy",
]  # fmt: skip

#: CHGNet model version used by default (trained on MPtrj, PBE/PBE+U energies).
DEFAULT_MODEL = "0.3.0"
#: Relaxation engines: many structures per CHGNet pass (our FIRE), or one at a time (ASE's FIRE).
ENGINES = ("batched", "ase")

_MODEL: dict[str, Any] = {}


def chgnet_model(name: str = DEFAULT_MODEL, device: str = "cpu") -> Any:
    """The CHGNet model, loaded once per process and device (``cpu`` or ``cuda``).

    Its graph converter always refuses structures with an isolated atom (no neighbour within
    CHGNet's 6 Å cutoff): CHGNet's ASE calculator switches the shared converter to "warn" when a
    relaxation starts, which would make later static energies of such structures silently succeed.
    """
    key = name if device == "cpu" else f"{name}@{device}"
    if key not in _MODEL:
        from chgnet.model import CHGNet

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # "CHGNet ... initialized"
            warnings.simplefilter("ignore")
            _MODEL[key] = CHGNet.load(model_name=name, use_device=device, verbose=False)
    model = _MODEL[key]
    model.graph_converter.set_isolated_atom_response("error")
    return model


def static_energy(structure: Structure, model_name: str = DEFAULT_MODEL, device: str = "cpu") -> tuple[float, float]:
    """(CHGNet energy in eV/atom, largest force in eV/Å) of a structure as given."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = chgnet_model(model_name, device).predict_structure(structure, task="ef")
    return float(pred["e"]), float(np.max(np.linalg.norm(pred["f"], axis=1)))


def relax_structure(
    structure: Structure, *, steps: int = 200, fmax: float = 0.1, model_name: str = DEFAULT_MODEL, device: str = "cpu"
) -> dict[str, Any]:
    """Relax one structure (FIRE, cell free); return energies (eV/atom), RMSD (Å), steps and the result.

    Keys: ``energy_per_atom``, ``initial_energy_per_atom``, ``max_force`` (eV/Å), ``converged``
    (max force ≤ fmax), ``steps``, ``rmsd``, ``volume_change`` (relative), ``structure`` (dict).
    """
    from chgnet.model import StructOptimizer

    e0, _ = static_energy(structure, model_name, device)
    with contextlib.redirect_stdout(io.StringIO()):  # "CHGNet will run on cpu", once per structure
        optimizer = StructOptimizer(
            model=chgnet_model(model_name, device), optimizer_class="FIRE", use_device=device,
            on_isolated_atoms="error",
        )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = optimizer.relax(
            structure, fmax=fmax, steps=steps, relax_cell=True, ase_filter=CELL_FILTER, verbose=False
        )
    final: Structure = result["final_structure"]
    energy, max_force = static_energy(final, model_name, device)
    steps_taken = max(len(result["trajectory"].energies) - 1, 0)
    return relaxation_record(structure, final, e0, energy, max_force, fmax=fmax, steps=steps_taken)


def relax_many(
    items: Iterable[tuple[str, Any]],
    *,
    steps: int = 200,
    fmax: float = 0.1,
    model_name: str = DEFAULT_MODEL,
    device: str = "cpu",
    batch_size: int = BATCH_SIZE,
    early_stop: StopRule | None = None,
    trace: bool = False,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Relax each ``(key, structure or CIF text or dict)`` with the batched engine; yield ``(key, record)`` as
    each finishes. Records carry the keys of :func:`relax_structure` (``steps``: FIRE steps taken) or
    ``error``; ``stopped_early: true`` when ``early_stop`` stopped it; ``trace``: also ``energies``, the
    energy (eV/atom) at every step."""
    from xtalgen.postprocess.batched_fire import relax_batched
    from xtalgen.postprocess.chgnet_forces import chgnet_batch_forces

    failed: list[tuple[str, str]] = []

    def parsed() -> Iterator[tuple[str, Structure]]:
        for key, payload in items:
            try:
                yield key, as_structure(payload)
            except Exception as exc:
                failed.append((key, f"{type(exc).__name__}: {exc}"[:300]))

    forces = chgnet_batch_forces(chgnet_model(model_name, device))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for out in relax_batched(parsed(), forces, steps=steps, fmax=fmax, batch_size=batch_size,
                                 stop_early=early_stop):  # fmt: skip
            while failed:
                key, error = failed.pop()
                yield key, {"error": error}
            if out.error is not None or out.final is None:
                yield str(out.key), {"error": out.error or "no result"}
                continue
            record = relaxation_record(out.initial, out.final, out.initial_energy_per_atom, out.energy_per_atom,
                                       out.max_force, fmax=fmax, steps=out.steps)  # fmt: skip
            if out.stopped_early:
                record["stopped_early"] = True
            if trace:
                record["energies"] = [round(e, 6) for e in out.energies]
            yield str(out.key), record
    for key, error in failed:
        yield key, {"error": error}


class CHGNetEnergyModel(FireEnergyModel):
    """CHGNet relaxations of samples and energies of reference structures, both cached on disk; relaxations
    use the batched engine unless ``engine="ase"``."""

    potential, label, default_model = "chgnet", "CHGNet", DEFAULT_MODEL
    relax_structure = staticmethod(relax_structure)
    static_energy = staticmethod(static_energy)
    engines = ENGINES
    relax_many = staticmethod(relax_many)
