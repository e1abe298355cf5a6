"""sample_tensors' conditions: one value for all samples or one per sample, checked before sampling."""

from __future__ import annotations

import pytest
import torch

from xtalgen.pipelines.crystens.sample import _per_sample_conditions


def test_one_condition_is_repeated_and_per_sample_conditions_are_kept():
    sgs, comps = _per_sample_conditions(3, 221, torch.tensor([0.2, 0.8]))
    assert sgs.tolist() == [221, 221, 221] and comps.shape == (3, 2) and torch.equal(comps[2], comps[0])
    sgs, comps = _per_sample_conditions(3, [1, 225, 230], torch.eye(3))
    assert sgs.tolist() == [1, 225, 230] and torch.equal(comps, torch.eye(3))
    assert _per_sample_conditions(2, None, None) == (None, None)


@pytest.mark.parametrize(("spacegroup", "composition", "message"), [
    ([221, 0, 225], None, "spacegroup: must be in 1..230, got 0"),
    (231, None, "spacegroup: must be in 1..230, got 231"),
    ([221, 225], None, r"one value or one per sample \(3\), got 2"),
    (None, torch.ones(2, 4), r"composition: one row or one per sample \(3\), got 2"),
])  # fmt: skip
def test_bad_conditions_fail_with_one_line(spacegroup, composition, message):
    with pytest.raises(ValueError, match=message) as err:
        _per_sample_conditions(3, spacegroup, composition)
    assert "\n" not in str(err.value)
