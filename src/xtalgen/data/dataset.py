"""The prepared dataset: one Parquet file holding parsed structures and their symmetry analysis.

Training and evaluation load it in seconds without re-parsing CIFs. Scalar columns are exposed as a
pandas DataFrame (``frame``); per-site columns (numbers, fractional coordinates, Wyckoff letters,
equivalent atoms) stay in Arrow buffers and are sliced on demand by :meth:`PreparedDataset.structure`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pymatgen.core import Lattice, Structure

from xtalgen.data.tagged_parquet import read_tagged_metadata, write_tagged_table

#: Columns with one value per site (stored as Arrow list columns).
SITE_COLUMNS = ("numbers", "frac_coords", "wyckoffs", "multiplicities", "equivalent_atoms")
#: Scalar columns every prepared dataset has.
SCALAR_COLUMNS = (
    "id", "split", "formula", "spacegroup", "spacegroup_symbol", "nsites", "nelements", "n_base_sites",
    "volume", "density", "lattice", "elements", "properties",
)  # fmt: skip
FORMAT_VERSION = 1
METADATA_KEY = b"xtalgen"


def _flat(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, flat values) of a list column, as numpy arrays."""
    arr = column.combine_chunks()
    return arr.offsets.to_numpy(), arr.values.to_numpy(zero_copy_only=False)


class PreparedDataset:
    """Structures and their symmetry data, loaded from a file written by :func:`save_dataset`.

    ``len(ds)`` entries; ``ds.frame`` has one row per entry (id, split, formula, spacegroup, nsites,
    nelements, n_base_sites, volume (Å³), density (g/cm³), elements, ...); ``ds.structure(i)``
    rebuilds the i-th structure in the cell it was read in.
    """

    def __init__(self, table: pa.Table, metadata: dict[str, Any]) -> None:
        self._table = table
        self.metadata = metadata
        self.frame = table.select(
            [c for c in table.column_names if c not in SITE_COLUMNS and c not in ("lattice",)]
        ).to_pandas()
        self._lattice = np.asarray(table.column("lattice").combine_chunks().values.to_numpy()).reshape(-1, 3, 3)
        self._sites = {name: _flat(table.column(name)) for name in SITE_COLUMNS}

    # --- basic access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._table.num_rows

    def __repr__(self) -> str:
        return f"PreparedDataset({len(self)} structures, symprec={self.symprec})"

    @property
    def table(self) -> pa.Table:
        """The underlying Arrow table (all columns)."""
        return self._table

    @property
    def symprec(self) -> float:
        return float(self.metadata.get("symprec", 0.1))

    @property
    def ids(self) -> list[str]:
        return self.frame["id"].tolist()

    def _site_values(self, name: str, i: int) -> np.ndarray:
        offsets, values = self._sites[name]
        start, stop = offsets[i], offsets[i + 1]
        if name == "frac_coords":
            return values[start:stop].reshape(-1, 3)
        return values[start:stop]

    def lattice_matrix(self, i: int) -> np.ndarray:
        """The 3×3 lattice matrix (rows a, b, c in Å) of entry i."""
        return self._lattice[i]

    def arrays(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entry i as plain arrays: lattice (3, 3) Å, fractional coords (n, 3), atomic numbers (n,)."""
        return self._lattice[i], self._site_values("frac_coords", i), self._site_values("numbers", i).astype(int)

    def structure(self, i: int) -> Structure:
        """Entry i as a pymatgen Structure, in the cell it was read in."""
        matrix, coords, numbers = self.arrays(i)
        return Structure(Lattice(matrix), numbers.tolist(), coords, coords_are_cartesian=False)

    def iter_structures(self) -> Iterator[tuple[str, Structure]]:
        """Yield (id, Structure) for every entry."""
        for i, entry_id in enumerate(self.ids):
            yield entry_id, self.structure(i)

    def wyckoffs(self, i: int) -> list[str]:
        return [str(w) for w in self._site_values("wyckoffs", i)]

    def multiplicities(self, i: int) -> list[int]:
        return [int(m) for m in self._site_values("multiplicities", i)]

    def equivalent_atoms(self, i: int) -> list[int]:
        return [int(e) for e in self._site_values("equivalent_atoms", i)]

    def properties(self, i: int) -> dict[str, Any]:
        return json.loads(self.frame["properties"].iat[i] or "{}")

    # --- selection ----------------------------------------------------------------------------
    def subset(self, split: str | Sequence[str] | None = None, indices: Sequence[int] | None = None) -> PreparedDataset:
        """A new dataset with the entries of the given split(s) and/or the given row indices."""
        mask = np.ones(len(self), dtype=bool)
        if split is not None:
            wanted = {split} if isinstance(split, str) else set(split)
            unknown = wanted - {"train", "val", "test"}
            if unknown:
                raise ValueError(f"unknown split(s) {sorted(unknown)}; use train, val or test")
            mask &= self.frame["split"].isin(wanted).to_numpy()
        rows = np.nonzero(mask)[0]
        if indices is not None:
            idx = np.asarray(indices, dtype=int)
            if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
                raise IndexError(f"indices out of range for a dataset of {len(self)} entries")
            rows = idx[mask[idx]]
        return PreparedDataset(self._table.take(pa.array(rows, type=pa.int64())), dict(self.metadata))


def build_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Arrow table from prepared rows (see :mod:`xtalgen.data.prepare` for the row layout)."""
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("split", pa.string()),
            ("formula", pa.string()),
            ("spacegroup", pa.int16()),
            ("spacegroup_symbol", pa.string()),
            ("nsites", pa.int32()),
            ("nelements", pa.int16()),
            ("n_base_sites", pa.int32()),
            ("volume", pa.float64()),
            ("density", pa.float64()),
            ("lattice", pa.list_(pa.float64())),
            ("elements", pa.list_(pa.string())),
            ("numbers", pa.list_(pa.int16())),
            ("frac_coords", pa.list_(pa.float64())),
            ("wyckoffs", pa.list_(pa.string())),
            ("multiplicities", pa.list_(pa.int32())),
            ("equivalent_atoms", pa.list_(pa.int32())),
            ("properties", pa.string()),
        ]
    )
    columns = {name: [row[name] for row in rows] for name in schema.names}
    return pa.table(columns, schema=schema)


def save_dataset(table: pa.Table, path: str | Path, metadata: dict[str, Any]) -> Path:
    """Write the dataset atomically (Parquet, zstd) with ``metadata`` (symprec, source, filters...)."""
    meta = {**metadata, "format_version": FORMAT_VERSION}
    return write_tagged_table(table, path, METADATA_KEY, meta, compression="zstd")


def load_dataset(path: str | Path) -> PreparedDataset:
    """Load a prepared dataset written by ``xtalgen data prepare``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"prepared dataset not found: {p} (make one with `xtalgen data prepare`)")
    metadata = read_tagged_metadata(
        p, METADATA_KEY, not_parquet="is not a prepared xtalgen dataset (Parquet)",
        no_metadata="has no xtalgen metadata; prepare it with `xtalgen data prepare`", max_version=FORMAT_VERSION,
    )  # fmt: skip
    return PreparedDataset(pq.read_table(p), metadata)
