"""The outcome of post-processing one candidate (:class:`PostprocessResult`) and counts of rejection reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure


@dataclass
class PostprocessResult:
    """Outcome for one candidate (index = its position in the input).

    ``filters`` maps filter name → True/False (None = not run): ``min_distance``, ``spacegroup``,
    ``formula_size``, ``cell_size``, ``charge_neutral``, ``unique`` and, for a candidate with a condition
    formula, ``condition_formula``. ``reason`` is the first failing step ("" when accepted).
    """

    index: int
    structure: Structure | None
    conditions: dict[str, Any] = field(default_factory=dict)
    target_spacegroup: int | None = None
    formula: str = ""
    spacegroup: int | None = None
    n_atoms_before: int = 0
    #: None when the candidate was rejected before merging
    n_atoms_after: int | None = 0
    filters: dict[str, bool | None] = field(default_factory=dict)
    accepted: bool = False
    reason: str = ""
    detail: str = ""
    duplicate_of: int | None = None
    #: extra summary columns: from the ``expand`` callable (e.g. snapping moves) and the filters' values
    extra: dict[str, Any] = field(default_factory=dict)
    #: primitive cell found by spglib at symprec (used for dedupe; None if spglib failed, or not built yet)
    primitive: Structure | None = field(default=None, repr=False)
    #: the fast path's accepted results: the primitive cell as arrays (``dedupe.primitive_arrays``), built into
    #: ``primitive`` only when the dedupe compares it with another structure
    primitive_cell: tuple | None = field(default=None, repr=False)
    #: accepted only, with ``symmetrized_cif``: the CIF text and the Wyckoff template from the filters' dataset
    cif: str | None = field(default=None, repr=False)
    wyckoff_template: tuple[int, str] | None = None
    #: reduced formula of the cell the dedupe compares (``primitive``, else ``structure``), once computed
    group_formula: str | None = field(default=None, repr=False)

    def info(self) -> dict[str, Any]:
        """Flat dict for summary tables (conditions prefixed ``cond_``, filters ``filter_``)."""
        row: dict[str, Any] = {f"cond_{k}": v for k, v in self.conditions.items()}
        row.update(
            target_spacegroup=self.target_spacegroup,
            formula=self.formula,
            found_spacegroup=self.spacegroup,
            atoms_before_merge=self.n_atoms_before,
            atoms_after_merge=self.n_atoms_after,
            duplicate_of=self.duplicate_of,
            detail=self.detail,
        )
        row.update(self.extra)
        row.update({f"filter_{k}": v for k, v in self.filters.items()})
        return row


def rejection_counts(results: Sequence[PostprocessResult]) -> dict[str, int]:
    """Number of candidates per rejection reason ("accepted" for the accepted ones)."""
    counts: dict[str, int] = {}
    for r in results:
        key = "accepted" if r.accepted else r.reason
        counts[key] = counts.get(key, 0) + 1
    return counts
