"""Cheap stability descriptors of unrelaxed structures."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Structure

from xtalgen.data.radii import atomic_radius
from xtalgen.evaluation.stability_features import FEATURE_NAMES, feature_matrix, stability_features


def _rocksalt(a: float = 5.64) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _f(structure: Structure) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, stability_features(structure), strict=True))


def test_rocksalt_values_are_the_chemistry() -> None:
    f = _f(_rocksalt())
    assert f["n_elements"] == 2 and f["smact_valid"] == 1.0
    assert f["spacegroup"] == 225 and f["crystal_system"] == 6 and f["orbit_share"] == 2 / 8
    assert f["nn_same_element_share"] == 0.0  # every atom's nearest neighbour is the other element
    assert np.isclose(f["min_distance_ratio"], 2.82 / (atomic_radius("Na") + atomic_radius("Cl")))
    assert np.isclose(f["electronegativity_range"], 3.16 - 0.93)
    assert np.isclose(f["share_alkali"], 0.5) and np.isclose(f["share_halogen"], 0.5)
    assert f["formula_known"] == 1.0 and f["log_known_polymorphs"] > 0  # NaCl is in the known-structures table
    assert _f(Structure(Lattice.cubic(4), ["Na", "Xe"], [[0, 0, 0], [0.5, 0.5, 0.5]]))["formula_known"] == 0.0


def test_geometry_follows_the_structure() -> None:
    loose, tight = _f(_rocksalt(5.64)), _f(_rocksalt(4.5))
    assert tight["min_distance_ratio"] < loose["min_distance_ratio"]
    assert tight["volume_ratio"] < loose["volume_ratio"]
    # same composition: the composition block is unchanged
    assert loose["electronegativity_mean"] == tight["electronegativity_mean"]
    # an element counts as valid (an alloy); a charge-unbalanced salt does not
    assert _f(Structure(Lattice.cubic(3), ["Na", "Na"], [[0, 0, 0], [0.5, 0.5, 0.5]]))["smact_valid"] == 1.0
    naf2 = Structure(Lattice.cubic(4), ["Na", "F", "F"], [[0, 0, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.5]])
    assert _f(naf2)["smact_valid"] == 0.0


def test_matrix_shape_and_empty() -> None:
    assert feature_matrix([_rocksalt(), _rocksalt(5.0)]).shape == (2, len(FEATURE_NAMES))
    assert feature_matrix([]).shape == (0, len(FEATURE_NAMES))
