"""Post-process generated candidates: expansion → (volume rescale) → merge → filters → dedupe, in parallel.

Each candidate is a pymatgen Structure (already expanded) or a raw object turned into a cell by the
``expand`` callable the caller passes (for PGCGM: ``xtalgen.representations.basesites.expand.
expand_raw_arrays`` (fastest) or ``expand_raw`` on ``RawBaseSites``; this layer may not import
representations). ``expand`` returns a Structure or a triple (row lattice matrix (3, 3) Å,
element symbols (N,), fractional coords (N, 3)), optionally followed by a dict of extra summary
columns (e.g. how far a snapping step moved the sites); it must be picklable (a module-level function)
because candidates are processed in a process pool.
"""

from __future__ import annotations

import multiprocessing as mp
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure
from rich.console import Console

from xtalgen.data.structure_checks import MIN_INTERATOMIC_DISTANCE
from xtalgen.data.symmetrized_cif import symmetrized_cif
from xtalgen.data.symmetry import wyckoff_template_of
from xtalgen.postprocess.candidate_dedupe import mark_duplicates
from xtalgen.postprocess.dedupe import DEFAULT_MATCHER, primitive_arrays, primitive_from_dataset
from xtalgen.postprocess.early_reject import surely_too_close
from xtalgen.postprocess.filters import (
    DEFAULT_DISTANCE_FACTOR,
    DEFAULT_SYMPREC,
    REASON_TOO_CLOSE,
    check_cell_size,
    check_charge_neutral,
    check_condition_formula,
    check_formula_size,
    check_min_distance,
    check_spacegroup,
    composition_of,
    distance_ratios_arrays,
    symmetry_dataset,
    symmetry_dataset_arrays,
)
from xtalgen.postprocess.merge import DEFAULT_MERGE_FACTOR, merge_arrays
from xtalgen.postprocess.push_apart import PushApart, push_apart_arrays
from xtalgen.postprocess.results import PostprocessResult, rejection_counts  # noqa: F401 (re-exported)
from xtalgen.postprocess.volume import ElementVolumes, rescale_matrix
from xtalgen.progress import progress_bar

REASON_EXPANSION = "expansion failed"
REASON_TOO_MANY = "too many atoms"
REASON_MERGE = "merge failed"


@dataclass(frozen=True)
class _Options:
    expand: Callable[[Any], Structure] | None
    merge: bool
    merge_factor: float
    distance_factor: float
    symprec: float
    check_spacegroup: bool
    charge_neutrality: bool
    max_atoms: int
    volumes: ElementVolumes | None = None
    max_formula_atoms: int | None = None
    max_primitive_sites: int | None = None
    early_reject: bool = False
    symmetrized_cif: bool = False
    push_apart: PushApart | None = None


def _reject_early(
    res: PostprocessResult, opt: _Options, symbols: Sequence[str] | None, detail: str, values: dict | None = None
) -> PostprocessResult:
    """Mark ``res`` rejected by the distance filter without building a Structure or running spglib: the
    filters after it are not run (None), the found space group stays empty; ``symbols`` (the merged cell's,
    None before merging) give the formula. The summary columns are the full path's, empty where not measured."""
    if symbols is not None:
        res.formula = composition_of(symbols).reduced_formula
    res.filters["min_distance"] = False
    res.extra.update(values or {"min_ratio_same_element": None, "min_ratio_other_elements": None})
    if opt.max_formula_atoms is not None:
        res.extra["formula_atoms"] = None
    if opt.max_primitive_sites is not None:
        res.extra["primitive_sites"] = None
    res.reason, res.detail = REASON_TOO_CLOSE, detail
    return res


def _expanded_arrays(item: Any, opt: _Options) -> tuple:
    """Candidate → (row lattice matrix (3, 3) Å, element symbols, fractional coords[, extra columns]) as
    ``expand`` gave it; raises on a candidate that cannot be expanded."""
    if isinstance(item, Structure):
        cell = item
    elif opt.expand is None:
        raise TypeError(f"candidate of type {type(item).__name__} needs an expand function")
    else:
        cell = opt.expand(item)
    if isinstance(cell, Structure):
        if not cell.is_ordered:
            raise ValueError("disordered structure")
        return cell.lattice.matrix, [s.specie.symbol for s in cell], cell.frac_coords
    return tuple(cell)


