"""Distributions compare like with like: the cell a structure is written in does not show up as a
distribution difference (primitive Niggli-reduced cells on both sides)."""

from __future__ import annotations

import pandas as pd
import pytest
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.evaluation.distributions import Distributions, distribution_distances
from xtalgen.evaluation.features import basic_features
from xtalgen.evaluation.runner import evaluate
from xtalgen.evaluation.validity import StructuralValidity


def test_conventional_and_primitive_cells_of_the_same_structures_have_equal_distributions(mp_slice):
    frame, structures = mp_slice
    test = [(i, s) for i, s, split in zip(frame["material_id"], structures, frame["split"], strict=True)
            if split == "test"][:60]  # fmt: skip
    conventional = [(i, SpacegroupAnalyzer(s, symprec=0.1).get_conventional_standard_structure()) for i, s in test]
    primitive = [(i, SpacegroupAnalyzer(s, symprec=0.1).get_primitive_standard_structure()) for i, s in test]
    # as written, the cells differ: more sites and longer edges in the conventional cells
    given = distribution_distances(pd.DataFrame([basic_features(s) for _, s in conventional]),
                                   pd.DataFrame([basic_features(s) for _, s in primitive]))  # fmt: skip
    assert given["ks.nsites"] > 0.2 and max(given["ks.a"], given["ks.b"], given["ks.c"]) > 0.1
    result = evaluate(conventional, test=primitive, workers=1, progress=False,
                      metrics=[StructuralValidity(), Distributions("test")])  # fmt: skip
    m = result.metrics
    for key in ("ks.a", "ks.b", "ks.c", "ks.alpha", "ks.beta", "ks.gamma", "ks.nsites", "ks.atomic_numbers"):
        assert m[key] == pytest.approx(0.0, abs=0.04), key
    assert m["wasserstein.density"] == pytest.approx(0.0, abs=1e-6)
    assert result.meta["distribution_reference"] == "test" and result.meta["distribution_reference_size"] == len(test)
    assert result.meta["distribution_cells"] == "primitive, Niggli-reduced"
    assert len(result.generated_properties) == len(result.test_properties) == len(test) > 40
