"""The structure matcher for uniqueness and novelty (pymatgen StructureMatcher, standard tolerances)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pymatgen.core import Structure

#: Tolerances used by CDVAE/DiffCSP-style benchmarks: lattice 0.2, site 0.3, angle 5°.
MATCHER_KWARGS: dict[str, Any] = {"ltol": 0.2, "stol": 0.3, "angle_tol": 5.0}


@lru_cache(maxsize=1)
def structure_matcher() -> Any:
    """A StructureMatcher with :data:`MATCHER_KWARGS` (primitive-cell reduction and volume scaling on)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(**MATCHER_KWARGS)


def matches(a: Structure, b: Structure) -> bool:
    """True when pymatgen considers ``a`` and ``b`` the same structure (a failed fit counts as different)."""
    try:
        return bool(structure_matcher().fit(a, b))
    except Exception:  # lattice reduction can fail on degenerate cells
        return False


def first_match(structure: Structure, candidates: Sequence[Structure]) -> int:
    """Index of the first candidate matching ``structure``, or -1."""
    for j, other in enumerate(candidates):
        if matches(structure, other):
            return j
    return -1
