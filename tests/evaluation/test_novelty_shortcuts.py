"""Novelty's shortcuts give StructureMatcher's verdicts: packed reduced structures, the lattice precheck,
and the on-disk cache of reduced training structures."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict

import numpy as np
from pymatgen.core import Lattice, Structure
from tests.evaluation.conftest import cscl, rocksalt

from xtalgen.evaluation import novelty as novelty_module
from xtalgen.evaluation.base import EvalContext
from xtalgen.evaluation.matching import lattices_compatible, matches_reduced, pack, reduced, unpack
from xtalgen.evaluation.novelty import Novelty
from xtalgen.evaluation.sources import load_generated, load_reference


def test_pack_round_trips_exactly_through_json():
    s = reduced(rocksalt())
    s.perturb(0.05, 0.0)
    back = unpack(json.loads(json.dumps(pack(s))))
    assert np.array_equal(back.lattice.matrix, s.lattice.matrix)
    assert np.array_equal(back.frac_coords, s.frac_coords)
    assert [str(x.specie) for x in back] == [str(x.specie) for x in s]
    disordered = Structure(Lattice.cubic(3.0), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])
    assert unpack(json.loads(json.dumps(pack(disordered)))) == disordered


def test_precheck_never_changes_a_verdict(mp_slice):
    """Same-formula pairs of real MP structures, their perturbed copies and hand-made variants: the fit
    with the lattice precheck agrees with the plain StructureMatcher fit on every pair."""
    _, structures = mp_slice
    rng = np.random.default_rng(0)
    by_formula: dict[str, list[Structure]] = defaultdict(list)
    for s in structures[:100]:
        r = reduced(s)
        by_formula[s.composition.reduced_formula].append(r)
        copy = r.copy()
        copy.perturb(float(rng.uniform(0.0, 0.3)))  # some still match (stol 0.3), some do not
        copy.scale_lattice(r.volume * float(rng.uniform(0.8, 1.2)))
        by_formula[s.composition.reduced_formula].append(copy)
    pairs = [p for group in by_formula.values() for p in itertools.permutations(group, 2) if len(p[0]) == len(p[1])]
    sheared = reduced(rocksalt()).copy()
    sheared.apply_strain([0.6, 0.0, 0.0])  # 60 % longer a (37 % at equal volume): outside ltol 0.2
    pairs += [(reduced(rocksalt()), reduced(rocksalt(5.9))), (reduced(rocksalt()), sheared)]
    pairs += [(reduced(cscl(cation="Na")), reduced(rocksalt()))]
    verdicts = [(matches_reduced(a, b), matches_reduced(a, b, precheck=False)) for a, b in pairs]
    assert [v for v, _ in verdicts] == [w for _, w in verdicts]
    matched = sum(w for _, w in verdicts)
    rejected_early = sum(not lattices_compatible(a, b) for a, b in pairs)
    assert len(pairs) > 100 and matched > 20 and rejected_early > 10  # both outcomes exercised
    assert not lattices_compatible(reduced(rocksalt()), sheared)


def test_reduced_training_structures_are_cached_per_training_set(tmp_path, monkeypatch):
    train = [rocksalt(), cscl(), rocksalt(cation="K"), cscl(cation="K")]
    ref = load_reference([(f"t{i}", s) for i, s in enumerate(train)], name="train")

    def run(structures: list[Structure]) -> tuple[np.ndarray, list[str]]:
        gen = load_generated([(f"g{i}", s) for i, s in enumerate(structures)])
        ctx = EvalContext(gen, train=ref, cache_dir=tmp_path, workers=1, progress=False)
        values = Novelty().per_sample(ctx)
        return values, list(ctx.columns["matched_train_id"])

    values, ids = run([rocksalt(5.8), cscl(cation="Na"), cscl(cation="K", a=4.3)])
    np.testing.assert_array_equal(values, [0, 1, 0])
    assert ids == ["t0", "", "t3"]
    lines = next(tmp_path.glob("ref-*/reduced.jsonl")).read_text().splitlines()
    assert len(lines) == 3  # the same-formula candidates: t0 (NaCl), t2 and t3 (KCl)

    # a later evaluation against the same training set must not reduce those training structures again
    def no_reduction(payload):  # noqa: ANN001, ANN202
        raise AssertionError("training structure reduced twice")

    monkeypatch.setattr(novelty_module, "reduce_job", no_reduction)
    novelty_module._UNPACKED.clear()
    values, ids = run([rocksalt(5.7, cation="K"), rocksalt(5.6)])
    np.testing.assert_array_equal(values, [0, 0])
    assert ids == ["t2", "t0"]
