"""A compact file of encoded base sites: one parquet row per material, every orbit kept.

Encoding a material (spglib standardisation, orbits, Wyckoff letters) costs milliseconds; a file of
already-encoded materials lets a training run on another machine self-augment tens of thousands of
materials in seconds. Columns: ``id``, ``spacegroup``, ``lattice`` (a, b, c in Å, α, β, γ in degrees),
``species``, ``wyckoffs``, ``orbit_sizes`` (atoms per base site in the conventional cell) and ``orbits``
(all their fractional positions, flattened in base-site order, float32). The file's schema metadata
marks it (``xtalgen_format``), so readers can tell it from a prepared dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xtalgen.representations.basesites.encode import BaseSites, wrap01
from xtalgen.representations.basesites.symops import default_hall_number

FORMAT = "xtalgen-basesites"
VERSION = 1


def write_base_site_table(bases: list[BaseSites], path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``bases`` (zstd-compressed parquet); ``metadata`` is stored as JSON beside the format tag."""
    path = Path(path)
    table = pa.table({
        "id": pa.array([b.id for b in bases], pa.string()),
        "spacegroup": pa.array([b.spacegroup for b in bases], pa.int16()),
        "symprec": pa.array([b.symprec for b in bases], pa.float32()),
        "lattice": pa.array([np.asarray(b.lattice, np.float32).tolist() for b in bases], pa.list_(pa.float32())),
        "species": pa.array([list(b.species) for b in bases], pa.list_(pa.string())),
        "wyckoffs": pa.array([list(b.wyckoffs) for b in bases], pa.list_(pa.string())),
        "orbit_sizes": pa.array([[len(o) for o in b.orbits] for b in bases], pa.list_(pa.int16())),
        "orbits": pa.array([np.concatenate(b.orbits).astype(np.float32).ravel().tolist() for b in bases],
                           pa.list_(pa.float32())),
    })  # fmt: skip
    meta = {b"xtalgen_format": FORMAT.encode(), b"xtalgen_version": str(VERSION).encode(),
            b"xtalgen_metadata": json.dumps(metadata or {}).encode()}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")
    return path


def is_base_site_table(path: str | Path) -> bool:
    """Whether ``path`` is a parquet file written by :func:`write_base_site_table`."""
    path = Path(path)
    if path.suffix != ".parquet" or not path.is_file():
        return False
    meta = pq.read_schema(path).metadata or {}
    return meta.get(b"xtalgen_format") == FORMAT.encode()


def table_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata stored with the table."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"xtalgen_metadata", b"{}"))


def read_base_site_table(path: str | Path) -> list[BaseSites]:
    """The materials of a table written by :func:`write_base_site_table` (ValueError for other files)."""
    if not is_base_site_table(path):
        raise ValueError(f"{path}: not a base-site table (no {FORMAT!r} tag)")
    cols = pq.read_table(path).to_pydict()
    out = []
    for i in range(len(cols["id"])):
        sizes = np.asarray(cols["orbit_sizes"][i], dtype=np.int64)
        flat = wrap01(np.asarray(cols["orbits"][i], dtype=np.float64).reshape(-1, 3))
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        out.append(BaseSites(
            spacegroup=int(cols["spacegroup"][i]),
            hall_number=default_hall_number(int(cols["spacegroup"][i])),
            lattice=np.asarray(cols["lattice"][i], dtype=np.float64),
            species=list(cols["species"][i]),
            wyckoffs=list(cols["wyckoffs"][i]),
            orbits=[flat[bounds[k]:bounds[k + 1]] for k in range(len(sizes))],
            id=str(cols["id"][i]),
            symprec=float(cols["symprec"][i]),
        ))  # fmt: skip
    return out
