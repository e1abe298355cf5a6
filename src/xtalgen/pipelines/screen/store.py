"""Per-structure stage results on disk, keyed by structure content and stage settings.

A result lives in ``<root>/<stage>/<structure hash>-<settings hash>.json``: the same structure (content hash
of cell, species and positions, :func:`xtalgen.data.content_hash.structure_hash`) screened with the same
settings finds its earlier result whatever its id, and a changed setting (potential, steps, thresholds)
computes a new one. Files are written atomically, so a killed worker leaves no half-written result, and
writing one twice (a task re-run after its worker died) writes the same thing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xtalgen.data.atomic import atomic_write
from xtalgen.data.json_values import json_ready


def settings_hash(settings: Mapping[str, Any]) -> str:
    """SHA-1 (12 hex digits) of the settings as sorted JSON."""
    return hashlib.sha1(json.dumps(dict(settings), sort_keys=True, default=str).encode()).hexdigest()[:12]


def result_path(root: str | Path, stage: str, structure_key: str, settings: Mapping[str, Any]) -> Path:
    """Where the result of ``stage`` for the structure with content hash ``structure_key`` is kept."""
    return Path(root) / stage / f"{structure_key}-{settings_hash(settings)}.json"


def read_result(path: str | Path) -> dict[str, Any] | None:
    """The stored result, or None when there is none (or it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as fh:
            out = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return None
    return out if isinstance(out, dict) else None


def write_result(path: str | Path, record: Mapping[str, Any]) -> None:
    """Write one result atomically (non-finite floats become null)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target) as fh:
        json.dump(json_ready(dict(record)), fh, separators=(",", ":"))
