"""Compact structure tables: many crystal structures in one small Parquet file (no symmetry data).

Made to ship a model's training structures with the model (novelty and distribution references
without the dataset). One row per structure: ``id`` (str), ``formula`` (reduced formula),
``spacegroup`` (int16, spglib at the source's ``symprec``), ``lattice`` (9 × float32, rows a, b, c
in Å), ``numbers`` (uint8 atomic numbers per site) and ``frac_coords`` (3 × float32 per site,
flattened). float32 keeps lattice vectors to ~1e-6 Å and positions to ~1e-6 Å in a 20 Å cell, far
below the tolerances of structure matching (0.2 / 0.3) and spglib (0.1 Å).

File metadata (JSON under the key ``xtalgen.structures``): ``format_version``, ``n_structures``,
``source`` (where the rows came from), ``source_sha256``, ``symprec`` and free-form fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pymatgen.core import Lattice, Structure

from xtalgen.data.tagged_parquet import read_tagged_metadata, write_tagged_table

METADATA_KEY = b"xtalgen.structures"
FORMAT_VERSION = 1
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("formula", pa.string()),
        ("spacegroup", pa.int16()),
        ("lattice", pa.list_(pa.float32(), 9)),
        ("numbers", pa.list_(pa.uint8())),
        ("frac_coords", pa.list_(pa.float32())),
    ]
)
#: g/cm³ per (amu / Å³).
_AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


@lru_cache(maxsize=1)
def _atomic_masses() -> np.ndarray:
    """Atomic mass (amu) by atomic number (index 0 unused)."""
    from pymatgen.core import Element

    masses = np.zeros(256)
    for el in Element:
        masses[el.Z] = float(el.atomic_mass)
    return masses


def structure_table_from_dataset(ds: Any, rows: Sequence[int] | None = None) -> pa.Table:
    """Arrow table (the compact schema) of rows ``rows`` (default: all) of a PreparedDataset."""
    idx = np.arange(len(ds)) if rows is None else np.asarray(rows, dtype=int)
    frame = ds.frame
    lattices, numbers, coords = [], [], []
    for i in idx:
        matrix, frac, z = ds.arrays(int(i))
        if z.size and (z.min() < 1 or z.max() > 255):
            raise ValueError(f"entry {frame['id'].iat[i]}: atomic numbers must be 1..255, got {sorted(set(z))}")
        lattices.append(np.asarray(matrix, dtype=np.float32).reshape(9))
        numbers.append(np.asarray(z, dtype=np.uint8))
        coords.append(np.asarray(frac, dtype=np.float32).reshape(-1))
    return pa.table(
        {
            "id": pa.array([str(v) for v in frame["id"].to_numpy()[idx]], pa.string()),
            "formula": pa.array([str(v) for v in frame["formula"].to_numpy()[idx]], pa.string()),
            "spacegroup": pa.array(frame["spacegroup"].to_numpy()[idx].astype(np.int16), pa.int16()),
            "lattice": pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(lattices) if lattices else
                                                                  np.zeros(0, np.float32)), 9),
            "numbers": pa.array(numbers, pa.list_(pa.uint8())),
            "frac_coords": pa.array(coords, pa.list_(pa.float32())),
        },
        schema=SCHEMA,
    )  # fmt: skip


def write_structure_table(table: pa.Table, path: str | Path, meta: Mapping[str, Any]) -> Path:
    """Write a compact structure table atomically (Parquet, zstd level 19) with ``meta``."""
    out = {**meta, "format_version": FORMAT_VERSION, "n_structures": table.num_rows}
    return write_tagged_table(table.cast(SCHEMA), path, METADATA_KEY, out, compression="zstd",
                              compression_level=19, use_dictionary=["formula"])  # fmt: skip


def is_structure_table(path: str | Path) -> bool:
    """True when ``path`` is a Parquet file with compact-structure-table metadata."""
    p = Path(path)
    if not (p.is_file() and p.suffix.lower() in (".parquet", ".pq")):
        return False
    try:
        return METADATA_KEY in (pq.read_schema(p).metadata or {})
    except Exception:
        return False


class StructureTable:
    """Structures loaded from a compact table: ``ids``, reduced ``formulas``, :meth:`structure` on demand."""

    def __init__(self, table: pa.Table, meta: Mapping[str, Any], path: Path | None = None) -> None:
        self.meta = dict(meta)
        self.path = path
        self.ids: list[str] = [str(v) for v in table.column("id").to_pylist()]
        self.formulas: list[str] = [str(v) for v in table.column("formula").to_pylist()]
        self.spacegroups = table.column("spacegroup").to_numpy().astype(int)
        lat = table.column("lattice").combine_chunks()
        self.lattices = lat.values.to_numpy().astype(np.float64).reshape(-1, 3, 3)
        nums = table.column("numbers").combine_chunks()
        self._offsets = nums.offsets.to_numpy()
        self._numbers = nums.values.to_numpy().astype(int)
        coords = table.column("frac_coords").combine_chunks()
        if not np.array_equal(coords.offsets.to_numpy(), self._offsets * 3):
            raise ValueError(f"structure table {path or '(in memory)'}: frac_coords do not hold 3 values per site")
        self._coords = coords.values.to_numpy().astype(np.float64).reshape(-1, 3)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"StructureTable({len(self)} structures from {self.meta.get('source', '?')})"

    def arrays(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entry i: lattice (3, 3) Å, fractional coords (n, 3), atomic numbers (n,)."""
        a, b = self._offsets[i], self._offsets[i + 1]
        return self.lattices[i], self._coords[a:b], self._numbers[a:b]

    def structure(self, i: int) -> Structure:
        """Entry i as a pymatgen Structure."""
        matrix, frac, numbers = self.arrays(i)
        return Structure(Lattice(matrix), numbers.tolist(), frac, coords_are_cartesian=False)

    def properties(self) -> pd.DataFrame:
        """Per structure, without building Structures: a, b, c (Å), alpha, beta, gamma (°), volume (Å³),
        density (g/cm³), nsites, nelements, spacegroup, formula and atomic_numbers (list per structure),
        the descriptors of :func:`xtalgen.evaluation.properties.structure_properties`."""
        m = self.lattices
        lengths = np.linalg.norm(m, axis=2)

        def angle(i: int, j: int) -> np.ndarray:
            cos = np.einsum("nk,nk->n", m[:, i], m[:, j]) / (lengths[:, i] * lengths[:, j])
            return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

        volume = np.abs(np.linalg.det(m))
        counts = np.diff(self._offsets)
        mass = np.add.reduceat(_atomic_masses()[self._numbers], self._offsets[:-1]) if len(self) else np.zeros(0)
        mass = np.where(counts > 0, mass, 0.0)
        per = np.split(self._numbers, self._offsets[1:-1]) if len(self) else []
        return pd.DataFrame(
            {
                "a": lengths[:, 0], "b": lengths[:, 1], "c": lengths[:, 2],
                "alpha": angle(1, 2), "beta": angle(0, 2), "gamma": angle(0, 1),
                "volume": volume,
                "density": np.divide(mass * _AMU_PER_A3_TO_G_PER_CM3, volume, out=np.full(len(self), np.nan),
                                     where=volume > 0),
                "nsites": counts.astype(int),
                "nelements": np.array([len(np.unique(z)) for z in per], dtype=int),
                "spacegroup": self.spacegroups,
                "formula": self.formulas,
                "atomic_numbers": [z.tolist() for z in per],
            }
        )  # fmt: skip


def load_structure_table(path: str | Path) -> StructureTable:
    """Load a compact structure table; FileNotFoundError / ValueError with the reason when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"structure table not found: {p}")
    meta = read_tagged_metadata(
        p, METADATA_KEY, not_parquet="is not a structure table (Parquet)",
        no_metadata=f"is not a compact structure table (no {METADATA_KEY.decode()} metadata)",
        max_version=FORMAT_VERSION,
    )  # fmt: skip
    table = pq.read_table(p)
    missing = [c for c in SCHEMA.names if c not in table.column_names]
    if missing:
        raise ValueError(f"structure table {p}: missing columns {missing}")
    return StructureTable(table, meta, p)
