"""The potential ``xtalgen screen`` uses: a cheap energy estimate and a full relaxation of one structure.

:class:`CHGNetScreenPotential` wraps :mod:`xtalgen.postprocess.relax` (CHGNet, FIRE, cell free). Its
``*_settings`` name the potential (``"potential": "chgnet"``), so results stored for one potential are
never reused for another. Another potential plugs in with the same four members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pymatgen.core import Structure

from xtalgen.postprocess.relax import CELL_FILTER, DEFAULT_MODEL, relax_structure, static_energy


class ScreenPotential(Protocol):
    """What the screen needs from a potential; energies in eV/atom. Must pickle (sent to Dask workers)."""

    reference_tag: str  # which shipped reference-energy table matches its energies

    def prescreen_settings(self) -> dict[str, Any]: ...

    def relax_settings(self) -> dict[str, Any]: ...

    def prescreen(self, structure: Structure) -> dict[str, Any]: ...

    def relax(self, structure: Structure) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CHGNetScreenPotential:
    """CHGNet: pre-screen = static energy (``prescreen_steps`` = 0) or the energy after that many FIRE
    steps; relaxation = at most ``steps`` FIRE steps to ``fmax`` (eV/Å), the relaxation of ``xtalgen relax``."""

    model_name: str = DEFAULT_MODEL
    steps: int = 200
    fmax: float = 0.1
    prescreen_steps: int = 10

    @property
    def reference_tag(self) -> str:
        return f"chgnet-{self.model_name}-static"

    def prescreen_settings(self) -> dict[str, Any]:
        return {"potential": "chgnet", "model": self.model_name, "optimizer": "FIRE",
                "steps": self.prescreen_steps, "fmax": self.fmax, "cell_filter": CELL_FILTER}  # fmt: skip

    def relax_settings(self) -> dict[str, Any]:
        return {"potential": "chgnet", "model": self.model_name, "optimizer": "FIRE", "steps": self.steps,
                "fmax": self.fmax, "cell_filter": CELL_FILTER}  # fmt: skip

    def prescreen(self, structure: Structure) -> dict[str, Any]:
        """``energy_per_atom`` (eV/atom) as given (static) or after ``prescreen_steps`` FIRE steps."""
        if self.prescreen_steps == 0:
            energy, max_force = static_energy(structure, self.model_name)
            return {"energy_per_atom": energy, "max_force": max_force, "steps": 0}
        out = relax_structure(structure, steps=self.prescreen_steps, fmax=self.fmax, model_name=self.model_name)
        return {k: out[k] for k in ("energy_per_atom", "max_force", "steps", "converged")}

    def relax(self, structure: Structure) -> dict[str, Any]:
        """:func:`xtalgen.postprocess.relax.relax_structure`'s record (``structure``: the relaxed one, a dict)."""
        return relax_structure(structure, steps=self.steps, fmax=self.fmax, model_name=self.model_name)
