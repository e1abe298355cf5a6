"""Self-conditioning: the UNet reads its previous clean-tensor estimate (and that estimate's header context)."""

from __future__ import annotations

import dataclasses

import torch

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig
from xtalgen.models.crystens.axis_context import CONTEXT_FACTOR, HEADER_CONTEXT_FACTOR, with_header_context
from xtalgen.models.crystens.diffusion import input_channels, self_condition_channels

TINY = DiffusionConfig(
    block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, axis_context=True,
    self_condition=True, sampling_steps=4,
)  # fmt: skip


def test_input_channels_add_the_estimate_and_its_header_context():
    assert input_channels(TINY) == 4 * CONTEXT_FACTOR + 4 + HEADER_CONTEXT_FACTOR
    off = dataclasses.replace(TINY, self_condition=False)
    assert input_channels(off) == 4 * CONTEXT_FACTOR
    est = torch.randn(2, 4, 16, 16)
    ch = self_condition_channels(est)
    assert ch.shape == (2, 4 + HEADER_CONTEXT_FACTOR, 16, 16)
    assert torch.equal(ch[:, :4], est) and torch.equal(ch[:, 4:], with_header_context(est[:, :1]))


def test_the_estimate_reaches_the_network():
    """Same x_t and t, different estimates: different outputs; None means zeros."""
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY).eval()
    xt, t = torch.randn(2, 4, 16, 16), torch.tensor([500, 20])
    with torch.no_grad():
        none = model.predict(xt, t)
        zeros = model.predict(xt, t, x0_estimate=torch.zeros_like(xt))
        other = model.predict(xt, t, x0_estimate=torch.full_like(xt, 0.5))
    assert torch.equal(none, zeros) and not torch.allclose(none, other)


def test_sampling_feeds_each_step_the_previous_estimate(monkeypatch):
    """The first step sees no estimate, every later one the clipped clean estimate of the step before."""
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY)
    seen: list[torch.Tensor | None] = []
    outputs: list[torch.Tensor] = []
    original = model.predict

    def spy(x, t, spacegroup=None, composition=None, x0_estimate=None):
        seen.append(x0_estimate)
        out = original(x, t, spacegroup, composition, x0_estimate)
        outputs.append(out)
        return out

    monkeypatch.setattr(model, "predict", spy)
    model.sample(2, steps=4, generator=torch.Generator().manual_seed(1))
    assert len(seen) == 4 and seen[0] is None
    for k in range(1, 4):  # prediction_type "sample": the estimate is the previous output, clipped
        assert torch.equal(seen[k], outputs[k - 1].clamp(-1, 1))


def test_self_conditioned_diffusion_trains_and_samples(trains_and_samples):
    torch.manual_seed(0)
    trains_and_samples(CrysTensDiffusion(16, TINY))


def test_guided_sampling_with_self_conditioning():
    """Classifier-free guidance runs both halves on the same (guided) previous estimate."""
    from xtalgen.models.crystens import ConditioningConfig

    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY, ConditioningConfig(enabled=True, hidden_dim=8))
    x = model.sample(3, steps=3, spacegroup=torch.full((3,), 221), guidance_scale=2.0,
                     generator=torch.Generator().manual_seed(1))  # fmt: skip
    assert x.shape == (3, 4, 16, 16) and torch.isfinite(x).all()
