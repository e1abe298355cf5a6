"""Resume a relaxation run only where nothing changed: records are keyed by structure content and settings.

``xtalgen relax`` appends one record per id to ``relax.jsonl``. A record is reused on a re-run only when
the id's structure has the same content hash (:func:`xtalgen.data.content_hash.structure_hash`) and every
setting that changes the result (potential and its version, optimiser, steps, fmax, cell filter: the
model's ``relax_settings``) is the same; otherwise the id is relaxed again and the reason is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from pymatgen.core import Structure

from xtalgen.data.content_hash import structure_hash
from xtalgen.postprocess.resumable_jobs import read_jsonl


class ResumableRelaxer(Protocol):
    """An energy model whose relaxations can be resumed (e.g. ``CHGNetEnergyModel``)."""

    @property
    def relax_settings(self) -> dict[str, Any]: ...

    def relax(
        self,
        items: Sequence[tuple[str, Any]],
        *,
        cache_path: Path | None,
        workers: int = 1,
        progress: bool = True,
        item_meta: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, dict[str, Any]]: ...


def resume_fields(structure: Structure, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a record must carry to be reused for ``structure`` relaxed with ``settings``."""
    return {"structure_hash": structure_hash(structure), "settings": dict(settings)}


def stale_reason(record: Mapping[str, Any], fields: Mapping[str, Any]) -> str | None:
    """Why a recorded relaxation cannot be reused for ``fields`` (None when it can)."""
    if "structure_hash" not in record or "settings" not in record:
        return "the earlier record has no structure hash or settings (written by an older xtalgen)"
    if record["structure_hash"] != fields["structure_hash"]:
        return "the structure differs from the one relaxed before under this id"
    old, new = record["settings"] or {}, fields["settings"]
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return f"settings changed ({', '.join(changed)})" if changed else None


def relax_resumable(
    model: ResumableRelaxer,
    items: Sequence[tuple[str, Structure]],
    cache_path: Path,
    *,
    workers: int = 1,
    progress: bool = True,
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Relax ``(id, structure)`` items, reusing records in ``cache_path`` only where structure and settings
    match; return (records by id, {id: why its earlier record was not reused})."""
    fields = {sid: resume_fields(s, model.relax_settings) for sid, s in items}
    previous = read_jsonl(cache_path)
    stale = {sid: why for sid in fields if sid in previous
             and (why := stale_reason(previous[sid], fields[sid])) is not None}  # fmt: skip
    records = model.relax(items, cache_path=cache_path, workers=workers, progress=progress, item_meta=fields)
    return records, stale
