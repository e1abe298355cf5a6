"""The arrays fed to the PGCGM networks: :class:`BaseSiteArrays` and how to build/save them.

Batch format, for M samples, K = max base sites (default 3), S = sets per sample (default 3):

============================  ==================  =============================================
field                         shape / dtype       meaning
============================  ==================  =============================================
``ops`` (property)            (M,192,4,4) f32     affine ops, fractional, standard setting
                                                  (x' = R x + t); padding rows all zero
``ops_mask`` (property)       (M,192) bool        True for real ops
``spacegroup``                (M,) int64          space-group number 1..230
``crystal_system``            (M,) int64          0 triclinic, 1 monoclinic, 2 orthorhombic,
                                                  3 tetragonal, 4 trigonal, 5 hexagonal, 6 cubic
``element_z``                 (M,K) int64         atomic number of each base site (0 = padding)
``element_features``          (M,K,23) f32        ``xtalgen.data.elements.element_features``
``site_mask``                 (M,K) bool          True for real base sites
``radii``                     (M,K) f32           atomic radius in Å (:mod:`xtalgen.data.radii`)
``coords``                    (M,S,K,3) f32       fractional coords in [0, 1)
``lattice``                   (M,6) f32           a, b, c (Å), α, β, γ (degrees), standard
                                                  conventional cell
``multiplicity``              (M,K) int64         atoms of each base site in the conventional
                                                  cell (0 = padding)
``material_index``            (M,) int64          row of the source material in ``material_ids``
``material_ids``              (n_materials,) str  ids of the encoded materials
============================  ==================  =============================================

Padded base sites have zeros everywhere and ``site_mask`` False. Base sites are ordered by
(electronegativity, Z, multiplicity, Wyckoff letter). ``ops``/``ops_mask`` are not stored: they are
looked up from ``spacegroup`` (``symops.ops_table()``), which for a training model is best kept as a
(231,192,4,4) buffer indexed by ``spacegroup``; the properties materialise M×12 KB, so call them on
minibatches (``arrays.subset(idx).ops``), not on the full training set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from xtalgen.data.atomic import atomic_path
from xtalgen.data.crystal_systems import crystal_systems
from xtalgen.data.radii import atomic_radius
from xtalgen.data.records import ReadReport
from xtalgen.progress import progress_bar
from xtalgen.representations.basesites.augment import augment_sets
from xtalgen.representations.basesites.encode import BaseSites, encode_structure, wrap01
from xtalgen.representations.basesites.expand import RawBaseSites
from xtalgen.representations.basesites.symops import ops_for

N_FEATURES = 23
FORMAT_VERSION = 1


@dataclass
class BaseSiteArrays:
    """Numpy arrays of M base-site samples (see the module docstring for the exact format)."""

    spacegroup: np.ndarray
    crystal_system: np.ndarray
    element_z: np.ndarray
    element_features: np.ndarray
    site_mask: np.ndarray
    radii: np.ndarray
    coords: np.ndarray
    lattice: np.ndarray
    multiplicity: np.ndarray
    material_index: np.ndarray
    material_ids: np.ndarray

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return len(self.spacegroup)

    @property
    def max_base_sites(self) -> int:
        """K."""
        return self.element_z.shape[1]

    @property
    def n_sets(self) -> int:
        """S."""
        return self.coords.shape[1]

    @property
    def ops(self) -> np.ndarray:
        """(M, 192, 4, 4) float32 ops of each sample's space group (materialised on access)."""
        return ops_for(self.spacegroup)[0]

    @property
    def ops_mask(self) -> np.ndarray:
        """(M, 192) bool mask of real ops."""
        return ops_for(self.spacegroup)[1]

    def validate(self) -> None:
        """Raise ValueError if shapes, dtypes or value ranges break the documented format."""
        m = len(self.spacegroup)
        k = self.element_z.shape[1] if self.element_z.ndim == 2 else -1
        s = self.coords.shape[1] if self.coords.ndim == 4 else -1
        expected = {
            "spacegroup": ((m,), np.int64),
            "crystal_system": ((m,), np.int64),
            "element_z": ((m, k), np.int64),
            "element_features": ((m, k, N_FEATURES), np.float32),
            "site_mask": ((m, k), np.bool_),
            "radii": ((m, k), np.float32),
            "coords": ((m, s, k, 3), np.float32),
            "lattice": ((m, 6), np.float32),
            "multiplicity": ((m, k), np.int64),
            "material_index": ((m,), np.int64),
        }
        for name, (shape, dtype) in expected.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != dtype:
                got = (getattr(arr, "shape", None), getattr(arr, "dtype", type(arr)))
                raise ValueError(f"BaseSiteArrays.{name}: expected {shape} {np.dtype(dtype)}, got {got}")
        if m and (self.spacegroup.min() < 1 or self.spacegroup.max() > 230):
            raise ValueError("BaseSiteArrays.spacegroup: numbers must be in 1..230")
        if m and (self.coords.min() < 0 or self.coords.max() >= 1):
            raise ValueError("BaseSiteArrays.coords: fractional coords must be in [0, 1)")
        if m and (self.material_index.min() < 0 or self.material_index.max() >= len(self.material_ids)):
            raise ValueError("BaseSiteArrays.material_index: out of range of material_ids")

    def subset(self, idx: Any) -> BaseSiteArrays:
        """Samples ``idx`` (indices, slice or bool mask) as a new BaseSiteArrays (same material_ids)."""
        kw = {f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "material_ids"}
        return BaseSiteArrays(material_ids=self.material_ids, **kw)

    def raw_candidates(self, set_index: int = 0) -> list[RawBaseSites]:
        """One :class:`RawBaseSites` per sample (set ``set_index``), ready for ``expand_raw``."""
        out = []
        for i in range(len(self)):
            mask = self.site_mask[i]
            species = [_symbol(z) if ok else "" for z, ok in zip(self.element_z[i], mask, strict=True)]
            out.append(
                RawBaseSites(
                    species=species,
                    coords=self.coords[i, set_index].astype(np.float64),
                    lattice=self.lattice[i].astype(np.float64),
                    spacegroup=int(self.spacegroup[i]),
                    site_mask=mask.copy(),
                )
            )
        return out

    def save_npz(self, path: str | Path) -> Path:
        """Write all fields (not ops) to a compressed .npz, atomically; returns the path."""
        path = Path(path)
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["material_ids"] = np.asarray(self.material_ids, dtype=str)
        data["format_version"] = np.array(FORMAT_VERSION)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **data)
        return path

    @classmethod
    def load_npz(cls, path: str | Path) -> BaseSiteArrays:
        """Read arrays written by :meth:`save_npz` (validated)."""
        with np.load(path, allow_pickle=False) as npz:
            version = int(npz["format_version"]) if "format_version" in npz else -1
            if version != FORMAT_VERSION:
                raise ValueError(f"{path}: BaseSiteArrays format {version}, expected {FORMAT_VERSION}")
            return cls(**{f.name: npz[f.name] for f in fields(cls)})

    @classmethod
    def concatenate(cls, parts: list[BaseSiteArrays]) -> BaseSiteArrays:
        """Join several arrays sets with the same K and S (material indices are re-based)."""
        if not parts:
            raise ValueError("nothing to concatenate")
        offsets = np.cumsum([0] + [len(p.material_ids) for p in parts[:-1]])
        kw = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(cls)
            if f.name not in ("material_ids", "material_index")
        }
        shifted = [p.material_index + o for p, o in zip(parts, offsets, strict=True)]
        kw["material_index"] = np.concatenate(shifted)
        kw["material_ids"] = np.concatenate([np.asarray(p.material_ids, dtype=str) for p in parts])
        return cls(**kw)


