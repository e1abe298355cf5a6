"""Cheap descriptors of an unrelaxed structure for predicting whether it relaxes to near the hull.

No potential is run: composition statistics of tabulated element properties (pymatgen), SMACT charge
neutrality, and geometry of the structure as given (interatomic distances against summed atomic radii,
nearest-neighbour electronegativity contrast, coordination, volume against the shipped element-volume
table, spglib symmetry at 0.1 Å) and how many known structures (the novelty table of
:mod:`~xtalgen.evaluation.known_structures`) share its reduced formula. About 5–15 ms per structure of ≤ 60
sites, plus one load of the known-structures table per process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pymatgen.core import Structure

from xtalgen.data.elements import ELEMENT_FEATURE_NAMES, raw_element_table
from xtalgen.data.radii import atomic_radius

#: Element properties summarised over the atoms of a structure (mean, range and standard deviation).
COMPOSITION_PROPERTIES = ("electronegativity", "Z", "row", "group", "mendeleev_no", "atomic_radius")
#: Element family flags averaged over the atoms (the share of atoms in each family).
FAMILY_FLAGS = ("is_transition_metal", "is_post_transition_metal", "is_rare_earth", "is_metalloid", "is_alkali",
                "is_alkaline", "is_halogen", "is_chalcogen", "is_noble_gas")  # fmt: skip
#: Two atoms are neighbours when closer than this factor × their summed atomic radii.
NEIGHBOUR_FACTOR = 1.3
SYMPREC = 0.1  # Å, as the evaluation's symmetry metrics

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{p}_{stat}" for p in COMPOSITION_PROPERTIES for stat in ("mean", "range", "std")),
    *(f"share_{flag[3:]}" for flag in FAMILY_FLAGS),
    "n_elements", "log_n_sites", "smact_valid",
    "volume_ratio", "min_distance_ratio", "nn_distance_ratio_mean", "nn_distance_ratio_std",
    "coordination_mean", "nn_electronegativity_contrast", "nn_same_element_share",
    "spacegroup", "crystal_system", "orbit_share", "formula_known", "log_known_polymorphs",
)  # fmt: skip

_CRYSTAL_SYSTEM_BOUNDS = (2, 15, 74, 142, 167, 194, 230)  # last space group of triclinic ... cubic


@lru_cache(maxsize=1)
def _property_columns() -> np.ndarray:
    """(95, P) raw element properties of :data:`COMPOSITION_PROPERTIES` + :data:`FAMILY_FLAGS`, NaN -> column mean."""
    table = raw_element_table()
    cols = [ELEMENT_FEATURE_NAMES.index(p) for p in (*COMPOSITION_PROPERTIES, *FAMILY_FLAGS)]
    out = table[:, cols].copy()
    mean = np.nanmean(out[1:], axis=0)
    rows, colidx = np.nonzero(np.isnan(out))
    out[rows, colidx] = mean[colidx]
    return out


@lru_cache(maxsize=128)
def _radius(z: int) -> float:
    return atomic_radius(z)


def _smact_valid(structure: Structure) -> float:
    from xtalgen.evaluation.composition_validity import composition_validity

    try:
        return float(composition_validity(structure.composition))
    except Exception:  # noqa: BLE001 - an odd composition is "not valid", not a crash
        return 0.0


def _volume_ratio(structure: Structure) -> float:
    predicted = _element_volumes().predict(s.specie.symbol for s in structure)
    return structure.volume / predicted if predicted else 1.0


@lru_cache(maxsize=1)
def _element_volumes():  # noqa: ANN202 - ElementVolumes, imported lazily
    from xtalgen.postprocess.volume import ElementVolumes

    return ElementVolumes.default()


def _geometry(structure: Structure, z: np.ndarray, chi: np.ndarray) -> list[float]:
    """Distance, coordination and contrast descriptors of the structure as given."""
    radii = np.array([_radius(int(v)) for v in z])
    cutoff = float(NEIGHBOUR_FACTOR * 2 * radii.max()) + 0.5
    centre, other, _, dist = structure.get_neighbor_list(cutoff)
    n = len(structure)
    if len(dist) == 0:
        return [3.0, 3.0, 0.0, 0.0, 0.0, 0.0]
    ratio = dist / (radii[centre] + radii[other])
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, centre, ratio)
    nearest[~np.isfinite(nearest)] = 3.0
    bonded = ratio < NEIGHBOUR_FACTOR
    coordination = np.bincount(centre[bonded], minlength=n)
    # nearest neighbour of each atom (by radius ratio): electronegativity contrast and same-element share
    order = np.lexsort((ratio, centre))
    first = order[np.r_[True, centre[order][1:] != centre[order][:-1]]]
    contrast = np.abs(chi[centre[first]] - chi[other[first]])
    same = z[centre[first]] == z[other[first]]
    return [float(ratio.min()), float(nearest.mean()), float(nearest.std()), float(coordination.mean()),
            float(contrast.mean()), float(same.mean())]  # fmt: skip


def _symmetry(structure: Structure) -> list[float]:
    import spglib

    cell = (structure.lattice.matrix, structure.frac_coords, np.array(structure.atomic_numbers))
    data = spglib.get_symmetry_dataset(cell, symprec=SYMPREC)
    if data is None:
        return [1.0, 0.0, 1.0]
    sg = int(data.number)
    system = next(i for i, last in enumerate(_CRYSTAL_SYSTEM_BOUNDS) if sg <= last)
    orbits = len(set(np.asarray(data.equivalent_atoms).tolist()))
    return [float(sg), float(system), orbits / len(structure)]


@lru_cache(maxsize=1)
def _known_formula_counts() -> dict[str, int]:
    """Known structures per reduced formula (empty when no known-structures table is installed)."""
    from collections import Counter

    from xtalgen.evaluation.known_structures import load_known_structures

    try:
        return dict(Counter(load_known_structures().formulas))
    except FileNotFoundError:
        return {}


def _known(structure: Structure) -> list[float]:
    count = _known_formula_counts().get(structure.composition.reduced_formula, 0)
    return [float(count > 0), float(np.log1p(count))]


def stability_features(structure: Structure) -> np.ndarray:
    """The :data:`FEATURE_NAMES` descriptors (float64) of one ordered structure, unrelaxed."""
    z = np.array(structure.atomic_numbers, dtype=int)
    props = _property_columns()[z]
    k = len(COMPOSITION_PROPERTIES)
    comp = []
    for j in range(k):
        col = props[:, j]
        comp += [float(col.mean()), float(col.max() - col.min()), float(col.std())]
    families = props[:, k:].mean(axis=0).tolist()
    chi = props[:, COMPOSITION_PROPERTIES.index("electronegativity")]
    counts = [float(len(set(z.tolist()))), float(np.log(len(z))), _smact_valid(structure)]
    geometry = [_volume_ratio(structure), *_geometry(structure, z, chi)]
    return np.array([*comp, *families, *counts, *geometry, *_symmetry(structure), *_known(structure)], dtype=float)


def feature_matrix(structures: list[Structure]) -> np.ndarray:
    """(n, len(FEATURE_NAMES)) descriptors of ``structures``."""
    if not structures:
        return np.zeros((0, len(FEATURE_NAMES)))
    return np.stack([stability_features(s) for s in structures])
