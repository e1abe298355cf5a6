"""Sanity checks on real MP data (the issue's acceptance criteria, on a small slice)."""

from __future__ import annotations

import pytest
from smact.screening import smact_validity

from xtalgen.evaluation import base as base_module
from xtalgen.evaluation.runner import evaluate
from xtalgen.evaluation.sources import load_generated

N = 15


@pytest.fixture(scope="module")
def test_as_generated(mp_slice_csv, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    result = evaluate(mp_slice_csv, mp_slice_csv, mp_slice_csv, generated_split="test", limit=N, test_limit=N,
                      workers=2, cache_dir=cache, progress=False)  # fmt: skip
    return result, cache


def test_test_split_scored_as_generated(test_as_generated, mp_slice_csv):
    result, _ = test_as_generated
    m = result.metrics
    assert m["n_samples"] == N
    assert m["validity.structural"] == 1.0
    structures = load_generated(mp_slice_csv, split="test", limit=N).structures
    verdicts = [smact_validity(s.composition, oxidation_states_set="smact14") for s in structures]
    assert m["validity.compositional"] == pytest.approx(sum(verdicts) / N)
    assert list(result.per_sample["comp_valid"]) == verdicts
    assert m["novelty.train"] == 1.0  # test materials are not in the training split
    assert m["novelty"] == 0.0  # but they are known structures (the shipped table of all MP structures)
    assert (result.per_sample["matched_known_id"] == result.per_sample["id"]).all()
    assert m["uniqueness"] == 1.0
    # generated == test set: full coverage and zero distribution distances
    assert m["coverage.recall"] == 1.0 and m["coverage.precision"] == 1.0
    assert m["ks.a"] == 0.0 and m["wasserstein.density"] == 0.0
    assert result.meta["n_train"] > 100


def test_training_set_against_itself_is_not_novel(mp_slice_csv):
    result = evaluate(mp_slice_csv, mp_slice_csv, None, generated_split="train", limit=N, workers=1,
                      progress=False)  # fmt: skip
    assert result.metrics["novelty"] == 0.0
    table = result.per_sample
    assert (table["matched_train_id"] != "").all()
    assert "coverage" in result.meta["skipped"] or "cov_precision" in result.meta["skipped"]


def test_cached_evaluation_resumes_without_recomputing(test_as_generated, mp_slice_csv, monkeypatch):
    first, cache = test_as_generated

    def boom(payload):
        raise AssertionError("recomputed a cached sample")

    monkeypatch.setattr(base_module, "basic_features", boom)
    monkeypatch.setattr(base_module, "fingerprint_job", boom)
    again = evaluate(mp_slice_csv, mp_slice_csv, mp_slice_csv, generated_split="test", limit=N, test_limit=N,
                     workers=1, cache_dir=cache, progress=False)  # fmt: skip
    assert again.metrics == first.metrics
