"""The screen's first stage: checks that cost milliseconds per structure, run before any energy.

A structure passes when :func:`xtalgen.data.structure_checks.check_structure` accepts it (finite, ordered,
elements 1..94, sane cell, no atoms closer than 0.5 Å), it is structurally valid
(:func:`xtalgen.evaluation.validity.structural_validity`), at most ``max_sites`` sites, and no denser than
:data:`xtalgen.evaluation.stability.MIN_VOLUME_PER_ATOM` Å³/atom (denser than any known solid: such cells
cannot end near the hull and cost the potential the most). Survivors get their spglib space group (at
0.1 Å), to compare with the relaxed structure's later.
"""

from __future__ import annotations

from typing import Any

from pymatgen.core import Structure

from xtalgen.data.structure_checks import check_structure
from xtalgen.data.symmetry import DEFAULT_SYMPREC, spacegroup_number
from xtalgen.evaluation.stability import MIN_VOLUME_PER_ATOM
from xtalgen.evaluation.validity import structural_validity


def cheap_settings(max_sites: int | None) -> dict[str, Any]:
    """The settings the cheap stage's verdict depends on (part of its stored results' key)."""
    return {"stage_version": 1, "max_sites": max_sites, "min_volume_per_atom": MIN_VOLUME_PER_ATOM,
            "symprec": DEFAULT_SYMPREC}  # fmt: skip


def cheap_check(structure: Structure, max_sites: int | None = None) -> dict[str, Any]:
    """``{"passed": bool, "reason": str, "spacegroup": int | None, "formula": str, "n_sites": int}``."""
    out: dict[str, Any] = {"passed": False, "reason": "", "spacegroup": None, "n_sites": len(structure)}
    problem = check_structure(structure, max_sites=max_sites)
    if problem is not None:
        return {**out, "reason": f"{problem[0]}: {problem[1]}"}
    ok, why = structural_validity(structure)
    if not ok:
        return {**out, "reason": f"invalid: {why}"}
    density = structure.volume / len(structure)
    if density < MIN_VOLUME_PER_ATOM:
        return {**out, "reason": f"too dense: {density:.2f} Å³/atom < {MIN_VOLUME_PER_ATOM}"}
    out.update(passed=True, formula=structure.composition.reduced_formula, spacegroup=spacegroup_number(structure))
    return out
