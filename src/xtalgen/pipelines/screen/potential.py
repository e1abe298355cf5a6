"""The potential ``xtalgen screen`` uses: a cheap energy estimate and a full relaxation of one structure.

:class:`NamedScreenPotential` wraps a potential of :mod:`xtalgen.postprocess.potentials` by name
(``chgnet``, ``sevennet``; FIRE, cell free). Its ``*_settings`` name the potential and its model, so results
stored for one potential are never reused for another. Another potential plugs in with the same members.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class NamedScreenPotential:
    """Potential ``name``: pre-screen = static energy (``prescreen_steps`` = 0) or the energy after that many
    FIRE steps; relaxation = at most ``steps`` FIRE steps to ``fmax`` (eV/Å), the relaxation of ``xtalgen relax``."""

    name: str = "chgnet"
    steps: int = 200
    fmax: float = 0.1
    prescreen_steps: int = 10
    model: str | None = None  # the potential's model version (None: its default)

    def _model(self, steps: int) -> Any:
        return energy_model(self.name, steps=steps, fmax=self.fmax, model=self.model)

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
        out = relax_structure(self.name, structure, steps=self.prescreen_steps, fmax=self.fmax, model=self.model)
        return {k: out[k] for k in ("energy_per_atom", "max_force", "steps", "converged")}

    def relax(self, structure: Structure) -> dict[str, Any]:
        """:func:`xtalgen.postprocess.potentials.relax_structure`'s record (``structure``: relaxed, a dict)."""
        return relax_structure(self.name, structure, steps=self.steps, fmax=self.fmax, model=self.model)
