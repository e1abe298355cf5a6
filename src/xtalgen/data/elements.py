"""Per-element feature vectors for conditioning generators (PGCGM), built from pymatgen.

23 properties, following the kind CubicGAN/PGCGM feed their generator (Zhao et al. 2021):
atomic number, Pauling electronegativity, row, group, mass, atomic radius, Mendeleev number,
average ionic / cationic / anionic radii, max / min / number of common oxidation states, molar
volume, and family flags. Each column is min-max scaled to [-1, 1] over Z = 1..94.

Missing values: a property pymatgen does not know for an element (e.g. the electronegativity of
He, Ne, Ar, or the molar volume of some heavy elements) is replaced by the column mean over the
elements that have it, before scaling. Radii pymatgen reports as 0 (no anion known) stay 0 Å.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from pymatgen.core import Element

MAX_Z = 94

ELEMENT_FEATURE_NAMES: tuple[str, ...] = (
    "Z",
    "electronegativity",
    "row",
    "group",
    "atomic_mass",
    "atomic_radius",
    "mendeleev_no",
    "average_ionic_radius",
    "average_cationic_radius",
    "average_anionic_radius",
    "max_oxidation_state",
    "min_oxidation_state",
    "n_common_oxidation_states",
    "molar_volume",
    "is_transition_metal",
    "is_post_transition_metal",
    "is_rare_earth",
    "is_metalloid",
    "is_alkali",
    "is_alkaline",
    "is_halogen",
    "is_chalcogen",
    "is_noble_gas",
)


def _raw_property(el: Element, name: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if name == "electronegativity":
                value = el.X
            elif name == "n_common_oxidation_states":
                value = len(el.common_oxidation_states)
            elif name == "molar_volume":
                value = el.molar_volume
            elif name == "is_rare_earth":
                value = el.is_rare_earth
            elif name.startswith("is_"):
                value = getattr(el, name)
            else:
                value = getattr(el, name)
            return float(value) if value is not None else float("nan")
        except (AttributeError, TypeError, ValueError):
            return float("nan")


@lru_cache(maxsize=1)
def raw_element_table() -> np.ndarray:
    """Unscaled properties, shape (95, 23); row z is element Z (row 0 unused, NaN filled)."""
    table = np.full((MAX_Z + 1, len(ELEMENT_FEATURE_NAMES)), np.nan)
    for z in range(1, MAX_Z + 1):
        el = Element.from_Z(z)
        table[z] = [_raw_property(el, name) for name in ELEMENT_FEATURE_NAMES]
    return table


@lru_cache(maxsize=1)
def element_feature_table() -> np.ndarray:
    """Scaled features, float32 shape (95, 23) in [-1, 1]; row z is element Z, row 0 is zeros."""
    raw = raw_element_table()[1:].copy()
    col_mean = np.nanmean(raw, axis=0)
    missing = np.isnan(raw)
    raw[missing] = np.take(col_mean, np.nonzero(missing)[1])
    lo, hi = raw.min(axis=0), raw.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = 2.0 * (raw - lo) / span - 1.0
    out = np.zeros((MAX_Z + 1, raw.shape[1]), dtype=np.float32)
    out[1:] = scaled
    out.setflags(write=False)
    return out


def element_features(element: str | int | Element) -> np.ndarray:
    """The 23-feature vector (float32, in [-1, 1]) of an element given by symbol, Z or Element."""
    if isinstance(element, Element):
        z = element.Z
    elif isinstance(element, str):
        try:
            z = Element(element).Z
        except ValueError as exc:
            raise ValueError(f"unknown element symbol {element!r}") from exc
    else:
        z = int(element)
    if not 1 <= z <= MAX_Z:
        raise ValueError(f"element Z={z} outside the supported range 1..{MAX_Z}")
    return element_feature_table()[z]
