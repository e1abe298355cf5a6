"""Remove duplicate structures with pymatgen's StructureMatcher, comparing only within a formula.

Structures are grouped by reduced formula (and an optional extra key, e.g. the space group);
inside a group each structure is compared with the first member of every distinct structure
found so far. Tolerances default to the field standard (ltol 0.2, stol 0.3, angle_tol 5°).

Speed: each structure is first reduced once to spglib's primitive cell (at ``symprec``; callers
that already have it pass ``reduce=False``), so that identical candidates (common for generators)
are recognised from a rounded fingerprint without calling StructureMatcher, and the matcher works
on small primitive cells.
pymatgen's internal cache of reduced structures is cleared before each comparison: its hash
collides for near-identical structures and its equality test is O(N²) in sites, which made
grouping dozens of identical 56-atom candidates take minutes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

DEFAULT_MATCHER = {"ltol": 0.2, "stol": 0.3, "angle_tol": 5.0}


def group_keys(
    structures: Sequence[Structure | None],
    extra: Sequence[Hashable] | None = None,
    formulas: Sequence[str | None] | None = None,
) -> dict:
    """Map key → list of indices; key = (reduced formula, extra[i]); None structures are skipped.

    ``formulas``: each structure's reduced formula where already known (None: computed here)."""
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(structures):
        if s is None:
            continue
        formula = formulas[i] if formulas is not None else None
        key = (formula or s.composition.reduced_formula, None if extra is None else extra[i])
        groups.setdefault(key, []).append(i)
    return groups


def primitive_from_dataset(structure: Structure, dataset) -> Structure:
    """The primitive cell spglib found (``dataset.primitive_lattice``), atoms taken from ``structure``."""
    return primitive_structure(primitive_arrays(structure, dataset))


def primitive_arrays(structure: Structure, dataset) -> tuple[np.ndarray, list[str], np.ndarray]:
    """What :func:`primitive_from_dataset` builds its Structure from: the row lattice matrix (3, 3) Å, element
    symbols (M,) and Cartesian coords (M, 3) Å (picklable and cheap; :func:`primitive_structure` builds it)."""
    _, first = np.unique(np.asarray(dataset.mapping_to_primitive), return_index=True)
    cart = np.asarray(structure.cart_coords)[first]
    return np.asarray(dataset.primitive_lattice), [structure[i].specie.symbol for i in first], cart


def primitive_structure(cell: tuple[np.ndarray, list[str], np.ndarray]) -> Structure:
    """The Structure of :func:`primitive_arrays`' cell."""
    lattice, symbols, cart = cell
    return Structure(lattice, symbols, cart, coords_are_cartesian=True)


def reduced_for_matching(structure: Structure, symprec: float = 0.1) -> Structure:
    """spglib's primitive cell at ``symprec`` Å (the structure itself if spglib fails)."""
    from xtalgen.postprocess.filters import symmetry_dataset

    ds = symmetry_dataset(structure, symprec)
    return structure if ds is None else primitive_from_dataset(structure, ds)


def fingerprint(structure: Structure, decimals: int = 3) -> tuple:
    """Rounded lattice parameters + sorted (species, rounded frac coords): equal for identical cells."""
    lat = tuple(np.round(structure.lattice.parameters, decimals))
    frac = np.round(np.asarray(structure.frac_coords) % 1.0, decimals) % 1.0
    sites = sorted((s.species_string, *map(float, f)) for s, f in zip(structure, frac, strict=True))
    return lat, tuple(sites)


def _fit(matcher: StructureMatcher, a: Structure, b: Structure) -> bool:
    cache = getattr(StructureMatcher, "_get_reduced_istructure", None)
    if cache is not None and hasattr(cache, "cache_clear"):
        cache.cache_clear()
    return bool(matcher.fit(a, b))


def duplicates_in_group(
    structures: Sequence[Structure],
    indices: Sequence[int],
    matcher_kwargs: dict | None = None,
    symprec: float = 0.1,
    reduce: bool = True,
) -> dict[int, int]:
    """{index: index of the earlier structure it matches} for one group (same formula).

    ``reduce=False``: the structures are already primitive cells (see module docstring).
    """
    matcher = StructureMatcher(**{**DEFAULT_MATCHER, **(matcher_kwargs or {}), "primitive_cell": False})
    reduced = {i: reduced_for_matching(structures[i], symprec) if reduce else structures[i] for i in indices}
    seen: dict[tuple, int] = {}
    representatives: list[int] = []
    found: dict[int, int] = {}
    for i in indices:
        key = fingerprint(reduced[i])
        if key in seen:
            found[i] = seen[key]
            continue
        for rep in representatives:
            if _fit(matcher, reduced[rep], reduced[i]):
                found[i] = rep
                break
        else:
            representatives.append(i)
        seen[key] = found.get(i, i)
    return found


def find_duplicates(
    structures: Sequence[Structure | None],
    *,
    extra_key: Sequence[Hashable] | None = None,
    matcher_kwargs: dict | None = None,
    symprec: float = 0.1,
) -> list[int | None]:
    """For each structure, the index of an earlier structure it duplicates, or None if it is new."""
    out: list[int | None] = [None] * len(structures)
    for indices in group_keys(structures, extra_key).values():
        if len(indices) > 1:
            for i, rep in duplicates_in_group(structures, indices, matcher_kwargs, symprec).items():
                out[i] = rep
    return out


def dedupe(structures: Sequence[Structure], **kwargs) -> list[Structure]:
    """The structures without duplicates (first occurrence kept, order preserved)."""
    dup = find_duplicates(structures, **kwargs)
    return [s for s, d in zip(structures, dup, strict=True) if d is None]
