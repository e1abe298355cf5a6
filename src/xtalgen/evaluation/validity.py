"""Structural validity: every interatomic distance ≥ 0.5 Å and cell volume ≥ 0.1 Å³ (CDVAE's rule)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.data.structure_checks import MIN_INTERATOMIC_DISTANCE

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: Minimum allowed distance between two atoms, periodic images included (Å); the same floor the data checks and the
#: generation distance filter use.
MIN_DISTANCE = MIN_INTERATOMIC_DISTANCE
#: Minimum allowed cell volume (Å³).
MIN_VOLUME = 0.1


def structural_validity(
    structure: Structure, min_distance: float = MIN_DISTANCE, min_volume: float = MIN_VOLUME
) -> tuple[bool, str]:
    """``(valid, reason)``; reason is ``""`` when valid, else why not (with the offending value).

    Distances include periodic images of the same atom, so a lattice vector shorter than
    ``min_distance`` also makes a structure invalid.
    """
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)) or not np.all(np.isfinite(structure.frac_coords)):
        return False, "non-finite lattice or coordinates"
    volume = float(structure.lattice.volume)
    if not volume >= min_volume:
        return False, f"volume {volume:.3g} Å³ < {min_volume}"
    if len(structure) == 0:
        return False, "no atoms"
    _, _, _, dists = structure.get_neighbor_list(min_distance, exclude_self=True)
    dists = dists[dists < min_distance - 1e-8]  # exactly min_distance is allowed
    if len(dists):
        return False, f"atoms {float(np.min(dists)):.3f} Å apart (< {min_distance})"
    return True, ""


def sample_structural_validity(structure: Structure | None) -> dict[str, Any]:
    """Per-sample record ``{"struct_valid": bool, "struct_reason": str}`` (a missing structure is invalid)."""
    if structure is None:
        return {"struct_valid": False, "struct_reason": "no structure"}
    ok, reason = structural_validity(structure)
    return {"struct_valid": ok, "struct_reason": reason}


class StructuralValidity:
    """Fraction of all submitted samples that are structurally valid."""

    name = "struct_valid"
    needs = frozenset({"structures"})

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        return ctx.valid_mask().astype(float)

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        return {"validity.structural": float(np.mean(values)) if values is not None and len(values) else 0.0}