def _symbol(z: int) -> str:
    from pymatgen.core import Element

    return Element.from_Z(int(z)).symbol


def _default_features() -> Callable[[str], np.ndarray]:
    from xtalgen.data.elements import element_features

    return element_features


def _iter_source(source: Any) -> Iterable[tuple[str, Any]]:
    """(id, Structure) pairs from a PreparedDataset, StructureRecords, (id, Structure) or Structures."""
    if hasattr(source, "iter_structures"):
        yield from source.iter_structures()
        return
    for i, item in enumerate(source):
        if hasattr(item, "structure") and hasattr(item, "id"):
            yield str(item.id), item.structure
        elif isinstance(item, tuple) and len(item) == 2:
            yield str(item[0]), item[1]
        else:
            yield str(i), item


def encode_arrays(
    bases: list[BaseSites],
    coords: list[np.ndarray],
    *,
    max_base_sites: int,
    element_features: Callable[[str], np.ndarray] | None = None,
) -> BaseSiteArrays:
    """Pack encoded materials and their sampled coords (n_i, S, K_i, 3) into a BaseSiteArrays."""
    features = element_features or _default_features()
    counts = [len(c) for c in coords]
    m, k = int(sum(counts)), max_base_sites
    s = coords[0].shape[1] if coords else 3
    per_material = {
        "element_z": np.zeros((len(bases), k), np.int64),
        "element_features": np.zeros((len(bases), k, N_FEATURES), np.float32),
        "site_mask": np.zeros((len(bases), k), bool),
        "radii": np.zeros((len(bases), k), np.float32),
        "multiplicity": np.zeros((len(bases), k), np.int64),
    }
    all_coords = np.zeros((m, s, k, 3), np.float32)
    row = 0
    for j, (b, c) in enumerate(zip(bases, coords, strict=True)):
        n = b.n_sites
        per_material["element_z"][j, :n] = b.numbers
        per_material["element_features"][j, :n] = [features(sp) for sp in b.species]
        per_material["site_mask"][j, :n] = True
        per_material["radii"][j, :n] = [atomic_radius(sp) for sp in b.species]
        per_material["multiplicity"][j, :n] = b.multiplicities
        all_coords[row : row + len(c), :, :n] = c
        row += len(c)
    all_coords = wrap01(all_coords).astype(np.float32)
    index = np.repeat(np.arange(len(bases), dtype=np.int64), counts)
    sg = np.array([b.spacegroup for b in bases], dtype=np.int64)[index]
    return BaseSiteArrays(
        spacegroup=sg,
        crystal_system=crystal_systems(sg) if m else np.zeros(0, np.int64),
        coords=all_coords,
        lattice=np.array([b.lattice for b in bases], dtype=np.float32).reshape(-1, 6)[index],
        material_index=index,
        material_ids=np.array([b.id for b in bases], dtype=str),
        **{name: arr[index] for name, arr in per_material.items()},
    )


