"""Append-only JSON-lines cache of per-sample results, so interrupted work resumes where it stopped."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.data.content_hash import structure_hash


def structure_key(structure: Structure, decimals: int = 5) -> str:
    """A content hash of a structure (:func:`xtalgen.data.content_hash.structure_hash`)."""
    return structure_hash(structure, decimals)


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and NaN to plain JSON values (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonlCache:
    """A dict-like store ``key -> JSON value`` backed by one append-only ``.jsonl`` file.

    Each finished result is appended and flushed at once; a line cut short by an interruption is
    ignored on the next load. ``path=None`` keeps everything in memory.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._data: dict[str, Any] = {}
        if self.path is not None and self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                        self._data[row["k"]] = row["v"]
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue  # partial line from an interrupted write

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` and append it to the file immediately."""
        value = _jsonable(value)
        self._data[key] = value
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"k": key, "v": value}, separators=(",", ":")) + "\n")
            fh.flush()
