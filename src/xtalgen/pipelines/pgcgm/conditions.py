"""PGCGM's sampling conditions: the training run's table of (space group, base-site elements) and the rules
that turn a request into one condition per candidate.

The table (``conditions.csv``: ``spacegroup, elements, count``) is written at training time into the run
folder and shipped with a packaged model. Conditions come from the user or are drawn from it:

* space groups and element sets both given: every (space group, elements) combination, in turn;
* only element sets: space groups drawn from the training materials with those elements (or from
  all training space groups if none has them);
* only space groups: element sets drawn from the training materials of those groups (or from all);
* neither: (space group, elements) pairs drawn from the training materials.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from xtalgen.data.atomic import atomic_write
from xtalgen.pipelines.run_files import find_run_file
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays

#: The condition table's file name, in a PGCGM run folder and a packaged PGCGM model.
CONDITIONS_FILE = "conditions.csv"

Condition = tuple[int, tuple[str, ...]]


def _symbol(z: int) -> str:
    from pymatgen.core import Element

    return Element.from_Z(int(z)).symbol


def condition_table(arrays: BaseSiteArrays) -> list[dict[str, Any]]:
    """One row per distinct (space group, base-site elements) of the training materials, with counts."""
    first = np.unique(arrays.material_index, return_index=True)[1]
    counts: Counter[tuple[int, str]] = Counter()
    for i in first:
        zs = arrays.element_z[i][arrays.site_mask[i]]
        elems = " ".join(_symbol(z) for z in zs)
        counts[(int(arrays.spacegroup[i]), elems)] += 1
    return [
        {"spacegroup": sg, "elements": elems, "count": n}
        for (sg, elems), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def write_condition_table(arrays: BaseSiteArrays, path: Path) -> Path:
    """Write :func:`condition_table` as CSV (atomic)."""
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["spacegroup", "elements", "count"])
        writer.writeheader()
        writer.writerows(condition_table(arrays))
    return path


def read_condition_table(checkpoint_dir: Path) -> list[tuple[int, tuple[str, ...], int]]:
    """(space group, elements, count) rows of the training run's ``conditions.csv``.

    Looked up in the checkpoint folder and its parents (the run folder holds it).
    """
    path = find_run_file(checkpoint_dir, CONDITIONS_FILE)
    if path is None:
        raise FileNotFoundError(
            f"no {CONDITIONS_FILE} next to checkpoint {checkpoint_dir}; give --spacegroup and --elements"
        )
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        col = {name: k for k, name in enumerate(next(rows, []))}
        sg, els, n = col["spacegroup"], col["elements"], col["count"]
        return [(int(r[sg]), tuple(r[els].split()), int(r[n])) for r in rows if r]


@lru_cache(maxsize=256)
def _order_key(symbol: str) -> tuple[float, int]:
    from pymatgen.core import Element

    try:
        el = Element(symbol)
    except ValueError as exc:
        raise ValueError(f"unknown element symbol {symbol!r}") from exc
    x = float(el.X)
    return (x if math.isfinite(x) else math.inf, el.Z)


def order_species(elements: list[str] | tuple[str, ...], max_sites: int) -> tuple[str, ...]:
    """Element symbols in base-site order (electronegativity, then Z), validated against ``max_sites``."""
    elems = tuple(str(e).strip() for e in elements)
    if not elems or len(elems) > max_sites:
        raise ValueError(f"element set {list(elems)}: need 1..{max_sites} elements (the model's base sites)")
    if len(set(elems)) != len(elems):
        raise ValueError(f"element set {list(elems)}: elements must be distinct (one base site each)")
    return tuple(sorted(elems, key=_order_key))


def choose_conditions(
    n: int,
    table: list[tuple[int, tuple[str, ...], int]] | None,
    spacegroup: list[int] | None,
    elements: list[list[str]] | None,
    max_sites: int,
    rng: np.random.Generator,
) -> list[Condition]:
    """``n`` (space group, ordered elements) conditions following the rules in the module docstring."""
    for sg in spacegroup or []:
        if not 1 <= int(sg) <= 230:
            raise ValueError(f"space group {sg}: must be in 1..230")
    sets = [order_species(e, max_sites) for e in elements] if elements else None
    sgs = [int(s) for s in spacegroup] if spacegroup else None
    if sgs and sets:
        combos = [(sg, els) for sg in sgs for els in sets]
        return [combos[i % len(combos)] for i in range(n)]
    if not table:
        raise ValueError("no training condition table: give both space groups and element sets")

    def draw(rows: list[tuple[int, tuple[str, ...], int]]) -> list[tuple[int, tuple[str, ...], int]]:
        weights = np.array([r[2] for r in rows], dtype=np.float64)
        idx = rng.choice(len(rows), size=n, p=weights / weights.sum())
        return [rows[i] for i in idx]

    if sets:
        out = []
        for i, els in enumerate(sets * (n // len(sets) + 1)):
            if i == n:
                break
            rows = [r for r in table if set(r[1]) == set(els)] or table
            w = np.array([r[2] for r in rows], dtype=np.float64)
            out.append((rows[rng.choice(len(rows), p=w / w.sum())][0], els))
        return out
    if sgs:
        rows = [r for r in table if r[0] in sgs]
        if rows:
            return [(sg, els) for sg, els, _ in draw(rows)]
        return [(sgs[i % len(sgs)], r[1]) for i, r in enumerate(draw(table))]
    return [(sg, els) for sg, els, _ in draw(table)]



def condition_tensors(conditions: list[Any], k: int, general: bool) -> tuple[Any, ...]:
    """Network inputs of ``conditions`` ``(sg, elements[, multiplicities])`` for a model with ``k`` base sites:
    space groups (n,), element features (n, k, F), site mask (n, k), crystal systems (n,) and, for a general
    model, multiplicities (n, k) (else None), as CPU tensors."""
    import torch

    from xtalgen.data.crystal_systems import crystal_systems
    from xtalgen.data.elements import element_features
    from xtalgen.representations.basesites.training_arrays import N_FEATURES

    n = len(conditions)
    feats = np.zeros((n, k, N_FEATURES), np.float32)
    mask = np.zeros((n, k), bool)
    mults = np.zeros((n, k), np.int64)
    for i, cond in enumerate(conditions):
        els = cond[1]
        if len(els) > k:
            raise ValueError(f"condition {cond}: {len(els)} base sites, the model has {k}")
        feats[i, : len(els)] = [element_features(e) for e in els]
        mask[i, : len(els)] = True
        if len(cond) > 2:
            mults[i, : len(els)] = cond[2]
    sgs = np.array([c[0] for c in conditions], dtype=np.int64)
    return (torch.from_numpy(sgs), torch.from_numpy(feats), torch.from_numpy(mask),
            torch.from_numpy(crystal_systems(sgs)), torch.from_numpy(mults) if general else None)  # fmt: skip
