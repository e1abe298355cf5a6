"""The structure matcher for uniqueness and novelty (pymatgen StructureMatcher, standard tolerances).

StructureMatcher reduces both structures (primitive cell, Niggli) on every ``fit``; here each
structure is reduced once (:func:`reduced`) and fitted with ``skip_structure_reduction=True``, which
gives the same verdicts. Without supercell matching, reduced structures with different site counts
never match, so that check comes first.
"""

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


def reduced(structure: Structure) -> Structure:
    """Primitive, Niggli-reduced cell, as StructureMatcher reduces it before fitting (unchanged on failure)."""
    try:
        return structure.get_primitive_structure().get_reduced_structure(reduction_algo="niggli")
    except Exception:  # degenerate cells: let the matcher see the cell as given
        return structure


def matches_reduced(a: Structure, b: Structure) -> bool:
    """True when pymatgen matches two already :func:`reduced` structures (a failed fit counts as different)."""
    if len(a) != len(b):
        return False
    try:
        return bool(structure_matcher().fit(a, b, skip_structure_reduction=True))
    except Exception:  # lattice search can fail on degenerate cells
        return False


def matches(a: Structure, b: Structure) -> bool:
    """True when pymatgen considers ``a`` and ``b`` the same structure."""
    return matches_reduced(reduced(a), reduced(b))


def first_match(structure: Structure, candidates: Sequence[Structure]) -> int:
    """Index of the first *reduced* candidate matching the *reduced* ``structure``, or -1."""
    for j, other in enumerate(candidates):
        if matches_reduced(structure, other):
            return j
    return -1
