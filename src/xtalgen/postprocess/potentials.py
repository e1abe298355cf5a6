"""The universal potentials xtalgen relaxes and scores with, by name: load, static energy, relaxation.

``chgnet`` (CHGNet 0.3.0, a core dependency) and ``sevennet`` (SevenNet ``7net-l3i5``, the optional
extra ``xtalgen[sevennet]``). Both were trained on MPtrj, so energies (eV/atom) follow the same
convention. :func:`parse_potentials` checks a ``--potential`` value early (unknown names, missing
packages) with a one-line message; :func:`energy_model` builds the object the stability metric and
``xtalgen relax`` use; :func:`static_energy` and :func:`relax_structure` work on one structure.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymatgen.core import Structure


@dataclass(frozen=True)
class PotentialInfo:
    """One potential: its ``--potential`` name, display label, Python module, optional extra, default model."""

    name: str
    label: str
    module: str
    extra: str | None
    default_model: str


POTENTIALS: dict[str, PotentialInfo] = {
    "chgnet": PotentialInfo("chgnet", "CHGNet", "chgnet", None, "0.3.0"),
    "sevennet": PotentialInfo("sevennet", "SevenNet", "sevenn", "sevennet", "7net-l3i5"),
}


class PotentialUnavailable(ImportError):
    """A potential was asked for whose package is not installed (the message says which extra to install)."""


def potential_info(name: str) -> PotentialInfo:
    """The :class:`PotentialInfo` of ``name``; ValueError naming the choices when it is unknown."""
    key = name.strip().lower()
    if key not in POTENTIALS:
        raise ValueError(f"unknown potential {name!r}: choose from {', '.join(POTENTIALS)}")
    return POTENTIALS[key]


def is_available(name: str) -> bool:
    """Whether the package behind potential ``name`` can be imported."""
    return importlib.util.find_spec(potential_info(name).module) is not None


def require_potential(name: str) -> PotentialInfo:
    """``name``'s info; PotentialUnavailable (one line naming the extra to install) when its package is missing."""
    info = potential_info(name)
    if not is_available(info.name):
        how = f"pip install 'xtalgen[{info.extra}]'" if info.extra else f"pip install {info.module}"
        raise PotentialUnavailable(
            f"potential {info.name!r} needs the {info.module!r} package, which is not installed: {how}"
        )
    return info


def parse_potentials(text: str | Sequence[str]) -> list[str]:
    """Potential names from ``"chgnet"``, ``"chgnet,sevennet"`` or a list; each checked with :func:`require_potential`.

    The first name is the primary potential (the one S.U.N. and the gallery use). ValueError for an
    empty list, an unknown or a repeated name; PotentialUnavailable for a missing package.
    """
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = [p.strip().lower() for p in parts if p.strip()]
    if not names:
        raise ValueError(f"no potential given in {text!r}: choose from {', '.join(POTENTIALS)}")
    for name in names:
        potential_info(name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"potential {repeated[0]!r} given twice")
    for name in names:
        require_potential(name)
    return names


def energy_model(
    name: str,
    *,
    steps: int = 200,
    fmax: float = 0.1,
    relax_references: bool = False,
    model: str | None = None,
    engine: str | None = None,
    device: str = "cpu",
    early_stop: Any = None,
) -> Any:
    """The energy model (relaxations and reference energies, cached) of potential ``name``.

    ``model``: the potential's model version or checkpoint name (default: :attr:`PotentialInfo.default_model`).
    ``engine``: ``"batched"`` (many structures per potential call; CHGNet only, its default) or ``"ase"`` (one
    structure at a time; SevenNet's only engine); None: the potential's default. ``device``: where the batched
    engine runs (``cpu`` or ``cuda``). ``early_stop``: an :class:`~xtalgen.postprocess.early_stop.EarlyStopRule`
    (CHGNet's batched engine only; None: every structure is relaxed to the end).
    """
    info = require_potential(name)
    model_name = model or info.default_model
    if info.name == "chgnet":
        from xtalgen.postprocess.relax import CHGNetEnergyModel

        return CHGNetEnergyModel(steps=steps, fmax=fmax, relax_references=relax_references, model_name=model_name,
                                 engine=engine, device=device, early_stop=early_stop)  # fmt: skip
    if early_stop is not None:
        raise ValueError(f"early stopping needs CHGNet's batched engine, not {info.name}")
    from xtalgen.postprocess.sevennet import SevenNetEnergyModel

    return SevenNetEnergyModel(steps=steps, fmax=fmax, relax_references=relax_references, model_name=model_name,
                               engine=engine, device=device)  # fmt: skip


def static_energy(
    name: str, structure: Structure, *, model: str | None = None, device: str = "cpu"
) -> tuple[float, float]:
    """(energy in eV/atom, largest force in eV/Å) of ``structure`` as given, with potential ``name``."""
    info = require_potential(name)
    if info.name == "chgnet":
        from xtalgen.postprocess.relax import static_energy as chgnet_static

        return chgnet_static(structure, model or info.default_model, device)
    from xtalgen.postprocess.sevennet import static_energy as sevennet_static

    return sevennet_static(structure, model or info.default_model, device)


def relax_structure(
    name: str,
    structure: Structure,
    *,
    steps: int = 200,
    fmax: float = 0.1,
    model: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Relax ``structure`` with potential ``name`` (FIRE, cell free, ≤ ``steps`` steps, forces ≤ ``fmax`` eV/Å).

    Returns the record of :func:`xtalgen.postprocess.relax.relax_structure` (energies in eV/atom,
    ``converged``, ``steps``, ``rmsd`` in Å, ``structure`` as a dict).
    """
    info = require_potential(name)
    if info.name == "chgnet":
        from xtalgen.postprocess.relax import relax_structure as chgnet_relax

        return chgnet_relax(structure, steps=steps, fmax=fmax, model_name=model or info.default_model, device=device)
    from xtalgen.postprocess.sevennet import relax_structure as sevennet_relax

    return sevennet_relax(structure, steps=steps, fmax=fmax, model_name=model or info.default_model, device=device)
