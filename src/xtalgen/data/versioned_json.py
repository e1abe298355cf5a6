"""JSON files and records that carry their format version: one owner of the versioned-JSON load pattern.

Two layouts are in use: tables that name their format and version (``{"format": NAME, "version": N, ...}``:
element volumes, CrysTens configs; :func:`check_format`) and records with a ``format_version`` key
(the pretrained ``registry.json``, checkpoint ``state.json``, tagged Parquet metadata;
:func:`read_versioned_json`). Either way the file must parse and be of a version this xtalgen reads
(:func:`check_version`): a newer or unknown version is a one-line ValueError naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def read_json(path: str | Path, what: str) -> Any:
    """The parsed JSON of ``path``; ValueError ``"<path>: cannot be read as <what> (<reason>)"`` otherwise.

    ``what`` names the file with its article, e.g. ``"an element-volume table"``.
    """
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: cannot be read as {what} ({exc})") from None


def check_format(data: Any, fmt: str, version: int, what: str, *, exact: bool = False, where: str = "") -> None:
    """Check that ``data`` is a dict of format ``fmt`` at a version this xtalgen reads (<= ``version``, or
    == with ``exact``); a missing format or version is taken as the current one unless ``exact``."""
    prefix = f"{where}: " if where else ""
    if not isinstance(data, dict):
        raise ValueError(f"{prefix}not {what} (expected a JSON object)")
    found_fmt = data.get("format") if exact else data.get("format", fmt)
    if found_fmt != fmt:
        raise ValueError(f"{prefix}not {what} (format {found_fmt!r})")
    if exact and data.get("version") != version:
        raise ValueError(f"{prefix}not {what} of version {version} (version {data.get('version')!r})")
    check_version(data, version, what, where=where)


def check_version(data: Mapping[str, Any], version: int, what: str, *, key: str = "version", where: str = "") -> None:
    """Check that ``data[key]`` is a version this xtalgen reads: an integer from 1 to ``version`` (a missing
    key is taken as ``version``). ValueError ``"<where>: <what> of <key> N, written by a newer xtalgen
    (this one reads up to V); upgrade xtalgen"`` or ``"... of unknown <key> X (this xtalgen reads 1 to V)"``.
    """
    prefix = f"{where}: " if where else ""
    found = data.get(key, version)
    if isinstance(found, bool) or not isinstance(found, int) or found < 1:
        raise ValueError(f"{prefix}{what} of unknown {key} {found!r} (this xtalgen reads 1 to {version})")
    if found > version:
        raise ValueError(f"{prefix}{what} of {key} {found}, written by a newer xtalgen "
                         f"(this one reads up to {version}); upgrade xtalgen")  # fmt: skip


def read_versioned_json(path: str | Path, what: str, version: int, *, key: str = "format_version") -> dict[str, Any]:
    """The JSON object in ``path`` after :func:`check_version` (``key`` holds its version); one-line
    ValueError naming ``path`` when it cannot be read, is not an object or is of a version not read here."""
    data = read_json(path, what)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not {what} (expected a JSON object)")
    check_version(data, version, what, key=key, where=str(path))
    return data
