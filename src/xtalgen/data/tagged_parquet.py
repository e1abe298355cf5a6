"""Parquet files that carry xtalgen's JSON metadata under one schema key (datasets, tables).

One writer (atomic, metadata attached) and one metadata reader (schema only, no rows) shared by the
prepared dataset, the compact structure table and the reference-energy table; each format keeps its
own key, format version and error wording.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xtalgen.data.atomic import atomic_path
from xtalgen.data.versioned_json import check_version


def write_tagged_table(
    table: pa.Table, path: str | Path, key: bytes, meta: Mapping[str, Any], **write_options: Any
) -> Path:
    """Write ``table`` atomically with ``meta`` as JSON under ``key``; ``write_options`` go to pq.write_table."""
    target = Path(path)
    table = table.replace_schema_metadata({key: json.dumps(dict(meta))})
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, **write_options)
    return target


def read_tagged_metadata(
    path: str | Path, key: bytes, *, not_parquet: str, no_metadata: str, max_version: int | None = None
) -> dict[str, Any]:
    """The JSON metadata under ``key``, read from the file's schema alone.

    ValueError ``"<path> <not_parquet>: <reason>"`` when the file is not Parquet, ``"<path> <no_metadata>"``
    when the key is absent, and a "newer xtalgen" error when ``format_version`` exceeds ``max_version``
    (:func:`xtalgen.data.versioned_json.check_version`).
    """
    p = Path(path)
    try:
        raw = (pq.read_schema(p).metadata or {}).get(key)
    except Exception as exc:
        raise ValueError(f"{p} {not_parquet}: {exc}") from None
    if raw is None:
        raise ValueError(f"{p} {no_metadata}")
    meta = json.loads(raw)
    if max_version is not None:
        check_version(meta, max_version, "an xtalgen Parquet table", key="format_version", where=str(p))
    return meta
