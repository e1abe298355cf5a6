"""Atomic radii (Å) shared by the PGCGM physics losses, the merge threshold and the distance filter.

Rule: pymatgen's empirical atomic radius (Slater 1964, ``Element.atomic_radius``); where it is
missing (He, Ne, Kr, Xe, Rn) the calculated radius (Clementi 1967, ``atomic_radius_calculated``);
then the average ionic radius (At, Fr).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

from pymatgen.core import Element


@lru_cache(maxsize=128)
def atomic_radius(element: str | int) -> float:
    """Atomic radius in Å of an element given by symbol or Z (see module docstring for the rule)."""
    el = Element.from_Z(element) if isinstance(element, int) else Element(element)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for value in (el.atomic_radius, el.atomic_radius_calculated, el.average_ionic_radius):
            if value is not None and math.isfinite(float(value)) and float(value) > 0:
                return float(value)
    raise ValueError(f"no atomic radius known for {el.symbol}")
