"""The screen's verdict on relaxed candidates: E_hull, SUN / MetaSUN, symmetry kept, unique, novel, rank.

SUN: E_hull ≤ 0 (:data:`xtalgen.evaluation.stability.STABLE_EHULL`), unique and novel; MetaSUN: E_hull ≤
0.1 eV/atom (:data:`~xtalgen.evaluation.stability.METASTABLE_EHULL`), unique and novel. Unique: no relaxed
candidate of lower E_hull matches it (:func:`xtalgen.postprocess.dedupe.find_duplicates`); novel: the
relaxed structure matches no known structure (unknown, and not held against it, without a known set).
Symmetry kept: spglib's space group (0.1 Å) of the relaxed structure equals that of the candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pymatgen.core import Composition, Structure

from xtalgen.data.symmetry import spacegroup_number
from xtalgen.evaluation.stability import METASTABLE_EHULL, STABLE_EHULL
from xtalgen.pipelines.screen.known import KnownStructures
from xtalgen.postprocess.dedupe import find_duplicates


def assess(
    kept: Sequence[tuple[str, Structure, str]],
    rows: dict[str, dict[str, Any]],
    hull: Callable[[list[tuple[Composition, float]]], list[tuple[float, str]]],
    known: KnownStructures | None,
    drop: Callable[[str, str, str], None],
) -> list[dict[str, Any]]:
    """The shortlist rows of the relaxed ``(id, structure, hash)`` items, ranked: SUN, then MetaSUN, then E_hull.

    ``rows[id]`` holds ``energy_per_atom`` (eV/atom) and ``spacegroup_generated``; ``hull`` gives (E_hull,
    note) per (composition, energy per atom); ``drop(id, stage, reason)`` is told of items without an E_hull.
    """
    hulls = hull([(s.composition, float(rows[sid]["energy_per_atom"])) for sid, s, _ in kept])
    scored = []
    for (sid, structure, _), (e_hull, note) in zip(kept, hulls, strict=True):
        if not np.isfinite(e_hull):
            drop(sid, "e_hull", f"no E_hull: {note}")
            continue
        row = rows[sid]
        row["e_hull"] = e_hull
        row["spacegroup_relaxed"] = spacegroup_number(structure)
        row["symmetry_kept"] = row["spacegroup_relaxed"] is not None and \
            row["spacegroup_relaxed"] == row["spacegroup_generated"]  # fmt: skip
        scored.append((sid, structure))
    scored.sort(key=lambda item: rows[item[0]]["e_hull"])
    dup = find_duplicates([s for _, s in scored])  # lowest E_hull of each relaxed duplicate group is unique
    final = []
    for (sid, structure), d in zip(scored, dup, strict=True):
        row = rows[sid]
        row["duplicate_of"] = scored[d][0] if d is not None else ""
        row["unique"] = d is None
        if known is not None:
            hit = known.match(structure)
            row["novel"], row["matched_known_id"] = bool(hit["novel"]), hit["matched_id"]
        else:
            row["novel"], row["matched_known_id"] = None, ""
        novel = row["novel"] is not False
        row["sun"] = bool(row["e_hull"] <= STABLE_EHULL and row["unique"] and novel)
        row["metasun"] = bool(row["e_hull"] <= METASTABLE_EHULL and row["unique"] and novel)
        final.append(row)
    final.sort(key=lambda r: (not r["sun"], not r["metasun"], r["e_hull"]))
    for rank, row in enumerate(final, start=1):
        row["rank"] = rank
    return final
