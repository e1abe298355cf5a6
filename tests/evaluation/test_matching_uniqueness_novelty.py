from __future__ import annotations

import numpy as np
import pytest
from tests.evaluation.conftest import cscl, rocksalt

from xtalgen.evaluation.base import EvalContext
from xtalgen.evaluation.novelty import Novelty
from xtalgen.evaluation.sources import load_generated, load_reference
from xtalgen.evaluation.uniqueness import Uniqueness, equivalence_classes


def _ctx(structures, train=None):
    gen = load_generated([(f"g{i}", s) for i, s in enumerate(structures)])
    ref = load_reference([(f"t{i}", s) for i, s in enumerate(train)], name="train") if train else None
    return EvalContext(gen, train=ref, workers=1, progress=False)


def test_equivalence_classes_merge_supercells_and_rescaled_copies():
    a = rocksalt()
    sup = a.copy()
    sup.make_supercell([2, 1, 1])
    scaled = rocksalt(5.9)  # 5% larger: StructureMatcher scales volumes
    shifted = a.copy()
    shifted.translate_sites(list(range(len(a))), [0.1, 0.2, 0.3])
    other = cscl(cation="Na")  # same formula, different structure
    assert equivalence_classes([a, sup, scaled, shifted, other]) == [0, 0, 0, 0, 1]


def test_uniqueness_counts_first_of_each_class_among_valid():
    from pymatgen.core import Lattice, Structure

    bad = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])  # invalid: excluded
    structures = [rocksalt(), rocksalt(5.7), cscl(cation="Na"), rocksalt(cation="K"), bad]
    ctx = _ctx(structures)
    metric = Uniqueness()
    values = metric.per_sample(ctx)
    np.testing.assert_array_equal(values[:4], [1, 0, 1, 1])
    assert np.isnan(values[4])
    assert metric.aggregate(ctx, values)["uniqueness"] == pytest.approx(3 / 4)


def test_novelty_against_training_set_and_matched_id():
    train = [rocksalt(), cscl()]
    gen = [rocksalt(5.8), cscl(cation="Na"), rocksalt(cation="K")]  # first matches t0; others are new
    ctx = _ctx(gen, train)
    metric = Novelty()
    values = metric.per_sample(ctx)
    np.testing.assert_array_equal(values, [0, 1, 1])
    assert list(ctx.columns["matched_train_id"]) == ["t0", "", ""]
    assert metric.aggregate(ctx, values)["novelty"] == pytest.approx(2 / 3)
