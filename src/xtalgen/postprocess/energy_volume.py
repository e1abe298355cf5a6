"""Static energies of isotropically strained copies of a (relaxed) structure, and its magnetic moments.

The energy–volume points feed an equation-of-state fit (bulk modulus, see
:mod:`xtalgen.evaluation.property_distributions`). Each copy scales the cell isotropically to
``(1 + strain)`` times the volume and keeps the fractional coordinates (no internal relaxation, so the
fitted bulk modulus is the clamped-ion one: exact for structures whose atoms sit on fixed Wyckoff
positions, such as rock salt or diamond, an upper bound otherwise). Energies are single predictions of
the same potential that relaxed the structure (eV/atom), volumes Å³/atom.

Magnetic moments: CHGNet predicts the magnitude of each site's moment (μB), trained on the MPtrj
magmoms; the record holds their mean over the sites (μB/atom; a sum of magnitudes, so ferri- and
antiferromagnets count as magnetic). SevenNet predicts no moments (NaN).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

#: Relative volume strains of the energy–volume points (the relaxed cell is the 0 point).
VOLUME_STRAINS = (-0.04, -0.02, 0.0, 0.02, 0.04)


def strained_copies(structure: Structure, strains: Sequence[float]) -> list[Structure]:
    """Copies of ``structure`` with volume ``(1 + strain) V`` each (same shape and fractional coordinates)."""
    out = []
    for strain in strains:
        if not -0.5 < strain < 1.0:
            raise ValueError(f"volume strain {strain}: must lie in (-0.5, 1.0)")
        copy = structure.copy()
        copy.scale_lattice(structure.volume * (1.0 + strain))
        out.append(copy)
    return out


def strain_tag(strains: Sequence[float]) -> str:
    """Short label of a strain set for cache file names (``"ev-4-2+0+2+4"`` for ±2, ±4 %)."""
    return "ev" + "".join(f"{100 * s:+g}" for s in strains)


def chgnet_energy_volume(
    structure: Structure, strains: Sequence[float] = VOLUME_STRAINS, model_name: str | None = None, device: str = "cpu"
) -> dict[str, Any]:
    """CHGNet energies (eV/atom) at the strained volumes (Å³/atom) and the mean |magmom| (μB/atom) at
    the given volume, in one batched prediction.

    Keys: ``volumes``, ``energies``, ``magmom_per_atom``, ``density`` (g/cm³ of the given structure).
    """
    from xtalgen.postprocess.relax import DEFAULT_MODEL, chgnet_model

    model = chgnet_model(model_name or DEFAULT_MODEL, device)
    copies = strained_copies(structure, strains)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preds = model.predict_structure([structure, *copies], task="em", batch_size=len(copies) + 1)
    magmoms = np.abs(np.asarray(preds[0]["m"], dtype=float))
    return {
        "volumes": [float(c.volume / len(c)) for c in copies],
        "energies": [float(p["e"]) for p in preds[1:]],
        "magmom_per_atom": float(np.mean(magmoms)),
        "density": float(structure.density),
    }


def sevennet_energy_volume(
    structure: Structure, strains: Sequence[float] = VOLUME_STRAINS, model_name: str | None = None, device: str = "cpu"
) -> dict[str, Any]:
    """As :func:`chgnet_energy_volume` with SevenNet energies; ``magmom_per_atom`` is NaN (not predicted)."""
    from xtalgen.postprocess.sevennet import DEFAULT_MODEL, static_energy

    copies = strained_copies(structure, strains)
    return {
        "volumes": [float(c.volume / len(c)) for c in copies],
        "energies": [static_energy(c, model_name or DEFAULT_MODEL, device)[0] for c in copies],
        "magmom_per_atom": float("nan"),
        "density": float(structure.density),
    }


#: The energy–volume function of each potential (by ``FireEnergyModel.potential``).
ENERGY_VOLUME = {"chgnet": chgnet_energy_volume, "sevennet": sevennet_energy_volume}


def _energy_volume_job(payload: Any, potential: str, strains: tuple[float, ...], model_name: str) -> dict[str, Any]:
    from xtalgen.postprocess.fire_energy_model import as_structure

    return ENERGY_VOLUME[potential](as_structure(payload), strains, model_name)


def energy_volume_points(
    energy_model: Any,
    items: Sequence[tuple[str, Any]],
    *,
    strains: Sequence[float] = VOLUME_STRAINS,
    cache_path: Path | None,
    workers: int = 1,
    progress: bool = True,
    item_meta: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`chgnet_energy_volume` (or the potential's equivalent) of each ``(key, structure)``, with the
    potential and model of ``energy_model`` (a :class:`~xtalgen.postprocess.fire_energy_model.FireEnergyModel`);
    resumable JSON-lines cache as :func:`~xtalgen.postprocess.resumable_jobs.run_resumable`."""
    from xtalgen.postprocess.resumable_jobs import run_resumable

    potential = getattr(energy_model, "potential", "")
    if potential not in ENERGY_VOLUME:
        raise ValueError(f"energy-volume points: no implementation for potential {potential!r}; "
                         f"choose from {', '.join(ENERGY_VOLUME)}")  # fmt: skip
    job = partial(_energy_volume_job, potential=potential, strains=tuple(float(s) for s in strains),
                  model_name=energy_model.model_name)  # fmt: skip
    label = getattr(energy_model, "label", potential)
    return run_resumable(job, items, cache_path, workers=workers, description=f"{label} E(V) points",
                         progress=progress, item_meta=item_meta)  # fmt: skip
