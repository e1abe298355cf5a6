"""GroupedHooks: each sample of a batched sampling run gets its own imputation, batch after batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xtalgen.models.crystens import ConditioningConfig, CrysTensDiffusion, DiffusionConfig, Imputation
from xtalgen.models.crystens.grouped_hooks import GroupedHooks
from xtalgen.representations.crystens import CrysTensConfig
from xtalgen.representations.crystens.cell_composition import cell_numbers
from xtalgen.representations.crystens.known_entries import known_entries

CT = CrysTensConfig(size=20)  # 8 atom slots
REQUESTS = [(221, "SrTiO3"), (225, "NaCl")]


def _imputations() -> list[tuple[Imputation, torch.Tensor, torch.Tensor]]:
    out = []
    for sg, formula in REQUESTS:
        known = known_entries(CT, sg, cell_numbers(formula, CT, sg))
        out.append((Imputation.from_known(known, CT), torch.from_numpy(known.values), torch.from_numpy(known.mask)))
    return out


def test_each_sample_ends_at_its_own_targets_across_batches():
    """7 samples in batches of 3 (3 + 3 + 1), groups interleaved: every sample holds its own group's entries."""
    torch.manual_seed(0)
    cfg = DiffusionConfig(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, sampling_steps=3)
    model = CrysTensDiffusion(20, cfg, ConditioningConfig(enabled=False))
    hooks = _imputations()
    group = np.array([0, 1, 1, 0, 1, 0, 0])
    grouped = GroupedHooks([h for h, _, _ in hooks], group)
    gen = torch.Generator().manual_seed(1)
    x = torch.cat([model.sample(b, impute=grouped, generator=gen) for b in (3, 3, 1)])
    assert grouped.offset == 7
    for i, g in enumerate(group):
        _, values, mask = hooks[g]
        assert torch.equal(x[i][mask], values[mask])
        _, other_values, other_mask = hooks[1 - g]
        assert not torch.equal(x[i][other_mask], other_values[other_mask])


def test_projection_records_follow_run_order_within_each_group():
    """Hooks see their samples in run order: a recording hook gets rows 0, 3 then 5 of group 0."""

    class Recorder:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def model_output(self, out, xt, t, alphas_cumprod, prediction_type):  # noqa: ANN001, ANN201
            return out + 1

        def apply(self, x):  # noqa: ANN001, ANN201
            self.seen.extend(x[:, 0, 0, 0].tolist())
            return x

    a, b = Recorder(), Recorder()
    grouped = GroupedHooks([a, b], np.array([0, 1, 1, 0, 1, 0]))
    batch = torch.arange(6, dtype=torch.float32)[:, None, None, None].expand(6, 4, 2, 2).clone()
    out = grouped.model_output(batch[:4], batch[:4], torch.tensor(5), torch.ones(10), "sample")
    assert torch.equal(out, batch[:4] + 1)
    grouped.apply(batch[:4])
    grouped.apply(batch[4:])
    assert a.seen == [0.0, 3.0, 5.0] and b.seen == [1.0, 2.0, 4.0]
    with pytest.raises(ValueError, match="past sample 6 of 6"):
        grouped.apply(batch[:1])


def test_group_indices_must_name_a_hook():
    with pytest.raises(ValueError, match=r"group indices must be in 0\.\.1"):
        GroupedHooks([object(), object()], np.array([0, 2]))