def _merged_structure(
    res: PostprocessResult, opt: _Options, matrix: Any, symbols: Sequence[str], frac: Any, target: int | None
) -> tuple[tuple, Any] | PostprocessResult:
    """Rescale (Å), early-reject, merge, push apart: the final cell (Lattice, symbols, fractional coords) and its
    distance ratios (None when not measured yet), or ``res`` rejected early; raises on e.g. a degenerate lattice."""
    scale, push = None, opt.push_apart
    if push is not None:  # Å: the largest move of an atom (None: not repaired)
        res.extra["push_apart_max_move"] = None
    if opt.volumes is not None:  # fix the cell size first, so merging sees physical distances
        matrix, scale = rescale_matrix(matrix, symbols, opt.volumes)
    if opt.early_reject:  # a clash the merge cannot fix: reject before merging
        clash = surely_too_close(matrix, symbols, frac, merge_factor=opt.merge_factor if opt.merge else None,
                                 distance_factor=opt.distance_factor,
                                 slack=0.0 if push is None else 2 * push.max_displacement)  # fmt: skip
        if clash is not None:
            res.n_atoms_after = None
            if opt.volumes is not None:  # the final scale is not known before merging
                res.extra["volume_scale"] = None
            return _reject_early(res, opt, None, clash)
    if opt.merge:
        n_before = len(symbols)
        symbols, frac = merge_arrays(matrix, symbols, frac, factor=opt.merge_factor)
        if scale is not None and len(symbols) != n_before:
            matrix, again = rescale_matrix(matrix, symbols, opt.volumes)
            scale = scale * again if again is not None else None
    if opt.volumes is not None:
        res.extra["volume_scale"] = round(scale, 4) if scale is not None else None
    if push is not None:
        frac, res.extra["push_apart_max_move"] = push_apart_arrays(
            matrix, symbols, frac, distance_factor=opt.distance_factor, target=target, options=push)
    lattice = Lattice(matrix)
    ratios = None
    if opt.early_reject and len(symbols):  # the distance filter on arrays, before any Structure or spglib
        ratios = distance_ratios_arrays(lattice, symbols, frac)
        if ratios[0] < opt.distance_factor or ratios[4] < MIN_INTERATOMIC_DISTANCE:
            res.n_atoms_after = len(symbols)
            out = check_min_distance(None, opt.distance_factor, ratios=ratios)
            return _reject_early(res, opt, symbols, out.detail, out.values)
    return (lattice, list(symbols), frac), ratios


def _apply_filters(
    res: PostprocessResult, cell: tuple, ratios: Any, target: int | None, opt: _Options, expected: str | None = None
) -> PostprocessResult:
    """Fill ``res`` from the merged ``cell`` (Lattice, symbols, fractional coords): formula, space group, primitive
    cell and the filters (``expected``: the condition's formula, None: not checked). With ``early_reject`` the
    composition comes from the symbols, spglib reads the arrays and the Structure and primitive cell are built only
    for an accepted candidate (a rejected one carries neither)."""
    lattice, symbols, frac = cell
    structure = None if opt.early_reject else Structure(lattice, symbols, frac)
    comp = composition_of(symbols) if structure is None else structure.composition
    res.structure = structure
    res.n_atoms_after = len(symbols)
    res.formula = comp.reduced_formula
    cond = [] if expected is None else [check_condition_formula(comp, expected)]
    size = [] if opt.max_formula_atoms is None else [check_formula_size(comp, opt.max_formula_atoms)]
    if opt.early_reject and not all(out.passed for out in cond + size):  # rejected whatever spglib finds
        return _reject_formula(res, ratios, cond + size, opt)
    if structure is None:
        dataset = symmetry_dataset_arrays(lattice.matrix, frac, [_atomic_number(s) for s in symbols], opt.symprec)
        structure = Structure(lattice, symbols, frac) if dataset is None else None  # spglib failed: checked again
    else:
        dataset = symmetry_dataset(structure, opt.symprec)
    n_prim = None
    if dataset is not None:
        res.spacegroup = int(dataset.number)
        n_prim = len(np.unique(np.asarray(dataset.mapping_to_primitive)))  # atoms of the primitive cell
        if structure is not None:
            res.primitive = primitive_from_dataset(structure, dataset)
    outcomes = [check_min_distance(structure, opt.distance_factor, ratios=ratios), *cond]
    if opt.check_spacegroup and target is not None:
        outcomes.append(check_spacegroup(structure, target, opt.symprec, found=res.spacegroup))
    outcomes += size
    if opt.max_primitive_sites is not None:
        outcomes.append(check_cell_size(n_prim, opt.max_primitive_sites))
    if opt.charge_neutrality:
        outcomes.append(check_charge_neutral(comp))
    for out in outcomes:
        res.filters[out.name] = out.passed
        res.extra.update(out.values)
    failed = [out for out in outcomes if not out.passed]
    if failed:
        res.reason, res.detail = failed[0].reason, failed[0].detail
        return res
    res.accepted = True
    if res.structure is None:  # the fast path builds the accepted cell's Structure only now, its primitive cell
        res.structure = structure = Structure(lattice, symbols, frac)  # only when the dedupe compares it
        if dataset is not None:
            res.primitive_cell = primitive_arrays(structure, dataset)
            res.group_formula = composition_of(res.primitive_cell[1]).reduced_formula
    if opt.symmetrized_cif and dataset is not None:  # spglib has run: the CIF needs no second analysis
        res.cif = symmetrized_cif({_atomic_number(s): s for s in symbols}, dataset)
        res.wyckoff_template = wyckoff_template_of(dataset)
    return res


