"""The reference hull's energy (eV/atom) at each structure's composition, for early stopping of relaxations.

E_hull of a structure with energy E (eV/atom) is ``E - hull point`` (the hull is a fixed plane at a fixed
composition), so a relaxation can estimate E_hull at every step from one number per structure; the energy
model's early-stop rule (:mod:`xtalgen.postprocess.early_stop`) takes these by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.evaluation.reference_table import ReferenceTable


def hull_points(items: Sequence[tuple[str, Structure]], table: ReferenceTable) -> dict[str, float]:
    """The hull energy (eV/atom) of ``table`` at each ``(key, structure)``'s composition; keys whose system
    has no hull (a missing elemental reference) are left out."""
    from xtalgen.evaluation.stability import hull_energies, subsystems

    if not items:
        return {}
    wanted = {sub for _, s in items for sub in subsystems(el.symbol for el in s.composition.elements)}
    hulls = hull_energies([(s.composition, 0.0) for _, s in items], table.references(wanted))
    return {key: -float(e) for (key, _), (e, _) in zip(items, hulls, strict=True) if np.isfinite(e)}


def early_stop_hull(model: Any, table: ReferenceTable | None, items: Sequence[tuple[str, Structure]]) -> dict:
    """``{"hull": hull points}`` for ``model.relax`` when the model stops unstable structures early and there is
    a reference table; else ``{}`` (nothing is stopped)."""
    if getattr(model, "early_stop", None) is None or table is None:
        return {}
    return {"hull": hull_points(items, table)}