def build_training_arrays(
    source: Any,
    *,
    n_augment: int = 32,
    n_sets: int = 3,
    max_base_sites: int = 3,
    seed: int = 0,
    symprec: float = 0.1,
    element_features: Callable[[str], np.ndarray] | None = None,
    report: ReadReport | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> BaseSiteArrays:
    """Encode and self-augment materials into PGCGM training arrays (M = n_materials × n_augment).

    ``source``: a PreparedDataset, or an iterable of StructureRecord / (id, Structure) / Structure.
    Materials that cannot be represented (symmetry failure, more than ``max_base_sites`` base sites,
    disorder, an element without features or radius, e.g. Z > 94) are listed in ``report``
    (created if None) with their id and reason, and the counts are printed. Sample coords of the
    j-th source entry (0-based) come from ``SeedSequence([seed, j])``, independent of the others.
    """
    report = report if report is not None else ReadReport()
    console = console or Console(stderr=True)
    features = element_features or _default_features()
    bases: list[BaseSites] = []
    coords: list[np.ndarray] = []
    total = len(source) if hasattr(source, "__len__") else None
    with progress_bar("encoding base sites", console=console, disable=not progress) as bar:
        task = bar.add_task("encode", total=total)
        rejected_before, position = report.rejected, 0
        for position, (entry_id, structure) in enumerate(_iter_source(source), start=1):
            bar.advance(task)
            try:
                base = encode_structure(structure, symprec=symprec, id=entry_id)
            except ValueError as exc:
                reason = "disordered" if "disordered" in str(exc) else "symmetry failed"
                report.reject(entry_id, reason, str(exc))
                continue
            if base.n_sites > max_base_sites:
                report.reject(
                    entry_id, "too many sites", f"{base.n_sites} base sites > max_base_sites={max_base_sites}"
                )
                continue
            try:
                for sp in set(base.species):
                    features(sp)
                    atomic_radius(sp)
            except ValueError as exc:
                report.reject(entry_id, "unsupported element", str(exc))
                continue
            rng = np.random.default_rng(np.random.SeedSequence([seed, position - 1]))
            coords.append(augment_sets(base, n_augment, n_sets, rng))
            bases.append(base)
            report.accepted += 1
    n_rejected = report.rejected - rejected_before
    if n_rejected:
        reasons = Counter(r.reason for r in report.rejections[rejected_before:])
        counts = ", ".join(f"{r}: {n}" for r, n in reasons.most_common())
        console.print(f"[yellow]base sites: {n_rejected} of {position} materials not used ({counts})")
    console.print(f"base sites: {len(bases)} materials → {len(bases) * n_augment} samples")
    if not bases:
        raise ValueError("no material could be encoded as base sites; see the report for reasons")
    return encode_arrays(bases, coords, max_base_sites=max_base_sites, element_features=features)
