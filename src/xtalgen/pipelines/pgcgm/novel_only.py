"""``novel_only``: reject accepted PGCGM candidates that are already known structures.

The known set is the table the evaluation's novelty uses (:func:`xtalgen.evaluation.known_structures.
load_known_structures`, loaded once per run) and the rule is its own
(:meth:`~xtalgen.evaluation.known_structures.KnownStructures.match_structure`: same reduced formula and
Wyckoff decoration). Only candidates that passed the filters and the dedupe are checked, in the calling
process (a dictionary look-up after one spglib call per structure), so the table never goes to the
post-processing workers. A known one is rejected as :data:`REASON_KNOWN`; every row of a run with the
option gets ``known_id`` (the matched id, "" otherwise) and ``filter_novel`` (None when not checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xtalgen.evaluation.known_structures import KnownStructures, load_known_structures

REASON_KNOWN = "known structure"


def load_known() -> KnownStructures:
    """The known-structures table the evaluation uses (``$XTALGEN_KNOWN_STRUCTURES`` or the shipped one)."""
    try:
        return load_known_structures()
    except FileNotFoundError as exc:
        raise ValueError(f"novel_only: {exc}") from None


def reject_known(results: Sequence[Any], known: KnownStructures, since: int = 0) -> int:
    """Reject in place the accepted ``results[since:]`` that are known structures; return how many."""
    dropped = 0
    for r in results[since:]:
        r.extra.setdefault("known_id", "")
        r.filters.setdefault("novel", None)
        if not r.accepted or r.structure is None:
            continue
        hit = known.match_structure(r.structure)
        r.filters["novel"] = hit is None
        if hit is not None:
            r.accepted, r.reason, r.extra["known_id"] = False, REASON_KNOWN, hit
            r.detail = f"matches {hit} of {known.meta.get('source', 'the known-structures table')}"
            dropped += 1
    return dropped
