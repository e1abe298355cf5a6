"""Deduplication of accepted post-processing results, and the process pool the post-processing shares.

Two accepted results are copies when they share reduced formula and found space group and pymatgen's
StructureMatcher matches their primitive cells; the later one is rejected as ``"duplicate"``.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import Progress

from xtalgen.postprocess.dedupe import DEFAULT_MATCHER, duplicates_in_group, group_keys, primitive_structure
from xtalgen.postprocess.filters import DEFAULT_SYMPREC
from xtalgen.progress import progress_bar

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from xtalgen.postprocess.results import PostprocessResult

REASON_DUPLICATE = "duplicate"


@contextmanager
def worker_pool(workers: int) -> Iterator[Any]:
    """One process pool of ``workers`` processes for several post-processing / dedupe calls (None when
    ``workers`` <= 1: those calls then run serially); closed and joined on exit."""
    if workers <= 1:
        yield None
        return
    pool = mp.get_context().Pool(workers)
    try:
        yield pool
    finally:
        pool.close()
        pool.join()


def _dedupe_star(args: tuple) -> dict[int, int]:
    return duplicates_in_group(*args)


def dedupe_results(
    results: list[PostprocessResult],
    *,
    matcher_kwargs: dict | None = None,
    symprec: float = DEFAULT_SYMPREC,
    workers: int = 2,
    progress: bool = True,
    console: Console | None = None,
    since: int = 0,
    pool: Any = None,
) -> None:
    """Reject later copies among the accepted ``results`` in place (as ``postprocess_candidates`` does),
    e.g. over several batches post-processed with ``dedupe=False``; earlier rejections are kept.
    ``since``: ``results[:since]`` were already deduplicated among themselves, so only groups with a result
    from ``since`` on are compared. ``pool``: a process pool to use instead of starting one (left open)."""
    own = pool is None and workers > 1 and len(results) > 1
    pool = mp.get_context().Pool(workers) if own else pool
    try:
        with progress_bar(console=console or Console(stderr=True), disable=not progress, remaining=False) as bar:
            mark_duplicates(results, pool, matcher_kwargs or DEFAULT_MATCHER, symprec, bar, since)
    finally:
        if own:
            pool.close()
            pool.join()


def _cell_to_compare(result: PostprocessResult) -> Structure:
    """The primitive cell of an accepted result (built from ``primitive_cell`` on first use), else its structure."""
    if result.primitive is None and result.primitive_cell is not None:
        result.primitive = primitive_structure(result.primitive_cell)
    return result.primitive or result.structure


def mark_duplicates(
    results: list[PostprocessResult], pool, matcher_kwargs: dict, symprec: float, bar: Progress, since: int = 0
) -> None:
    """Reject later copies among accepted results (same formula and found space group); groups whose
    members all come before ``since`` were compared before and are skipped."""
    for r in results:  # each accepted cell's formula once, not once per chunk
        if r.accepted and r.group_formula is None:
            r.group_formula = _cell_to_compare(r).composition.reduced_formula
    accepted = [(r.primitive or r.primitive_cell or r.structure) if r.accepted else None for r in results]
    keys = group_keys(accepted, [r.spacegroup for r in results], [r.group_formula for r in results])
    groups = [g for g in keys.values() if len(g) > 1 and max(g) >= since]
    for i in {i for g in groups for i in g}:  # structures only for the groups compared
        accepted[i] = _cell_to_compare(results[i])
    task = bar.add_task("dedupe", total=len(groups))
    # Each job carries only its group's structures, indexed locally 0..len(g)-1.
    jobs = [([accepted[i] for i in g], list(range(len(g))), matcher_kwargs, symprec, False) for g in groups]
    mapped = pool.imap(_dedupe_star, jobs) if pool else map(_dedupe_star, jobs)
    for g, found in zip(groups, mapped, strict=True):
        for i, rep in found.items():
            r = results[g[i]]
            r.accepted, r.reason, r.duplicate_of = False, REASON_DUPLICATE, g[rep]
            r.detail = f"matches candidate {g[rep]}"
            r.filters["unique"] = False
        bar.advance(task)
    for r in results:
        if r.accepted:
            r.filters["unique"] = True
