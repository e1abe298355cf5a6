"""The per-sample job behind the cheap metrics: validity checks and descriptors of one structure."""

from __future__ import annotations

from typing import Any

from xtalgen.evaluation.composition_validity import sample_composition_validity
from xtalgen.evaluation.properties import structure_properties
from xtalgen.evaluation.sources import to_structure
from xtalgen.evaluation.validity import sample_structural_validity

#: spglib tolerance (Å) for the space group reported for each sample (the project default).
SYMPREC = 0.1


def basic_features(payload: Any) -> dict[str, Any]:
    """Structural and compositional validity plus :func:`structure_properties` of one structure."""
    structure = to_structure(payload)
    record: dict[str, Any] = {}
    record.update(sample_structural_validity(structure))
    record.update(sample_composition_validity(structure.composition))
    record.update(structure_properties(structure, symprec=SYMPREC))
    return record


def reduced_cell_features(payload: Any) -> dict[str, Any]:
    """Descriptors of the primitive Niggli-reduced cell of one structure (distributions compare these)."""
    from xtalgen.evaluation.properties import reduced_cell_properties

    return reduced_cell_properties(to_structure(payload), symprec=SYMPREC)
