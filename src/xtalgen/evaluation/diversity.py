"""Per-run diversity of generated structures: space groups and Wyckoff templates.

A structure's Wyckoff template is its space group and the sorted sequence of the Wyckoff letters of its
symmetry-independent sites (spglib at ``symprec``), e.g. ``221:a b c`` for cubic perovskite: two
structures share a template when they fill the same Wyckoff positions of the same group, whatever the
elements. Reported per run: the share of the most frequent space group, the number of distinct space
groups and of distinct templates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import spglib
from pymatgen.core import Structure

from xtalgen.data.symmetry import wyckoff_template_of


def wyckoff_template(structure: Structure, symprec: float = 0.1) -> tuple[int, str] | None:
    """(space group number, sorted Wyckoff letters of the independent sites) or None when spglib fails."""
    cell = (np.asarray(structure.lattice.matrix), np.asarray(structure.frac_coords),
            np.array([site.specie.Z for site in structure], dtype=np.int64))  # fmt: skip
    try:
        ds = spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception:  # spglib raises on degenerate cells
        return None
    return None if ds is None else wyckoff_template_of(ds)


def diversity_summary(
    structures: Iterable[Structure | None],
    symprec: float = 0.1,
    templates: Iterable[tuple[int, str] | None] | None = None,
) -> dict[str, Any]:
    """``{"n", "top_spacegroup", "top_spacegroup_share", "n_spacegroups", "n_templates"}`` of the structures
    (those spglib cannot analyse count in ``n`` only; shares are fractions of the analysed ones).
    ``templates``: the structures' :func:`wyckoff_template` values, already known (``structures`` is then
    not read)."""
    if templates is None:
        templates = [wyckoff_template(s, symprec) for s in structures if s is not None]
    templates = list(templates)
    n = len(templates)
    found = [t for t in templates if t is not None]
    groups = Counter(sg for sg, _ in found)
    top = groups.most_common(1)
    return {
        "n": n,
        "top_spacegroup": top[0][0] if top else None,
        "top_spacegroup_share": round(top[0][1] / len(found), 4) if top else None,
        "n_spacegroups": len(groups),
        "n_templates": len({f"{sg}:{letters}" for sg, letters in found}),
    }


def format_diversity(summary: dict[str, Any]) -> str:
    """One line for the console."""
    if not summary.get("n_spacegroups"):
        return "diversity: no accepted structure"
    return (f"diversity: {summary['n_spacegroups']} space groups, {summary['n_templates']} Wyckoff templates; "
            f"most frequent space group {summary['top_spacegroup']} "
            f"({100 * summary['top_spacegroup_share']:.1f} % of {summary['n']})")
