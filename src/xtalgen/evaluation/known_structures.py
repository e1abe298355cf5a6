"""Known structures: a compact table of Wyckoff keys of every known structure, the novelty reference.

One row per known structure: ``id``, ``formula`` (reduced), ``spacegroup`` (int16, spglib at
:data:`~xtalgen.evaluation.symmetry_keys.KEY_SYMPREC`), ``template`` and ``decoration`` (the canonical
Wyckoff keys of :mod:`xtalgen.evaluation.symmetry_keys`). No coordinates: a sample is *known* when some
row has its reduced formula and its decoration (same space group, same elements on the same Wyckoff
orbits), the key-based novelty LeMat-GenBench uses against LeMat-Bulk (there with a BAWL hash).
JSON metadata under ``xtalgen.known_structures``: ``format_version``, ``n_structures``, ``source``,
``source_sha256``, ``symprec``, ``date``.

The package ships one table, made from every Materials Project structure of the shared dataset
(``resources/known_structures/``); ``XTALGEN_KNOWN_STRUCTURES`` points elsewhere (tests, private tables).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xtalgen.data.hashing import file_sha256
from xtalgen.data.tagged_parquet import read_tagged_metadata, write_tagged_table

if TYPE_CHECKING:
    from pymatgen.core import Structure

METADATA_KEY = b"xtalgen.known_structures"
FORMAT_VERSION = 1
ENV_VAR = "XTALGEN_KNOWN_STRUCTURES"
COLUMNS = ("id", "formula", "spacegroup", "template", "decoration")
SCHEMA = pa.schema(
    [("id", pa.string()), ("formula", pa.string()), ("spacegroup", pa.int16()), ("template", pa.string()),
     ("decoration", pa.string())]
)  # fmt: skip


class KnownStructures:
    """Wyckoff keys of known structures; ``name`` says what they are (shown in reports)."""

    def __init__(self, rows: Mapping[str, Iterable[Any]], meta: Mapping[str, Any], name: str) -> None:
        self.ids = [str(v) for v in rows["id"]]
        self.formulas = [str(v) for v in rows["formula"]]
        self.spacegroups = np.asarray(list(rows["spacegroup"]), dtype=int)
        self.templates = [str(v) for v in rows["template"]]
        self.decorations = [str(v) for v in rows["decoration"]]
        self.meta = dict(meta)
        self.name = name
        self._by_key: dict[tuple[str, str], int] = {}
        for j, key in enumerate(zip(self.formulas, self.decorations, strict=True)):
            self._by_key.setdefault(key, j)
        self._id_set = set(self.ids)
        self._template_set = set(self.templates)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"KnownStructures({self.name}: {len(self)} structures)"

    def match(self, formula: str, decoration: str) -> str | None:
        """Id of the first known structure with this reduced formula and decoration, else None."""
        j = self._by_key.get((formula, decoration))
        return None if j is None else self.ids[j]

    def match_structure(self, structure: Structure) -> str | None:
        """Id of the known structure with ``structure``'s reduced formula and Wyckoff decoration
        (:func:`~xtalgen.evaluation.symmetry_keys.wyckoff_keys`, the keys novelty uses), else None."""
        from xtalgen.evaluation.symmetry_keys import wyckoff_keys

        return self.match(structure.composition.reduced_formula, wyckoff_keys(structure)["decoration"])

    def has_template(self, template: str) -> bool:
        return template in self._template_set

    def covers(self, ids: Iterable[str]) -> bool:
        """Whether every one of ``ids`` is a row of this table."""
        return all(str(i) in self._id_set for i in ids)

    def extended(self, rows: Mapping[str, list[Any]], name: str) -> KnownStructures:
        """This table plus ``rows`` (e.g. the keys of a training set it does not hold)."""
        merged = {c: [*getattr(self, _ATTR[c]), *rows[c]] for c in COLUMNS}
        return KnownStructures(merged, self.meta, name)

    def table(self) -> pa.Table:
        return pa.table({c: list(getattr(self, _ATTR[c])) for c in COLUMNS}, schema=SCHEMA)


_ATTR = {"id": "ids", "formula": "formulas", "spacegroup": "spacegroups", "template": "templates",
         "decoration": "decorations"}  # fmt: skip


def write_known_structures(known: KnownStructures, path: str | Path, meta: Mapping[str, Any]) -> Path:
    """Write a table atomically (Parquet, zstd level 19, dictionary-encoded strings)."""
    out = {**meta, "format_version": FORMAT_VERSION, "n_structures": len(known)}
    return write_tagged_table(known.table(), path, METADATA_KEY, out, compression="zstd", compression_level=19,
                              use_dictionary=["formula", "template"])  # fmt: skip


def shipped_known_path() -> Path | None:
    """The table used by default: ``$XTALGEN_KNOWN_STRUCTURES``, else the one shipped with the package."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import xtalgen

    folder = Path(xtalgen.__file__).resolve().parent / "resources" / "known_structures"
    found = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    return found[0] if found else None


