"""Relax structures and score energies (eV/atom) with the SevenNet universal potential (optional extra).

SevenNet (Park et al., J. Chem. Theory Comput. 2024; the ``sevenn`` package, MIT licence) ships its
checkpoints inside its wheel, so this works offline. The default checkpoint ``7net-l3i5`` was trained
on MPtrj (the same PBE/PBE+U, MP2020-corrected energies as CHGNet 0.3.0), which makes its hull
energies comparable with reference energies of Materials Project structures computed the same way.

Relaxation mirrors :mod:`xtalgen.postprocess.relax` (CHGNet): ASE FIRE with the cell free (Fréchet
cell filter), at most ``steps`` steps, stopping when every force is below ``fmax`` (eV/Å); the energy
recorded is a static SevenNet prediction on the final structure. Install with
``pip install 'xtalgen[sevennet]'``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.postprocess.fire_energy_model import FireEnergyModel, relaxation_record

#: SevenNet checkpoint used by default (shipped in the ``sevenn`` wheel; trained on MPtrj).
DEFAULT_MODEL = "7net-l3i5"

#: A relaxation ending with a force above this (eV/Å) has run away (e.g. 7net-l3i5 on a PGCGM EuFe3H4 cell with
#: 1.1 Å H-H contacts: -14 eV/atom and 3,000 eV/Å as given, -171 eV/atom after 3 FIRE steps); it is recorded as
#: failed, so such a sample gets no E_hull instead of a hull energy far below any real compound.
DIVERGED_FORCE = 50.0
#: A relaxation is stopped as diverged as soon as the energy falls below this (eV/atom): well below the lowest
#: energy of any Materials Project structure with ≤ 20 sites (-14.25 eV/atom, Pu mp-571261, in the shipped
#: CHGNet reference table), so no real relaxation reaches it, and a runaway one stops at once instead of
#: spending all its steps on an ever denser, ever slower graph.
MIN_ENERGY_PER_ATOM = -20.0

_CALC: dict[tuple[str, str], Any] = {}


def sevennet_calculator(name: str = DEFAULT_MODEL, device: str = "cpu") -> Any:
    """The SevenNet ASE calculator, loaded once per process and device (``cpu`` or ``cuda``)."""
    key = (name, device)
    if key not in _CALC:
        from sevenn.calculator import SevenNetCalculator

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            _CALC[key] = SevenNetCalculator(name, device=device)
    return _CALC[key]


def supported_elements(name: str = DEFAULT_MODEL, device: str = "cpu") -> frozenset[str]:
    """Element symbols the checkpoint has parameters for."""
    calc = sevennet_calculator(name, device)
    species = getattr(calc, "sevennet_config", {}).get("chemical_species") or []
    return frozenset(species)


def _atoms(structure: Structure, name: str, device: str) -> Any:
    from pymatgen.io.ase import AseAtomsAdaptor

    known = supported_elements(name, device)
    missing = sorted({el.symbol for el in structure.composition.elements} - known) if known else []
    if missing:
        raise ValueError(f"SevenNet {name} has no parameters for {', '.join(missing)}")
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = sevennet_calculator(name, device)
    return atoms


def static_energy(structure: Structure, model_name: str = DEFAULT_MODEL, device: str = "cpu") -> tuple[float, float]:
    """(SevenNet energy in eV/atom, largest force in eV/Å) of a structure as given."""
    atoms = _atoms(structure, model_name, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        energy = float(atoms.get_potential_energy()) / len(atoms)
        forces = np.asarray(atoms.get_forces())
    return energy, float(np.max(np.linalg.norm(forces, axis=1)))


def relax_structure(
    structure: Structure, *, steps: int = 200, fmax: float = 0.1, model_name: str = DEFAULT_MODEL, device: str = "cpu"
) -> dict[str, Any]:
    """Relax one structure (FIRE, cell free); the record :func:`xtalgen.postprocess.relax.relax_structure` returns.

    Keys: ``energy_per_atom``, ``initial_energy_per_atom``, ``max_force`` (eV/Å), ``converged``
    (max force ≤ fmax), ``steps``, ``rmsd`` (Å), ``volume_change`` (relative), ``structure`` (dict).
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    from pymatgen.io.ase import AseAtomsAdaptor

    e0, _ = static_energy(structure, model_name, device)
    atoms = _atoms(structure, model_name, device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimizer = FIRE(FrechetCellFilter(atoms), logfile=None)
        for _ in optimizer.irun(fmax=fmax, steps=steps):
            energy = float(atoms.get_potential_energy()) / len(atoms)
            if energy < MIN_ENERGY_PER_ATOM:
                raise ValueError(
                    f"relaxation diverged: {energy:.3g} eV/atom after {optimizer.nsteps} steps (started at "
                    f"{e0:.3g}), below any known solid; SevenNet {model_name} is outside its training domain here"
                )
    final = AseAtomsAdaptor.get_structure(atoms)
    for prop in list(final.site_properties):  # e.g. magmom/charges copied from the calculator: not structure
        final.remove_site_property(prop)
    energy, max_force = static_energy(final, model_name, device)
    if not max_force < DIVERGED_FORCE:
        raise ValueError(
            f"relaxation diverged: largest force {max_force:.3g} eV/Å after {optimizer.nsteps} steps "
            f"(energy {energy:.3g} eV/atom); SevenNet {model_name} is outside its training domain here"
        )
    return relaxation_record(structure, final, e0, energy, max_force, fmax=fmax, steps=optimizer.nsteps)


class SevenNetEnergyModel(FireEnergyModel):
    """SevenNet relaxations of samples and energies of reference structures, both cached on disk (CPU).

    No reference-energy table ships for SevenNet: hull references are computed on demand for the chemical
    systems the samples need and cached (see ``docs/benchmarks/potentials.md`` for the cost that decided this).
    """

    potential, label, default_model = "sevennet", "SevenNet", DEFAULT_MODEL
    relax_structure = staticmethod(relax_structure)
    static_energy = staticmethod(static_energy)
