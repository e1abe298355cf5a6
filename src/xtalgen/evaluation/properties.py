"""Per-structure descriptors compared between generated and reference sets (lengths Å, angles °, g/cm³)."""

from __future__ import annotations

from typing import Any

from pymatgen.core import Structure

#: Scalar descriptors returned by :func:`structure_properties` (the keys the distribution metrics use).
PROPERTY_KEYS = (
    "a", "b", "c", "alpha", "beta", "gamma", "volume", "density", "nsites", "nelements", "spacegroup",
)  # fmt: skip


def spacegroup_number(structure: Structure, symprec: float = 0.1) -> int:
    """International space-group number found by spglib at ``symprec`` (Å); 1 when analysis fails (a degenerate
    cell has no symmetry to report)."""
    from xtalgen.data.symmetry import spacegroup_number as found

    return found(structure, symprec) or 1


def structure_properties(structure: Structure, symprec: float = 0.1) -> dict[str, Any]:
    """Lattice lengths (Å) and angles (°), volume (Å³), density (g/cm³), site/element counts,
    space group (spglib at ``symprec``), reduced formula, chemical system and atomic numbers of all sites."""
    lat = structure.lattice
    comp = structure.composition
    return {
        "a": float(lat.a),
        "b": float(lat.b),
        "c": float(lat.c),
        "alpha": float(lat.alpha),
        "beta": float(lat.beta),
        "gamma": float(lat.gamma),
        "volume": float(lat.volume),
        "density": float(structure.density) if lat.volume > 0 else float("nan"),
        "nsites": len(structure),
        "nelements": len(comp.elements),
        "spacegroup": spacegroup_number(structure, symprec),
        "formula": comp.reduced_formula,
        "chemsys": comp.chemical_system,
        "atomic_numbers": [int(site.specie.Z) for site in structure],
    }


def reduced_cell(structure: Structure, symprec: float = 0.1) -> Structure:
    """The primitive cell (spglib at ``symprec`` Å), Niggli-reduced: one cell per crystal whatever cell
    it was written in (conventional, primitive, supercell). The Niggli-reduced given cell when spglib fails."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        primitive = SpacegroupAnalyzer(structure, symprec=symprec).find_primitive()
    except Exception:  # spglib gives up on degenerate cells
        primitive = None
    try:
        return (primitive or structure).get_reduced_structure(reduction_algo="niggli")
    except Exception:  # Niggli reduction fails on flat cells
        return primitive or structure


def reduced_cell_properties(structure: Structure, symprec: float = 0.1) -> dict[str, Any]:
    """:func:`structure_properties` of the :func:`reduced_cell` of ``structure``."""
    return structure_properties(reduced_cell(structure, symprec), symprec=symprec)
