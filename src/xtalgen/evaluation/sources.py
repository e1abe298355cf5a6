"""Load the structures to evaluate (generated samples) and the reference sets (train, test).

Generated samples keep every submitted entry, including ones without a structure (failed decodes,
unparseable files): rates such as validity and S.U.N. are over all submitted samples. Reference sets
are lazy: ids and reduced formulas are known up front, structures are built on demand (from a
prepared dataset's arrays or a CSV's CIF text), so 80,000 training entries are never all parsed.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pymatgen.core import Composition, Structure

from xtalgen.data.csv_table import read_csv_table
from xtalgen.data.structure_table import StructureTable, is_structure_table, load_structure_table

#: What a worker turns into a Structure: the Structure itself or CIF text.
Payload = Structure | str


def to_structure(payload: Payload) -> Structure:
    """Build a Structure from a payload (a Structure is returned unchanged, a str is parsed as CIF)."""
    if isinstance(payload, Structure):
        return payload
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(payload, fmt="cif")


def _reduced(formula: str) -> str:
    try:
        return Composition(formula).reduced_formula
    except Exception:
        return str(formula)


@dataclass
class GeneratedSet:
    """All submitted samples: ``structures[i]`` is None when sample i has no usable structure."""

    ids: list[str]
    structures: list[Structure | None]
    info: pd.DataFrame = field(default_factory=pd.DataFrame)
    reasons: list[str] = field(default_factory=list)
    name: str = "generated"

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.structures):
            raise ValueError(f"{len(self.ids)} ids but {len(self.structures)} structures")
        if len(set(self.ids)) != len(self.ids):
            dup, count = Counter(self.ids).most_common(1)[0]
            raise ValueError(f"generated sample ids must be unique; {dup!r} appears {count} times")
        if not self.reasons:
            self.reasons = ["" if s is not None else "no structure" for s in self.structures]
        if self.info.empty:
            self.info = pd.DataFrame(index=range(len(self.ids)))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class ReferenceSet:
    """A lazy reference set (train or test): ids, reduced formulas, and payloads built on demand.

    ``features``: when the source already knows the per-structure descriptors (a compact structure
    table), a callable returning them (the columns of ``structure_properties``), so they are not
    recomputed structure by structure.
    """

    ids: list[str]
    formulas: list[str]
    payload: Callable[[int], Payload]
    fingerprint: str
    name: str = "reference"
    features: Callable[[], pd.DataFrame] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def structure(self, i: int) -> Structure:
        return to_structure(self.payload(i))


# --- helpers to detect source kinds ---------------------------------------------------------------
def _is_prepared(obj: Any) -> bool:
    return hasattr(obj, "frame") and hasattr(obj, "structure") and hasattr(obj, "subset")


def _file_fingerprint(path: Path, *extra: Any) -> str:
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}|" + "|".join(map(str, extra))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _is_csv(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith((".csv", ".csv.gz"))


def _try_prepared(path: Path) -> Any | None:
    if not (path.is_file() and path.suffix.lower() in (".parquet", ".pq", ".xtal")):
        return None
    from xtalgen.data.dataset import load_dataset

    return load_dataset(path)


_CSV_MEMO: dict[tuple[str, int, float], pd.DataFrame] = {}


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV once per process (train, test and generated often come from the same file)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime)
    if key not in _CSV_MEMO:
        _CSV_MEMO.clear()
        _CSV_MEMO[key] = read_csv_table(path)
    return _CSV_MEMO[key]


def _csv_frame(path: Path, split: str | None, limit: int | None) -> pd.DataFrame:
    df = _read_csv(path)
    if "cif" not in df.columns:
        raise ValueError(f"{path}: CSV has no 'cif' column")
    if split is not None and "split" in df.columns:
        df = df[df["split"] == split]
    if limit is not None:
        df = df.iloc[:limit]
    return df.reset_index(drop=True)


def _csv_ids(df: pd.DataFrame) -> list[str]:
    for col in ("material_id", "id"):
        if col in df.columns:
            return [str(v) for v in df[col]]
    return [f"row{i}" for i in range(len(df))]


# --- reference sets -------------------------------------------------------------------------------
def load_reference(
    source: Any, *, split: str | None = None, limit: int | None = None, name: str = "reference"
) -> ReferenceSet:
    """A reference set from a PreparedDataset (object or file), a compact structure table
    (:mod:`xtalgen.data.structure_table`, e.g. a pretrained model's training structures), a CSV(.gz)
    with a ``cif`` column, any source ``xtalgen.data.readers.read_structures`` accepts, or a list of
    Structures.

    ``split`` keeps only that split when the source has split information (prepared dataset, CSV
    ``split`` column) and is ignored otherwise; ``limit`` keeps the first N entries.
    """
    if isinstance(source, ReferenceSet):
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{name} source not found: {path}")
        if is_structure_table(path):
            return _from_structure_table(load_structure_table(path), limit, name, _file_fingerprint(path, limit))
        prepared = _try_prepared(path)
        if prepared is not None:
            return _from_prepared(prepared, split, limit, name, _file_fingerprint(path, split, limit))
        if _is_csv(path):
            df = _csv_frame(path, split, limit)
            cifs = df["cif"].astype(str).tolist()
            fcol = next((c for c in ("pretty_formula", "formula") if c in df.columns), None)
            formulas = (
                [_reduced(f) for f in df[fcol]] if fcol else [to_structure(c).composition.reduced_formula for c in cifs]
            )
            return ReferenceSet(_csv_ids(df), formulas, cifs.__getitem__, _file_fingerprint(path, split, limit), name)
        gen = _from_reader(path, limit)
        structures = [s for s in gen.structures if s is not None]
        ids = [i for i, s in zip(gen.ids, gen.structures, strict=True) if s is not None]
        return _from_structures(ids, structures, name, _file_fingerprint(path, limit) if path.is_file() else None)
    if _is_prepared(source):
        return _from_prepared(source, split, limit, name, None)
    items = list(source)
    ids, structures = _unpack_items(items)
    if limit is not None:
        ids, structures = ids[:limit], structures[:limit]
    return _from_structures(ids, structures, name, None)


def _from_prepared(ds: Any, split: str | None, limit: int | None, name: str, fp: str | None) -> ReferenceSet:
    if split is not None and "split" in ds.frame.columns:
        ds = ds.subset(split=split)
    n = len(ds) if limit is None else min(limit, len(ds))
    frame = ds.frame.iloc[:n]
    ids = [str(v) for v in frame["id"]]
    if fp is None:
        fp = hashlib.sha1(("|".join(ids) + f"|{split}").encode()).hexdigest()[:16]
    return ReferenceSet(ids, [_reduced(f) for f in frame["formula"]], ds.structure, fp, name)


def _from_structure_table(table: StructureTable, limit: int | None, name: str, fp: str) -> ReferenceSet:
    """A reference set over a compact structure table (it holds one split: ``split`` does not apply)."""
    n = len(table) if limit is None else min(limit, len(table))

    def features() -> pd.DataFrame:
        return table.properties().iloc[:n].reset_index(drop=True)

    return ReferenceSet(table.ids[:n], table.formulas[:n], table.structure, fp, name, features)


def _from_structures(ids: list[str], structures: list[Structure], name: str, fp: str | None) -> ReferenceSet:
    if fp is None:
        from xtalgen.evaluation.cache import structure_key

        h = hashlib.sha1()
        for i, s in zip(ids, structures, strict=True):
            h.update(f"{i}:{structure_key(s)}|".encode())
        fp = h.hexdigest()[:16]
    formulas = [s.composition.reduced_formula for s in structures]
    return ReferenceSet(ids, formulas, structures.__getitem__, fp, name)


def _unpack_items(items: Iterable[Any]) -> tuple[list[str], list[Structure]]:
    ids: list[str] = []
    structures: list[Structure] = []
    for k, item in enumerate(items):
        if isinstance(item, Structure):
            ids.append(f"s{k}")
            structures.append(item)
        elif hasattr(item, "structure") and hasattr(item, "id"):
            ids.append(str(item.id))
            structures.append(item.structure)
        elif isinstance(item, tuple) and len(item) == 2:
            ids.append(str(item[0]))
            structures.append(item[1])
        else:
            raise TypeError(f"entry {k}: expected a Structure, StructureRecord or (id, Structure), got {type(item)}")
    return ids, structures


# --- generated samples ----------------------------------------------------------------------------
def load_generated(
    source: Any, *, split: str | None = None, limit: int | None = None, name: str = "generated"
) -> GeneratedSet:
    """All submitted samples from a generation output dir (``summary.csv`` + ``cifs/``), a prepared
    dataset, a CSV with a ``cif`` column, any ``read_structures`` source, or a list of Structures.

    Entries that failed (not accepted in summary.csv, unparseable files) are kept with structure None.
    """
    if isinstance(source, GeneratedSet):
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{name} source not found: {path}")
        if path.is_dir() and (path / "summary.csv").is_file():
            return _from_generation_dir(path, limit, name)
        prepared = _try_prepared(path)
        if prepared is not None:
            source = prepared
        elif _is_csv(path):
            df = _csv_frame(path, split, limit)
            structures: list[Structure | None] = []
            reasons: list[str] = []
            for cif in df["cif"].astype(str):
                try:
                    structure, reason = _checked(to_structure(cif))
                except Exception as exc:
                    structure, reason = None, f"unparseable: {exc}"[:200]
                structures.append(structure)
                reasons.append(reason)
            info = df.drop(columns=["cif"])
            return GeneratedSet(_csv_ids(df), structures, info, reasons, name)
        else:
            return _from_reader(path, limit, name)
    if _is_prepared(source):
        ds = source.subset(split=split) if split is not None and "split" in source.frame.columns else source
        n = len(ds) if limit is None else min(limit, len(ds))
        ids = [str(v) for v in ds.frame["id"].iloc[:n]]
        return GeneratedSet(ids, [ds.structure(i) for i in range(n)], name=name)
    ids, structs = _unpack_items(list(source))
    if limit is not None:
        ids, structs = ids[:limit], structs[:limit]
    return GeneratedSet(ids, list(structs), name=name)


def _checked(structure: Structure) -> tuple[Structure | None, str]:
    """The structure, or None and the reason when its numbers would crash native code (NaN, 1e30 Å)."""
    from xtalgen.data.structure_checks import numeric_problem

    problem = numeric_problem(structure)
    if problem is None:
        return structure, ""
    return None, f"{problem[0]}: {problem[1]}"[:200]


def _from_reader(path: Path, limit: int | None, name: str = "generated") -> GeneratedSet:
    from xtalgen.data.readers import read_structures
    from xtalgen.data.records import ReadReport

    report = ReadReport()
    ids: list[str] = []
    structures: list[Structure | None] = []
    reasons: list[str] = []
    # overlapping atoms are kept: structural validity scores them
    for rec in read_structures(path, on_error="skip", report=report, min_distance=None):
        ids.append(rec.id)
        structures.append(rec.structure)
        reasons.append("")
        if limit is not None and len(ids) >= limit:
            break
    for rej in report.rejections:
        if limit is not None and len(ids) >= limit:
            break
        if rej.reason == "no atoms in block":  # a CIF's bibliography block is no sample
            continue
        ids.append(rej.id)
        structures.append(None)
        reasons.append(f"{rej.reason}: {rej.detail}"[:200])
    return GeneratedSet(ids, structures, reasons=reasons, name=name)


def _from_generation_dir(path: Path, limit: int | None, name: str) -> GeneratedSet:
    df = read_csv_table(path / "summary.csv", dtype={"id": str}, keep_default_na=False)
    if limit is not None:
        df = df.iloc[:limit].reset_index(drop=True)
    structures: list[Structure | None] = []
    reasons: list[str] = []
    for _, row in df.iterrows():
        cif = str(row.get("cif", "") or "")
        accepted = str(row.get("accepted", "True")).lower() in ("true", "1", "yes")
        if not cif or not accepted:
            structures.append(None)
            reasons.append(str(row.get("reason", "")) or "not accepted")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structure, reason = _checked(Structure.from_file(path / cif))
        except Exception as exc:
            structure, reason = None, f"unparseable: {exc}"[:200]
        structures.append(structure)
        reasons.append(reason)
    info = df.drop(columns=[c for c in ("cif",) if c in df.columns])
    return GeneratedSet([str(i) for i in df["id"]], structures, info, reasons, name)
