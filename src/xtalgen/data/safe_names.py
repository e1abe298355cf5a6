"""The one rule that turns an entry id into a file or folder name inside an output folder.

Ids come from users' CSVs, file names and generators, so they may hold path separators, be ``.`` or
``..``, start with a dot, or be hundreds of characters long. :func:`safe_filename` keeps an ordinary id
(ASCII letters, digits, ``-``, ``_``, ``.``; not starting with a dot; at most :data:`MAX_NAME_LENGTH`
characters) unchanged; any other id has its other characters replaced by ``_``, is cut to the length
limit and gets a hash of the whole original id appended, so two different ids never share a name. The
original id is what tables (summary.csv, per_sample.csv, candidates.csv) record.
"""

from __future__ import annotations

import hashlib
import re

#: Longest name returned (characters, all ASCII). File systems allow 255 bytes; this leaves room for a
#: suffix (``.cif``), a rank prefix and the temporary name of an atomic write.
MAX_NAME_LENGTH = 100

#: Hex digits of the SHA-1 of the original id appended to a changed name.
HASH_LENGTH = 10

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
#: Device names Windows refuses as file names (any case, with or without an extension).
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_filename(entry_id: object, max_length: int = MAX_NAME_LENGTH) -> str:
    """A file name for ``entry_id`` that stays inside its folder: no separators, never ``.``/``..`` or
    hidden, at most ``max_length`` characters; unchanged for ordinary ids, else suffixed with a hash."""
    if max_length < HASH_LENGTH + 2:
        raise ValueError(f"max_length must be ≥ {HASH_LENGTH + 2}, got {max_length}")
    text = str(entry_id)
    name = _UNSAFE.sub("_", text)
    name = re.sub(r"^\.+", lambda m: "_" * len(m.group()), name)  # no ".", "..", hidden files
    reserved = name.split(".")[0].upper() in _RESERVED
    if name == text and name and len(name) <= max_length and not reserved:
        return name
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    stem = name[: max_length - HASH_LENGTH - 1].rstrip(".") or "id"
    return f"{stem}-{digest}"


def unique_filenames(entry_ids: list[object], max_length: int = MAX_NAME_LENGTH) -> list[str]:
    """:func:`safe_filename` of each id; a repeated id gets ``~2``, ``~3``... appended (``~`` never occurs
    in a safe name, so these cannot collide with another id's name)."""
    used: dict[str, int] = {}
    names = []
    for entry_id in entry_ids:
        name = safe_filename(entry_id, max_length)
        used[name] = used.get(name, 0) + 1
        names.append(name if used[name] == 1 else f"{name}~{used[name]}")
    return names
