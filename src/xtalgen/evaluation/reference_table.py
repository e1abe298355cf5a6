"""Reference-energy tables for convex hulls: energies (eV/atom) of known structures, one row each.

A table is a Parquet file with columns ``id`` (str), ``formula`` (the cell's formula, e.g. ``Li2O1``),
``chemsys`` (sorted elements joined by ``-``, e.g. ``Li-O``), ``nsites`` (int16) and
``energy_per_atom`` (float32, eV/atom), and JSON metadata under the key ``xtalgen.reference_energies``:
``reference_tag`` (which energy model made the energies and how, e.g. ``chgnet-0.3.0-static``; a table
is only used with an energy model of the same tag), ``model``, ``model_version``, ``energy``
(the energy convention), ``dataset``, ``dataset_sha256``, ``split``, ``date``, ``n_rows``, ``n_failed``.
Entries whose energy could not be computed are listed in ``<table>.failures.csv`` (id, reason).

Tables made with ``xtalgen data energies`` ship inside the package as
``xtalgen/resources/reference_energies/<reference_tag>.parquet``; the folder searched can be replaced
with the ``root`` argument or the ``XTALGEN_REFERENCE_DIR`` environment variable (tests, private tables).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pymatgen.core import Composition

from xtalgen.data.atomic import atomic_path
from xtalgen.data.tagged_parquet import read_tagged_metadata, write_tagged_table

METADATA_KEY = b"xtalgen.reference_energies"
FORMAT_VERSION = 1
ENV_VAR = "XTALGEN_REFERENCE_DIR"
FAILURES_SUFFIX = ".failures.csv"
COLUMNS = ("id", "formula", "chemsys", "nsites", "energy_per_atom")
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("formula", pa.string()),
        ("chemsys", pa.string()),
        ("nsites", pa.int16()),
        ("energy_per_atom", pa.float32()),
    ]
)


def chemsys(elements: Iterable[str]) -> str:
    """Chemical system label: sorted element symbols joined by ``-`` (``{"O", "Li"}`` -> ``"Li-O"``)."""
    return "-".join(sorted(set(elements)))


def cell_formula(composition: Composition) -> str:
    """The formula of a cell without spaces (``Li2 O1`` -> ``Li2O1``): counts per cell, unambiguous."""
    return composition.formula.replace(" ", "")


class ReferenceTable:
    """Reference energies (eV/atom) by chemical system, loaded from a table file.

    ``frame``: the rows (id, formula, chemsys, nsites, energy_per_atom); ``meta``: the table metadata;
    ``path``: where it was read from (None for an in-memory table).
    """

    def __init__(self, frame: pd.DataFrame, meta: Mapping[str, Any], path: Path | None = None) -> None:
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"reference table {path or '(in memory)'}: missing columns {missing}")
        keep = np.isfinite(frame["energy_per_atom"].to_numpy(dtype=float))
        self.frame = frame.loc[keep, list(COLUMNS)].reset_index(drop=True)
        self.meta = dict(meta)
        self.path = path
        self._by_system = self.frame.groupby("chemsys", sort=False).indices

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"ReferenceTable({self.name}: {len(self)} entries, {self.reference_tag})"

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else str(self.meta.get("dataset", "in-memory"))

    @property
    def reference_tag(self) -> str | None:
        """How the energies were made (compared with the energy model's ``reference_tag``)."""
        return self.meta.get("reference_tag")

    @property
    def elements(self) -> frozenset[str]:
        """Elements that have an elemental (single-element) reference entry."""
        return frozenset(s for s in self._by_system if "-" not in s)

    def systems(self) -> frozenset[str]:
        """Every chemical system (``chemsys`` label) with at least one entry."""
        return frozenset(self._by_system)

    def references(self, systems: Iterable[frozenset[str] | str]) -> list[tuple[Composition, float]]:
        """(composition, energy in eV/atom) of every entry whose chemical system is one of ``systems``.

        ``systems`` are exact element sets (or ``chemsys`` labels); expand a sample's system into its
        sub-systems first (:func:`xtalgen.evaluation.stability.subsystems`).
        """
        labels = {s if isinstance(s, str) else chemsys(s) for s in systems}
        rows = sorted(j for label in labels for j in self._by_system.get(label, ()))
        formulas = self.frame["formula"].to_numpy()
        energies = self.frame["energy_per_atom"].to_numpy(dtype=float)
        return [(Composition(formulas[j]), float(energies[j])) for j in rows]


def table_from_rows(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Arrow table (the reference schema) from dicts with id, formula, chemsys, nsites, energy_per_atom."""
    rows = list(rows)
    cols = {c: [r[c] for r in rows] for c in COLUMNS}
    return pa.table(
        {
            "id": pa.array([str(v) for v in cols["id"]], pa.string()),
            "formula": pa.array(cols["formula"], pa.string()),
            "chemsys": pa.array(cols["chemsys"], pa.string()),
            "nsites": pa.array(cols["nsites"], pa.int16()),
            "energy_per_atom": pa.array(np.asarray(cols["energy_per_atom"], dtype=np.float32), pa.float32()),
        },
        schema=SCHEMA,
    )


def write_reference_table(
    table: pa.Table, path: str | Path, meta: Mapping[str, Any], failures: pd.DataFrame | None = None
) -> Path:
    """Write a reference table atomically (Parquet, zstd, dictionary-encoded formula/chemsys).

    ``failures`` (columns id, reason) go to ``<path>.failures.csv`` (removed when there are none).
    """
    out = dict(meta)
    out.update(format_version=FORMAT_VERSION, n_rows=table.num_rows)
    out.setdefault("n_failed", 0 if failures is None else len(failures))
    target = write_tagged_table(table.cast(SCHEMA), path, METADATA_KEY, out, compression="zstd",
                                compression_level=19, use_dictionary=["formula", "chemsys"])  # fmt: skip
    fail_path = failures_path(target)
    if failures is not None and len(failures):
        with atomic_path(fail_path) as tmp:
            failures[["id", "reason"]].to_csv(tmp, index=False)
    elif fail_path.exists():
        fail_path.unlink()
    return target


def failures_path(path: str | Path) -> Path:
    """The failures list written beside a table: ``<table>.failures.csv``."""
    p = Path(path)
    return p.with_name(p.name + FAILURES_SUFFIX)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a table file without reading its rows."""
    return _metadata(path, max_version=None)


def _metadata(path: str | Path, max_version: int | None) -> dict[str, Any]:
    return read_tagged_metadata(
        path, METADATA_KEY, not_parquet="is not a reference-energy table (Parquet)",
        no_metadata=f"is not a reference-energy table (no {METADATA_KEY.decode()} metadata)", max_version=max_version,
    )  # fmt: skip


def reference_dir(root: str | Path | None = None) -> Path:
    """Folder of shipped tables: ``root``, else ``$XTALGEN_REFERENCE_DIR``, else the package's own."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import xtalgen

    return Path(xtalgen.__file__).resolve().parent / "resources" / "reference_energies"


def shipped_reference_tables(root: str | Path | None = None) -> dict[str, Path]:
    """Shipped tables by reference tag (the file name without ``.parquet``)."""
    folder = reference_dir(root)
    if not folder.is_dir():
        return {}
    return {p.name[: -len(".parquet")]: p for p in sorted(folder.glob("*.parquet"))}


def shipped_reference_path(tag: str, root: str | Path | None = None) -> Path | None:
    """The shipped table made with ``tag`` (e.g. ``chgnet-0.3.0-static``), None when none ships."""
    return shipped_reference_tables(root).get(tag)


def load_reference_table(
    path: str | Path | None = None, *, tag: str | None = None, root: str | Path | None = None
) -> ReferenceTable:
    """Load a reference table: ``path``, else the shipped table for ``tag`` (else the only shipped one).

    Raises FileNotFoundError when there is no such table, ValueError when the file is not a table,
    was written by a newer xtalgen, or was made with another ``tag`` than asked for.
    """
    if path is None:
        shipped = shipped_reference_tables(root)
        if tag is not None:
            path = shipped.get(tag)
        elif len(shipped) == 1:
            path = next(iter(shipped.values()))
        elif shipped:
            raise ValueError(f"several reference tables ship ({', '.join(shipped)}): pass tag=")
        if path is None:
            what = f"for {tag!r} " if tag else ""
            raise FileNotFoundError(
                f"no reference-energy table {what}ships in {reference_dir(root)}; "
                "make one with `xtalgen data energies DATASET -o TABLE`"
            )
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"reference-energy table not found: {p}")
    meta = _metadata(p, max_version=FORMAT_VERSION)
    if tag is not None and meta.get("reference_tag") != tag:
        raise ValueError(f"{p} holds {meta.get('reference_tag')!r} energies, not {tag!r}")
    frame = pq.read_table(p, columns=list(COLUMNS)).to_pandas()
    return ReferenceTable(frame, meta, p)
