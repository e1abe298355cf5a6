"""Candidates and stand-in potentials for the screen tests (fast: no CHGNet in the Dask workers)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymatgen.core import Lattice, Structure

#: What :func:`write_candidates` writes and where each one should leave the screen.
FATE = {"si": "kept", "si_shifted": "dedupe", "nacl": "kept", "lif": "kept", "overlap": "cheap filters",
        "nacl_sparse": "prescreen"}  # fmt: skip


def write_candidates(folder: Path) -> Path:
    """Six CIFs: Si, the same Si shifted (a duplicate), NaCl, LiF, two overlapping atoms, a sparse NaCl cell."""
    folder.mkdir(parents=True, exist_ok=True)
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]]).get_primitive_structure()
    shifted = si.copy()
    shifted.translate_sites([0, 1], [0.1, 0.1, 0.1])
    rocksalt = [[0, 0, 0], [0.5, 0.5, 0.5]]
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6), ["Na", "Cl"], rocksalt).get_primitive_structure()
    lif = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.1), ["Li", "F"], rocksalt).get_primitive_structure()
    structures = {
        "si": si, "si_shifted": shifted, "nacl": nacl, "lif": lif,
        "overlap": Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]]),
        "nacl_sparse": Structure(Lattice.cubic(6.5), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    }  # fmt: skip
    for name, structure in structures.items():
        structure.to(filename=str(folder / f"{name}.cif"))
    return folder


@dataclass(frozen=True)
class FakePotential:
    """Energies (eV/atom) by reduced formula; cells above 60 Å³/atom cost 3 eV/atom more (above the default
    pre-screen threshold); relaxation keeps the structure."""

    energies: dict[str, float] = field(default_factory=dict)
    reference_tag: str = "chgnet-0.3.0-static"
    tag: str = "fake"  # stands for the potential's name and version in the stage settings

    def prescreen_settings(self) -> dict[str, Any]:
        return {"potential": self.tag, "stage": "prescreen"}

    def relax_settings(self) -> dict[str, Any]:
        return {"potential": self.tag, "stage": "relax"}

    def _energy(self, structure: Structure) -> float:
        penalty = 3.0 if structure.volume / len(structure) > 60 else 0.0
        return self.energies[structure.composition.reduced_formula] + penalty

    def prescreen(self, structure: Structure) -> dict[str, Any]:
        return {"energy_per_atom": self._energy(structure), "steps": 0}

    def relax(self, structure: Structure) -> dict[str, Any]:
        return {"energy_per_atom": self._energy(structure), "steps": 1, "converged": True, "rmsd": 0.0,
                "structure": structure.as_dict()}  # fmt: skip


@dataclass(frozen=True)
class KillOncePotential(FakePotential):
    """Kills the worker process it runs in the first time it relaxes ``victim`` (a marker file remembers)."""

    victim: str = "NaCl"
    marker_dir: str = ""

    def relax(self, structure: Structure) -> dict[str, Any]:
        marker = Path(self.marker_dir) / f"killed-{structure.composition.reduced_formula}"
        if structure.composition.reduced_formula == self.victim and not marker.exists():
            marker.touch()
            os._exit(1)  # the worker dies mid-task, as on an out-of-memory kill
        return super().relax(structure)


@dataclass(frozen=True)
class BatchFakePotential(FakePotential):
    """:class:`FakePotential` with batched jobs (``batch_task_size`` structures per task), as CHGNet's batched
    engine offers; ``kill_marker_dir``: kill the worker the first time a batch holds NaCl (a marker file remembers)."""

    batch_task_size: int = 2
    kill_marker_dir: str = ""

    def prescreen_many(self, items: list[tuple[str, Structure]]):
        for key, structure in items:
            yield key, {**self.prescreen(structure), "batch": len(items)}

    def relax_many(self, items: list[tuple[str, Structure]]):
        formulas = [s.composition.reduced_formula for _, s in items]
        marker = Path(self.kill_marker_dir) / "killed-batch"
        if self.kill_marker_dir and "NaCl" in formulas and not marker.exists():
            marker.touch()
            os._exit(1)
        for key, structure in items:
            yield key, {**self.relax(structure), "batch": len(items)}