def load_known_structures(path: str | Path | None = None) -> KnownStructures:
    """Load a known-structures table (default: :func:`shipped_known_path`); FileNotFoundError if none."""
    p = Path(path) if path is not None else shipped_known_path()
    if p is None or not p.is_file():
        raise FileNotFoundError(f"known-structures table not found: {p or 'none ships with this install'}")
    meta = read_tagged_metadata(p, METADATA_KEY, not_parquet="is not a known-structures table (Parquet)",
                                no_metadata="is not a known-structures table (no xtalgen.known_structures metadata)",
                                max_version=FORMAT_VERSION)  # fmt: skip
    table = pq.read_table(p, columns=list(COLUMNS))
    rows = {c: table.column(c).to_pylist() for c in COLUMNS}
    source = meta.get("source", p.name)
    return KnownStructures(rows, meta, f"{source} ({len(table):,} structures, {p.name})")


def keys_rows(ids: list[str], formulas: list[str], keys: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Table rows (column -> values) from ids, reduced formulas and :func:`wyckoff_keys` records."""
    ok = [k for k, rec in enumerate(keys) if isinstance(rec, dict) and "decoration" in rec]
    return {
        "id": [ids[k] for k in ok],
        "formula": [formulas[k] for k in ok],
        "spacegroup": [int(keys[k]["spacegroup"]) for k in ok],
        "template": [keys[k]["template"] for k in ok],
        "decoration": [keys[k]["decoration"] for k in ok],
    }


def _keys_chunk(payloads: list[Any]) -> list[dict[str, Any]]:
    from xtalgen.evaluation.symmetry_keys import wyckoff_keys_job

    out = []
    for p in payloads:
        try:
            out.append(wyckoff_keys_job(p))
        except Exception as exc:  # unparseable entry: left out of the table
            out.append({"error": str(exc)[:200]})
    return out


def build_known_structures(
    source: Any, out: str | Path, *, workers: int = 1, chunk: int = 200, progress: bool = False
) -> Path:
    """Compute the Wyckoff keys of every structure of ``source`` (any reference source, e.g. the MP CSV)
    on ``workers`` processes and write the table to ``out``; metadata records the source and its hash."""
    import datetime
    from contextlib import nullcontext

    from xtalgen.evaluation.parallel import make_pool
    from xtalgen.evaluation.sources import load_reference
    from xtalgen.evaluation.symmetry_keys import KEY_SYMPREC

    ref = load_reference(source, name="known structures")
    batches = [[ref.payload(j) for j in range(s, min(s + chunk, len(ref)))] for s in range(0, len(ref), chunk)]
    keys: list[dict[str, Any]] = []
    with make_pool(workers) if workers > 1 else nullcontext() as pool:
        for part in pool.map(_keys_chunk, batches) if pool is not None else map(_keys_chunk, batches):
            keys += part
            if progress:
                print(f"{len(keys)}/{len(ref)} structures keyed", flush=True)
    rows = keys_rows(ref.ids, ref.formulas, keys)
    digest = file_sha256(source) if isinstance(source, str | Path) else ""
    meta = {"source": Path(source).name if isinstance(source, str | Path) else "in-memory",
            "source_sha256": digest, "symprec": KEY_SYMPREC, "date": datetime.date.today().isoformat(),
            "n_failed": len(keys) - len(rows["id"])}  # fmt: skip
    return write_known_structures(KnownStructures(rows, meta, meta["source"]), out, meta)
