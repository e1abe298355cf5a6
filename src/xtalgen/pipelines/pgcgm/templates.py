"""Wyckoff templates of the general PGCGM: which site of which space group holds which element "role".

A template is a training material's space group, the multiplicities of its base sites and, per site, the
role of its element: the element's rank by electronegativity among the material's distinct elements
(0 = most electropositive). SrTiO3 in Pm-3m is (221, multiplicities 1 1 3, roles 0 1 2): the
least electronegative element on a 1-fold site, the next on the other 1-fold site, the most
electronegative on the 3-fold site. A user's element set is mapped onto a template by the same order,
so Sr, Ti, O in 221 becomes Sr 1 + Ti 1 + O 3 = SrTiO3, never SrTiO12.

Among the templates with as many roles as the user gave elements (and the requested space groups and
size), those whose formula is charge-balanced with the elements' common oxidation states (pymatgen's
``Element.common_oxidation_states``) are preferred; when none is (intermetallics), all are used. Each is
drawn in proportion to its number of training materials, or, in ``balanced`` mode, a space group is drawn
uniformly first and a template within it by count.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from xtalgen.pipelines.pgcgm.conditions import CONDITIONS_FILE, _order_key, _symbol
from xtalgen.pipelines.run_files import find_run_file
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays

#: (space group, element per base site, Wyckoff multiplicity per base site).
SiteCondition = tuple[int, tuple[str, ...], tuple[int, ...]]
#: Most distinct elements a condition may have.
MAX_ELEMENTS = 5


@dataclass(frozen=True)
class Template:
    """One (space group, multiplicities, roles) with the training element sets that have it."""

    spacegroup: int
    multiplicities: tuple[int, ...]
    roles: tuple[int, ...]
    count: int
    examples: tuple[tuple[tuple[str, ...], int], ...]  # (elements per site, count) of training materials

    @property
    def n_elements(self) -> int:
        return max(self.roles) + 1

    @property
    def n_atoms(self) -> int:
        """Atoms in the conventional cell."""
        return int(sum(self.multiplicities))

    def assign(self, ordered: tuple[str, ...]) -> tuple[str, ...]:
        """Element per base site for elements ``ordered`` by :func:`role_order`."""
        return tuple(ordered[r] for r in self.roles)


def role_order(elements: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Distinct elements sorted by (Pauling electronegativity, Z): role 0 first."""
    return tuple(sorted(set(elements), key=_order_key))


def roles_of(species: tuple[str, ...]) -> tuple[int, ...]:
    """Role index of each site's element."""
    order = role_order(species)
    return tuple(order.index(s) for s in species)


def template_rows(arrays: BaseSiteArrays) -> list[dict[str, object]]:
    """One row per distinct (space group, elements per site, multiplicities) of the training materials."""
    first = np.unique(arrays.material_index, return_index=True)[1]
    counts: Counter[tuple[int, str, str]] = Counter()
    for i in first:
        mask = arrays.site_mask[i]
        elems = " ".join(_symbol(z) for z in arrays.element_z[i][mask])
        mults = " ".join(str(int(m)) for m in arrays.multiplicity[i][mask])
        counts[(int(arrays.spacegroup[i]), elems, mults)] += 1
    return [{"spacegroup": sg, "elements": e, "multiplicities": m, "count": n}
            for (sg, e, m), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]  # fmt: skip


def write_template_table(arrays: BaseSiteArrays, path: Path) -> Path:
    """Write :func:`template_rows` as the run's ``conditions.csv`` (atomic)."""
    from xtalgen.data.atomic import atomic_write

    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["spacegroup", "elements", "multiplicities", "count"])
        writer.writeheader()
        writer.writerows(template_rows(arrays))
    return path


def read_templates(checkpoint_dir: Path) -> list[Template]:
    """Templates from the run's ``conditions.csv`` (with its ``multiplicities`` column), beside the
    checkpoint or in a parent folder."""
    path = find_run_file(checkpoint_dir, CONDITIONS_FILE)
    if path is None:
        raise FileNotFoundError(f"no {CONDITIONS_FILE} next to checkpoint {checkpoint_dir}")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "multiplicities" not in rows[0]:
        raise ValueError(f"{path}: no multiplicities column (not a general PGCGM run)")
    return group_templates(rows)


def group_templates(rows: list[dict[str, object]]) -> list[Template]:
    """Group condition rows into templates (most frequent first)."""
    groups: dict[tuple[int, tuple[int, ...], tuple[int, ...]], list[tuple[tuple[str, ...], int]]] = {}
    for r in rows:
        species = tuple(str(r["elements"]).split())
        mults = tuple(int(m) for m in str(r["multiplicities"]).split())
        key = (int(r["spacegroup"]), mults, roles_of(species))  # type: ignore[arg-type]
        groups.setdefault(key, []).append((species, int(r["count"])))  # type: ignore[arg-type]
    out = [Template(sg, m, ro, sum(c for _, c in ex), tuple(ex)) for (sg, m, ro), ex in groups.items()]
    return sorted(out, key=lambda t: (-t.count, t.spacegroup, t.multiplicities))


@lru_cache(maxsize=512)
def _oxidation_combos(ordered: tuple[str, ...]) -> np.ndarray:
    """Every combination (n, len(ordered)) of the elements' common oxidation states (0 if they have none)."""
    from pymatgen.core import Element

    states = [tuple(Element(e).common_oxidation_states) or (0,) for e in ordered]
    return np.array(list(itertools.product(*states)), dtype=np.int64)