@lru_cache(maxsize=256)
def _atomic_number(symbol: str) -> int:
    from pymatgen.core import Element

    return int(Element(symbol).Z)


def _reject_formula(res: PostprocessResult, ratios: Any, outcomes: list, opt: _Options) -> PostprocessResult:
    """Mark ``res`` rejected by the first failing composition filter of ``outcomes`` (condition formula, formula
    size) before the symmetry analysis: no found space group, the space-group and cell-size filters not run
    (None); the other summary columns as on the full path (``ratios``: the distance filter's, measured)."""
    for out in [check_min_distance(None, opt.distance_factor, ratios=ratios), *outcomes]:
        res.filters[out.name] = out.passed
        res.extra.update(out.values)
    if opt.max_primitive_sites is not None:
        res.extra["primitive_sites"] = None
    failed = next(out for out in outcomes if not out.passed)
    res.reason, res.detail = failed.reason, failed.detail
    return res


def process_one(
    index: int, item: Any, target: int | None, conditions: dict, opt: _Options, expected: str | None = None
) -> PostprocessResult:
    """Expand, merge and filter one candidate (no dedupe); ``expected``: its condition's formula or None."""
    res = PostprocessResult(index, None, conditions=dict(conditions), target_spacegroup=target)
    res.filters = {"min_distance": None, "spacegroup": None, "formula_size": None, "cell_size": None,
                   "charge_neutral": None, "unique": None}
    if expected is not None:
        res.filters["condition_formula"] = None
    try:
        arrays = _expanded_arrays(item, opt)
    except Exception as exc:  # a broken generated sample must not stop the batch
        res.reason, res.detail = REASON_EXPANSION, f"{type(exc).__name__}: {exc}"
        return res
    matrix, symbols, frac = arrays[:3]
    res.extra = arrays[3] if len(arrays) == 4 else res.extra
    res.n_atoms_before = len(symbols)
    if len(symbols) == 0 or len(symbols) > opt.max_atoms:
        res.reason, res.detail = ((REASON_EXPANSION, "no atoms") if len(symbols) == 0
                                  else (REASON_TOO_MANY, f"{len(symbols)} atoms (limit {opt.max_atoms})"))  # fmt: skip
        return res
    try:
        merged = _merged_structure(res, opt, matrix, symbols, frac, target)
    except Exception as exc:  # e.g. degenerate lattice
        res.reason, res.detail = REASON_MERGE, f"{type(exc).__name__}: {exc}"
        return res
    if isinstance(merged, PostprocessResult):
        return merged
    return _apply_filters(res, *merged, target, opt, expected)


def _process_star(args: tuple) -> PostprocessResult:
    return process_one(*args)


def _targets_and_conditions(
    candidates: Sequence[Any],
    spacegroups: int | Sequence[int | None] | None,
    conditions: Sequence[dict[str, Any]] | None,
) -> tuple[list[int | None], list[dict[str, Any]]]:
    """The target space group and the recorded condition dict of every candidate (see
    :func:`postprocess_candidates`); a length mismatch is a ValueError."""
    n = len(candidates)
    if spacegroups is None:
        targets = [getattr(c, "spacegroup", None) for c in candidates]
    elif isinstance(spacegroups, numbers.Integral):
        targets = [int(spacegroups)] * n
    else:
        targets = [None if t is None else int(t) for t in spacegroups]
    if len(targets) != n:
        raise ValueError(f"{len(targets)} space groups for {n} candidates")
    if conditions is not None and len(conditions) != n:
        raise ValueError(f"{len(conditions)} condition dicts for {n} candidates")
    conds = list(conditions) if conditions is not None else [{"spacegroup": t} for t in targets]
    return targets, conds


