"""Is a candidate one of the known structures? (StructureMatcher, as :mod:`xtalgen.evaluation.novelty`.)

The known set is any reference source :func:`xtalgen.evaluation.sources.load_reference` reads (a prepared
dataset, a CSV with a ``cif`` column such as the Materials Project table, a folder). A candidate is only
compared with known structures of the same reduced formula, each reduced once
(:func:`xtalgen.evaluation.matching.reduced`) the first time a candidate needs it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from xtalgen.evaluation.matching import first_match, reduced
from xtalgen.evaluation.sources import ReferenceSet, load_reference


class KnownStructures:
    """A known-structure set, matched by formula; ``fingerprint`` identifies it in stored results' keys."""

    def __init__(self, source: str | Path | ReferenceSet) -> None:
        self.reference = load_reference(source, name="known")
        self.fingerprint = self.reference.fingerprint
        self._by_formula: dict[str, list[int]] = defaultdict(list)
        for j, formula in enumerate(self.reference.formulas):
            self._by_formula[formula].append(j)
        self._reduced: dict[int, Structure] = {}

    def __len__(self) -> int:
        return len(self.reference)

    def _candidate(self, j: int) -> Structure:
        if j not in self._reduced:
            self._reduced[j] = reduced(self.reference.structure(j))
        return self._reduced[j]

    def match(self, structure: Structure) -> dict[str, Any]:
        """``{"novel": bool, "matched_id": str}`` (the first known structure it matches, or "")."""
        cands = self._by_formula.get(structure.composition.reduced_formula, [])
        if not cands:
            return {"novel": True, "matched_id": ""}
        hit = first_match(reduced(structure), [self._candidate(j) for j in cands])
        return {"novel": hit < 0, "matched_id": self.reference.ids[cands[hit]] if hit >= 0 else ""}
