"""The structure matcher for uniqueness and novelty (pymatgen StructureMatcher, standard tolerances).

StructureMatcher reduces both structures (primitive cell, Niggli) on every ``fit``; here each
structure is reduced once (:func:`reduced`) and fitted with ``skip_structure_reduction=True``, which
gives the same verdicts. Without supercell matching, reduced structures with different site counts
never match, so that check comes first. Reduced training structures are cached on disk in the compact
form of :func:`pack` (see :mod:`xtalgen.evaluation.novelty`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from xtalgen.evaluation.sources import to_structure

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


def pack(structure: Structure) -> dict[str, Any]:
    """A compact JSON-able form of a structure (lattice rows Å, species, fractional coordinates) that
    :func:`unpack` turns back into an equal Structure (floats round-trip exactly through JSON).
    Site properties are dropped (StructureMatcher ignores them); disordered structures keep pymatgen's
    full dict."""
    if not structure.is_ordered:
        return {"dict": structure.as_dict()}
    return {
        "lattice": structure.lattice.matrix.tolist(),
        "species": [str(site.specie) for site in structure],
        "frac": structure.frac_coords.tolist(),
    }


def unpack(data: dict[str, Any]) -> Structure:
    """The Structure packed by :func:`pack`."""
    if "dict" in data:
        return Structure.from_dict(data["dict"])
    return Structure(data["lattice"], data["species"], data["frac"])


def reduce_job(payload: Any) -> dict[str, Any]:
    """Worker job: the :func:`reduced` form of a structure payload (Structure or CIF text), packed."""
    return pack(reduced(to_structure(payload)))


def lattices_compatible(a: Structure, b: Structure) -> bool:
    """False only when StructureMatcher's ``fit(a, b, skip_structure_reduction=True)`` is bound to fail
    at its lattice stage: for two cells with the same number of sites it rescales both to a common
    volume and needs a unimodular mapping of ``a``'s lattice onto ``b``'s within ltol / angle_tol. This
    repeats exactly that rescaling and pymatgen's ``Lattice.find_all_mappings`` search, without the
    structure copies and species bookkeeping that make a full fit ~5x dearer."""
    ratio = (b.volume / a.volume) ** (1 / 6)
    la = Lattice(a.lattice.matrix * ratio)
    lb = Lattice(b.lattice.matrix / ratio)
    mappings = la.find_all_mappings(
        lb, ltol=MATCHER_KWARGS["ltol"], atol=MATCHER_KWARGS["angle_tol"], skip_rotation_matrix=True
    )
    return any(math.isclose(abs(np.linalg.det(scale)), 1, abs_tol=0.5, rel_tol=0) for _, _, scale in mappings)


def matches_reduced(a: Structure, b: Structure, precheck: bool = True) -> bool:
    """True when pymatgen matches two already :func:`reduced` structures (a failed fit counts as different).

    ``precheck`` first rejects pairs with different site counts or no lattice mapping
    (:func:`lattices_compatible`), which the full fit would reject too."""
    if len(a) != len(b):
        return False
    try:
        if precheck and not lattices_compatible(a, b):
            return False
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
