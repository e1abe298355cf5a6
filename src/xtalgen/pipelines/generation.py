"""The one generation loop every family shares: sample (and post-process) -> write the folder once.

:func:`generate` asks the family (:mod:`xtalgen.pipelines.families`) for its candidates, writes
``cifs/``, ``summary.csv`` (``rejected.csv``) and ``generation.json`` with
:func:`xtalgen.data.generation_folder.write_generation`, and returns the in-memory
:class:`GenerationResult` that callers print or inspect without reading the folder back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xtalgen.data.generation_folder import Candidate, write_generation
from xtalgen.pipelines.families import Family, GenerationRequest, SamplingOptions, get_family


@dataclass
class GenerationResult:
    """Candidates of one generate call (accepted and rejected), the record and where they were written."""

    folder: Path
    summary: Path
    candidates: list[Candidate]
    record: dict[str, Any]

    @property
    def accepted(self) -> list[Candidate]:
        return [c for c in self.candidates if c.accepted]

    @property
    def rejected(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.accepted]

    def rejection_counts(self, most: int | None = None) -> list[tuple[str, int]]:
        """(reason, count) of the rejected candidates, most frequent first ("" for no reason given)."""
        return Counter(c.reason for c in self.rejected).most_common(most)

    @property
    def shortfall(self) -> bool:
        """True when accepted candidates were requested and fewer were found within the candidate limit."""
        return self.record.get("count") == "accepted" and len(self.accepted) < int(self.record.get("n", 0))


def check_request(family: Family, request: GenerationRequest) -> None:
    """Reject conditions the family does not take and values out of range (ValueError naming the entry)."""
    if request.n < 1:
        raise ValueError(f"n: must be >= 1, got {request.n}")
    for sg in request.spacegroup:
        if not 1 <= int(sg) <= 230:
            raise ValueError(f"space group numbers must be in 1..230, got {list(request.spacegroup)}")
    given = {"spacegroup": bool(request.spacegroup), "elements": bool(request.elements),
             "formula": request.formula is not None}  # fmt: skip
    for name, is_given in given.items():
        if is_given and name not in family.conditions:
            takers = [f.kind for f in _families_taking(name)]
            raise ValueError(f"--{name}: {family.kind} does not take it (models that do: {', '.join(takers) or '-'})")


def prepare(
    kind: str | Family,
    request: GenerationRequest,
    options: SamplingOptions | Mapping[str, Any] | Iterable[str] | None = None,
) -> tuple[Family, Any]:
    """The family and its validated options for ``request``; ValueError before any work when they do not fit."""
    family = get_family(kind) if isinstance(kind, str) else kind
    opts = family.parse_options(options)
    check_request(family, request)
    if family.check is not None:
        family.check(request, opts)
    return family, opts


def _families_taking(condition: str) -> list[Family]:
    from xtalgen.pipelines.families import families

    return [f for f in families().values() if condition in f.conditions]


def generate(
    kind: str | Family,
    request: GenerationRequest,
    out_dir: str | Path,
    options: SamplingOptions | Mapping[str, Any] | Iterable[str] | None = None,
) -> GenerationResult:
    """Sample ``request.n`` candidates from family ``kind`` with ``options``; write ``out_dir`` once.

    ``options``: the family's options object, a dict or ``key=value`` strings (validated by its class).
    """
    from xtalgen.evaluation.diversity import diversity_summary

    family, opts = prepare(kind, request, options)
    batch = family.sample(request, opts)
    accepted = [c for c in batch.candidates if c.accepted]
    templates = [c.wyckoff_template for c in accepted]  # computed by post-processing, or None
    known = bool(accepted) and None not in templates
    batch.record["diversity"] = diversity_summary([c.structure for c in accepted], symprec=opts.symprec,
                                                  templates=templates if known else None)  # fmt: skip
    out = Path(out_dir)
    summary = write_generation(out, batch.candidates, symprec=opts.symprec, meta=batch.record,
                               split_rejected=batch.split_rejected)  # fmt: skip
    for write in batch.extra_files:
        write(out)
    return GenerationResult(out, summary, batch.candidates, batch.record)