def postprocess_candidates(
    candidates: Sequence[Any],
    *,
    spacegroups: int | Sequence[int | None] | None = None,
    conditions: Sequence[dict[str, Any]] | None = None,
    expand: Callable[[Any], Structure] | None = None,
    merge: bool = True,
    merge_factor: float = DEFAULT_MERGE_FACTOR,
    distance_factor: float = DEFAULT_DISTANCE_FACTOR,
    symprec: float = DEFAULT_SYMPREC,
    check_spacegroup: bool = True,
    charge_neutrality: bool = False,
    dedupe: bool = True,
    matcher_kwargs: dict | None = None,
    max_atoms: int = 2000,
    volumes: ElementVolumes | None = None,
    max_formula_atoms: int | None = None,
    max_primitive_sites: int | None = None,
    early_reject: bool = False,
    symmetrized_cif: bool = False,
    condition_formulas: Sequence[str | None] | None = None,
    push_apart: PushApart | None = None,
    workers: int = 2,
    progress: bool = True,
    console: Console | None = None,
    pool: Any = None,
    while_running: Callable[[], None] | None = None,
) -> list[PostprocessResult]:
    """Expand → merge → filter → dedupe every candidate; one :class:`PostprocessResult` per input.

    ``spacegroups``: the target space group per candidate (or one for all); by default each candidate's
    ``spacegroup`` attribute if it has one. The space-group filter compares the merged structure with it at
    ``symprec`` Å. ``conditions``: per-candidate dicts recorded as-is (default ``{"spacegroup": target}``).
    Duplicates (StructureMatcher within one reduced formula and found space group) among accepted candidates
    are rejected as ``"duplicate"``, keeping the first. ``volumes``: rescale each cell isotropically to the
    volume these per-element increments predict for its composition, before merging (and again after, if atoms
    were merged); the linear factor is recorded as ``volume_scale`` (None when an element has no increment).
    ``max_formula_atoms``: reject structures whose reduced formula has more atoms (``formula too large``).
    ``max_primitive_sites``: reject structures whose primitive cell has more atoms (``cell too large``).
    ``early_reject``: reject distance-filter failures before the symmetry analysis, clashes the merge
    cannot fix (:mod:`.early_reject`) before merging, and formulas over ``max_formula_atoms`` or unlike the
    condition's before the symmetry analysis; the accepted candidates are the same, but such rejects carry
    no found space group and no results of the filters not run (None), and no rejected result carries its
    ``structure`` or ``primitive`` (built for accepted candidates only). Rejection reasons are the same except
    for a candidate whose formula is too large and whose space group also changed: the full path names the
    space group (the filter it runs first), this one the formula.
    ``symmetrized_cif``: give each accepted result its CIF text and Wyckoff template from the symmetry
    dataset the filters computed (:mod:`xtalgen.data.symmetrized_cif`), so writing needs no second spglib run.
    ``condition_formulas``: per candidate, the formula its condition asked for (None: not checked); a different
    reduced composition is rejected (``formula differs from the condition``, after the distance filter).
    ``push_apart``: repair too-close atoms after merging, keeping the group (:mod:`.push_apart`; column
    ``push_apart_max_move`` Å, 0: not needed, None: not repaired). ``workers`` processes (1 = serial, in this
    process); ``pool``: a process pool to use instead of starting one (:func:`worker_pool`; left open).
    ``while_running``: called once the jobs are handed to the pool, before their results are collected (work for
    this process meanwhile, e.g. the previous chunk's dedupe; without a pool, before any job runs).
    """
    n = len(candidates)
    targets, conds = _targets_and_conditions(candidates, spacegroups, conditions)
    opt = _Options(expand, merge, merge_factor, distance_factor, symprec, check_spacegroup,
                   charge_neutrality, max_atoms, volumes, max_formula_atoms, max_primitive_sites, early_reject,
                   symmetrized_cif, push_apart)
    if condition_formulas is not None and len(condition_formulas) != n:
        raise ValueError(f"{len(condition_formulas)} condition formulas for {n} candidates")
    expected = list(condition_formulas) if condition_formulas is not None else [None] * n
    jobs = [(i, candidates[i], targets[i], conds[i], opt, expected[i]) for i in range(n)]
    own = pool is None and workers > 1 and n > 1
    pool = mp.get_context().Pool(workers) if own else pool
    try:
        return _run(jobs, pool, workers, while_running, console or Console(stderr=True), progress,
                    (matcher_kwargs or DEFAULT_MATCHER, symprec) if dedupe else None)  # fmt: skip
    finally:
        if own:
            pool.close()
            pool.join()


def _run(jobs: list[tuple], pool: Any, workers: int, while_running: Callable[[], None] | None, console: Console,
         progress: bool, dedupe: tuple | None) -> list[PostprocessResult]:  # fmt: skip
    """Process ``jobs`` in ``pool`` (None: here) in order; ``dedupe``: (matcher kwargs, symprec) or None."""
    n = len(jobs)
    chunk = max(1, min(16, n // (4 * workers) or 1))
    mapped = pool.imap(_process_star, jobs, chunksize=chunk) if pool else map(_process_star, jobs)
    if while_running is not None:
        while_running()
    with progress_bar(console=console, disable=not progress, remaining=False) as bar:
        task = bar.add_task("post-processing", total=n)
        results: list[PostprocessResult] = []
        for res in mapped:
            results.append(res)
            bar.advance(task)
        if dedupe is not None:
            mark_duplicates(results, pool, *dedupe, bar)
    return results
