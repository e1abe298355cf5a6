"""SHA-256 of files: the checksum recorded for downloads, shipped models and reference tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: Bytes read per step.
CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()
