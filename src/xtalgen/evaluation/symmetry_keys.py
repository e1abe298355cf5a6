"""Wyckoff keys of a structure: its space group, Wyckoff template and Wyckoff decoration (spglib).

* **template**: space group + multiset of occupied Wyckoff letters (one letter per crystallographic
  orbit), e.g. ``225|a b`` for rock salt: the structure prototype without the elements (WyFormer's
  Wyckoff representation without species; Kazeev et al., arXiv:2503.02407).
* **decoration**: space group + multiset of (element, Wyckoff letter), e.g. ``225|Cl:b Na:a``: the
  structure up to the free coordinates and lattice parameters. Two structures with the same decoration
  are taken as the same known structure by :mod:`xtalgen.evaluation.known_structures` (the role the BAWL
  hash plays in LeMat-GenBench's novelty, which also keys on spglib symmetry and composition).

Letters depend on the origin and setting spglib picks: rock salt comes out as Na:a Cl:b or Cl:a Na:b
depending on the input. Both keys are therefore made canonical over the affine normaliser of the space
group (the alternative Wyckoff sets tabulated by PyXtal, ``Group.get_alternatives``, from the Bilbao
Crystallographic Server): the lexicographically smallest form over all alternatives.
"""

from __future__ import annotations

import string
import warnings
from functools import lru_cache
from typing import Any

from pymatgen.core import Structure

#: spglib tolerance (Å) for the keys: the project default (:data:`xtalgen.evaluation.features.SYMPREC`).
KEY_SYMPREC = 0.1


@lru_cache(maxsize=256)
def letter_maps(spacegroup: int) -> tuple[dict[str, str], ...]:
    """Letter substitutions (a -> a', b -> b', ...) of the space group's alternative Wyckoff sets."""
    from pyxtal.symmetry import Group

    maps = []
    for row in Group(int(spacegroup)).get_alternatives()["Transformed WP"]:
        letters = row.split()
        maps.append(dict(zip(string.ascii_letters[: len(letters)], letters, strict=True)))
    return tuple(maps) or ({},)


def canonical_keys(spacegroup: int, orbits: list[tuple[str, str]]) -> tuple[str, str]:
    """(template, decoration) strings of a structure with ``orbits`` = [(element, letter), ...]."""
    templates, decorations = [], []
    for m in letter_maps(spacegroup):
        templates.append(" ".join(sorted(m.get(w, w) for _, w in orbits)))
        decorations.append(" ".join(sorted(f"{el}:{m.get(w, w)}" for el, w in orbits)))
    return f"{spacegroup}|{min(templates)}", f"{spacegroup}|{min(decorations)}"


def wyckoff_keys(structure: Structure, symprec: float = KEY_SYMPREC) -> dict[str, Any]:
    """``{"spacegroup", "template", "decoration"}`` of one structure (spglib at ``symprec`` Å).

    A structure spglib cannot analyse is keyed as P1 with every site its own orbit at ``a``."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_dataset()
        number = int(data.number)
        reps = sorted(set(int(i) for i in data.equivalent_atoms))
        orbits = [(structure[i].species_string, str(data.wyckoffs[i])) for i in reps]
    except Exception:  # spglib gives up on degenerate cells: no symmetry to report
        number, orbits = 1, [(site.species_string, "a") for site in structure]
    template, decoration = canonical_keys(number, orbits)
    return {"spacegroup": number, "template": template, "decoration": decoration}


def wyckoff_keys_job(payload: Any) -> dict[str, Any]:
    """Worker job: :func:`wyckoff_keys` of a structure payload (Structure or CIF text)."""
    from xtalgen.evaluation.sources import to_structure

    return wyckoff_keys(to_structure(payload))