def site_counts(species: tuple[str, ...], multiplicities: tuple[int, ...]) -> dict[str, int]:
    """Atoms per element in the conventional cell: each base site's element × its Wyckoff multiplicity."""
    counts: dict[str, int] = {}
    for el, m in zip(species, multiplicities, strict=True):
        counts[el] = counts.get(el, 0) + int(m)
    return counts


def condition_formula(condition: SiteCondition) -> str:
    """The conventional-cell formula a condition asks for, e.g. ``Sr1 Ti1 O3`` for (221, Sr Ti O, 1 1 3)."""
    return " ".join(f"{el}{n}" for el, n in site_counts(condition[1], condition[2]).items())


def charge_balanced(template: Template, ordered: tuple[str, ...]) -> bool:
    """Whether the template's formula with ``ordered`` elements balances with common oxidation states.

    Every element must carry a non-zero state; one state per element (no mixed valence).
    """
    per_element = site_counts(template.assign(ordered), template.multiplicities)
    counts = np.array([per_element.get(e, 0) for e in ordered], dtype=np.int64)
    combos = _oxidation_combos(ordered)
    ok = (combos != 0).all(axis=1) & ((combos @ counts) == 0)
    return bool(ok.any())


def _draw(templates: list[Template], weights: np.ndarray, n: int, balanced: bool,
          rng: np.random.Generator) -> list[Template]:  # fmt: skip
    if not balanced:
        idx = rng.choice(len(templates), size=n, p=weights / weights.sum())
        return [templates[i] for i in idx]
    by_sg: dict[int, list[int]] = {}
    for i, t in enumerate(templates):
        by_sg.setdefault(t.spacegroup, []).append(i)
    sgs = sorted(by_sg)
    out = []
    for sg in rng.choice(sgs, size=n):
        members = by_sg[int(sg)]
        w = weights[members]
        out.append(templates[members[rng.choice(len(members), p=w / w.sum())]])
    return out


def _filter(templates: list[Template], spacegroup: list[int] | None, max_atoms: int | None, max_sites: int,
            n_elements: int | None) -> list[Template]:  # fmt: skip
    return [t for t in templates
            if (not spacegroup or t.spacegroup in spacegroup) and (not max_atoms or t.n_atoms <= max_atoms)
            and len(t.roles) <= max_sites and (n_elements is None or t.n_elements == n_elements)]  # fmt: skip


def _describe(spacegroup: list[int] | None, max_atoms: int | None) -> str:
    parts = [f"space group {', '.join(map(str, spacegroup))}" if spacegroup else "",
             f"at most {max_atoms} atoms per cell" if max_atoms else ""]  # fmt: skip
    return " and ".join(p for p in parts if p) or "any space group"


def conditions_for_elements(
    n: int, templates: list[Template], elements: tuple[str, ...], *, spacegroup: list[int] | None = None,
    max_atoms: int | None = None, max_sites: int = 99, balanced: bool = False, rng: np.random.Generator,
) -> list[SiteCondition]:  # fmt: skip
    """``n`` conditions for one user element set (1..5 distinct elements) following the module docstring."""
    if not 1 <= len(elements) <= MAX_ELEMENTS or len(set(elements)) != len(elements):
        raise ValueError(f"element set {list(elements)}: need 1..{MAX_ELEMENTS} distinct elements")
    ordered = role_order(elements)
    fit = _filter(templates, spacegroup, max_atoms, max_sites, len(ordered))
    if not fit:
        raise ValueError(f"elements {','.join(elements)}: no training template with {len(ordered)} elements "
                         f"fits {_describe(spacegroup, max_atoms)}")  # fmt: skip
    ok = np.array([charge_balanced(t, ordered) for t in fit])
    if ok.any():
        fit = [t for t, good in zip(fit, ok, strict=True) if good]
    chosen = _draw(fit, np.array([t.count for t in fit], dtype=np.float64), n, balanced, rng)
    return [(t.spacegroup, t.assign(ordered), t.multiplicities) for t in chosen]


def choose_site_conditions(
    n: int, templates: list[Template], *, spacegroup: list[int] | None = None,
    elements: list[list[str]] | None = None, max_atoms: int | None = None, max_sites: int = 99,
    balanced: bool = False, rng: np.random.Generator,
) -> list[SiteCondition]:  # fmt: skip
    """``n`` conditions: for the user's element sets in turn, or drawn with the training elements."""
    for sg in spacegroup or []:
        if not 1 <= int(sg) <= 230:
            raise ValueError(f"space group {sg}: must be in 1..230")
    sgs = [int(s) for s in spacegroup] if spacegroup else None
    if elements:
        sets = [tuple(str(e).strip() for e in els) for els in elements]
        share = [n // len(sets) + (i < n % len(sets)) for i in range(len(sets))]
        out: list[SiteCondition] = []
        for els, k in zip(sets, share, strict=True):
            out += conditions_for_elements(k, templates, els, spacegroup=sgs, max_atoms=max_atoms,
                                           max_sites=max_sites, balanced=balanced, rng=rng) if k else []  # fmt: skip
        return out
    fit = _filter(templates, sgs, max_atoms, max_sites, None)
    if not fit:
        raise ValueError(f"no training template fits {_describe(sgs, max_atoms)}")
    out = []
    for t in _draw(fit, np.array([t.count for t in fit], dtype=np.float64), n, balanced, rng):
        w = np.array([c for _, c in t.examples], dtype=np.float64)
        species = t.examples[rng.choice(len(w), p=w / w.sum())][0]
        out.append((t.spacegroup, species, t.multiplicities))
    return out
