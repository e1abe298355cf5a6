"""The potential ``xtalgen screen`` uses: a cheap energy estimate and a full relaxation of one structure.

:class:`NamedScreenPotential` wraps a potential of :mod:`xtalgen.postprocess.potentials` by name
(``chgnet``, ``sevennet``; FIRE, cell free). Its ``*_settings`` name the potential and its model, so results
stored for one potential are never reused for another. Another potential plugs in with the same members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from pymatgen.core import Structure

from xtalgen.postprocess.potentials import energy_model, relax_structure, static_energy


class ScreenPotential(Protocol):
    """What the screen needs from a potential; energies in eV/atom. Must pickle (sent to Dask workers)."""

    reference_tag: str  # which reference-energy table matches its energies

    def prescreen_settings(self) -> dict[str, Any]: ...

    def relax_settings(self) -> dict[str, Any]: ...

    def prescreen(self, structure: Structure) -> dict[str, Any]: ...

    def relax(self, structure: Structure) -> dict[str, Any]: ...


# Optional: ``batch_task_size`` (structures per task, or None) with ``prescreen_many`` and ``relax_many``, which take
# ``(key, structure)`` pairs and yield ``(key, record)``; the screen then sends that many structures per task.


@dataclass(frozen=True)
class NamedScreenPotential:
    """Potential ``name``: pre-screen = static energy (``prescreen_steps`` = 0) or the energy after that many
    FIRE steps; relaxation = at most ``steps`` FIRE steps to ``fmax`` (eV/Å), the relaxation of ``xtalgen relax``
    (CHGNet: the batched engine, many structures per task, unless ``engine="ase"``)."""

    name: str = "chgnet"
    steps: int = 200
    fmax: float = 0.1
    prescreen_steps: int = 10
    model: str | None = None  # the potential's model version (None: its default)
    engine: str | None = None  # relaxation engine, "batched" or "ase" (None: the potential's default)

    def _model(self, steps: int) -> Any:
        return energy_model(self.name, steps=steps, fmax=self.fmax, model=self.model, engine=self.engine)

    @property
    def batch_task_size(self) -> int | None:
        """Structures per task for :meth:`relax_many` and :meth:`prescreen_many` (None: one task per structure,
        the ASE engine)."""
        model = self._model(self.steps)
        return 4 * model.batch_size if model.engine == "batched" else None

    def _relax_many(self, items: list[tuple[str, Structure]], steps: int) -> Iterator[tuple[str, dict[str, Any]]]:
        model = self._model(steps)
        yield from model.relax_many(items, steps=steps, fmax=self.fmax, model_name=model.model_name,
                                    device=model.device, batch_size=model.batch_size)  # fmt: skip

    def relax_many(self, items: list[tuple[str, Structure]]) -> Iterator[tuple[str, dict[str, Any]]]:
        """:meth:`relax` of many ``(key, structure)`` at once with the batched engine; ``(key, record)`` each."""
        return self._relax_many(items, self.steps)

    def prescreen_many(self, items: list[tuple[str, Structure]]) -> Iterator[tuple[str, dict[str, Any]]]:
        """:meth:`prescreen` of many ``(key, structure)`` at once (batched FIRE steps; static: one by one)."""
        if self.prescreen_steps == 0:
            for key, structure in items:
                try:
                    yield key, self.prescreen(structure)
                except Exception as exc:  # one failing structure fails alone
                    yield key, {"error": f"{type(exc).__name__}: {exc}"[:300]}
            return
        for key, out in self._relax_many(items, self.prescreen_steps):
            yield key, ({k: out[k] for k in ("energy_per_atom", "max_force", "steps", "converged")}
                        if "error" not in out else out)  # fmt: skip

    @property
    def reference_tag(self) -> str:
        return str(self._model(self.steps).reference_tag)

    def prescreen_settings(self) -> dict[str, Any]:
        return dict(self._model(self.prescreen_steps).relax_settings)

    def relax_settings(self) -> dict[str, Any]:
        return dict(self._model(self.steps).relax_settings)

    def prescreen(self, structure: Structure) -> dict[str, Any]:
        """``energy_per_atom`` (eV/atom) as given (static) or after ``prescreen_steps`` FIRE steps."""
        if self.prescreen_steps == 0:
            energy, max_force = static_energy(self.name, structure, model=self.model)
            return {"energy_per_atom": energy, "max_force": max_force, "steps": 0}
        if self.batch_task_size:
            return _only(self._relax_many([("one", structure)], self.prescreen_steps), ("energy_per_atom",
                         "max_force", "steps", "converged"))  # fmt: skip
        out = relax_structure(self.name, structure, steps=self.prescreen_steps, fmax=self.fmax, model=self.model)
        return {k: out[k] for k in ("energy_per_atom", "max_force", "steps", "converged")}

    def relax(self, structure: Structure) -> dict[str, Any]:
        """:func:`xtalgen.postprocess.potentials.relax_structure`'s record (``structure``: relaxed, a dict)."""
        if self.batch_task_size:
            return _only(self.relax_many([("one", structure)]), None)
        return relax_structure(self.name, structure, steps=self.steps, fmax=self.fmax, model=self.model)


def _only(records: Iterator[tuple[str, dict[str, Any]]], keys: tuple[str, ...] | None) -> dict[str, Any]:
    """The one record of a one-structure batch (its ``keys`` only); ValueError with its error if it failed."""
    [(_, record)] = list(records)
    if "error" in record:
        raise ValueError(record["error"])
    return record if keys is None else {k: record[k] for k in keys}
