"""Append-only JSON-lines cache of per-sample results, so interrupted work resumes where it stopped."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from xtalgen.data.content_hash import structure_hash
from xtalgen.data.json_values import json_ready


def structure_key(structure: Structure, decimals: int = 5) -> str:
    """A content hash of a structure (:func:`xtalgen.data.content_hash.structure_hash`)."""
    return structure_hash(structure, decimals)


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
        value = json_ready(value)
        self._data[key] = value
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"k": key, "v": value}, separators=(",", ":")) + "\n")
            fh.flush()
