"""Small JSON files that name their format and version (``{"format": NAME, "version": N, ...}``).

One reader for xtalgen's versioned JSON tables (element volumes, CrysTens configs): the file must parse,
name the expected format and be of a version this xtalgen reads.
"""

from __future__ import annotations

import json
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
    found = data.get("version") if exact else data.get("version", version)
    if exact and found != version:
        raise ValueError(f"{prefix}not {what} of version {version} (version {found!r})")
    if not exact and found > version:
        raise ValueError(f"{prefix}{what} of version {found}, newer than this xtalgen reads ({version})")
