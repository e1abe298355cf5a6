"""Records passed between readers, dataset preparation and the rest of xtalgen."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pymatgen.core import Structure

OnError = Literal["skip", "raise"]

#: Reasons an entry can be rejected; reports and tests use these exact strings.
REJECTION_REASONS = (
    "unparseable",
    "partial occupancy",
    "disordered",
    "too many sites",
    "unsupported element",
    "timeout",
    "empty",
    "symmetry failed",
    "filtered",
    "duplicate id",
    "degenerate cell",
    "non-finite numbers",
    "impossible cell",
    "overlapping atoms",
    "no element symbols",
    "no atoms in block",
    "not a structure",
    "unreadable file",
    "crashed the parser",
)


class EntryRejected(Exception):
    """Raised by a reader for input that is well understood but unusable; becomes a rejection."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StructureReadError(ValueError):
    """Raised (with ``on_error="raise"``) for the first entry that cannot be used."""

    def __init__(self, entry_id: str, reason: str, detail: str = "") -> None:
        self.entry_id = entry_id
        self.reason = reason
        self.detail = detail
        msg = f"{entry_id}: {reason}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


@dataclass
class StructureRecord:
    """One structure read from a source: an id, the pymatgen Structure, extra columns."""

    id: str
    structure: Structure
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    """An entry that was not used, with the reason (one of ``REJECTION_REASONS``)."""

    id: str
    reason: str
    detail: str = ""


@dataclass
class ReadReport:
    """Counts of accepted entries and the list of rejected ones with their reasons."""

    accepted: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, entry_id: str, reason: str, detail: str = "") -> None:
        self.rejections.append(Rejection(str(entry_id), reason, " ".join(detail.split())[:500]))

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected

    def counts_by_reason(self) -> dict[str, int]:
        return dict(Counter(r.reason for r in self.rejections).most_common())

    def merge(self, other: ReadReport) -> None:
        self.accepted += other.accepted
        self.rejections.extend(other.rejections)

    def to_csv(self, path: str) -> None:
        """Write the rejections as CSV (id, reason, detail), atomically."""
        import csv

        from xtalgen.data.atomic import atomic_write

        with atomic_write(path, mode="w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "reason", "detail"])
            for r in self.rejections:
                writer.writerow([r.id, r.reason, r.detail])
