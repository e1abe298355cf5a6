"""CrysTens diffusion: exact inversion with an oracle denoiser, overfitting, conditioning, guidance, EMA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xtalgen.models.crystens import (
    EMA,
    ConditioningConfig,
    CrysTensDiffusion,
    DiffusionConfig,
    composition_fractions,
    denoise,
    drop_conditions,
    guided,
    make_sampler,
    make_scheduler,
)

TINY = DiffusionConfig(
    block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, sampling_steps=5
)


def _x0(size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(1, 4, size, size, generator=g) * 1.8 - 0.9  # inside [-1, 1]


@pytest.mark.parametrize("prediction", ["epsilon", "sample"])
@pytest.mark.parametrize(("kind", "steps"), [("ddim", 20), ("ddim", 1000), ("ddpm", 50), ("ddpm", 1000)])
def test_oracle_denoiser_recovers_the_data_exactly(kind, steps, prediction):
    """With the true noise (or the true x0) predicted, DDIM and DDPM sampling end at the training tensor."""
    cfg = DiffusionConfig(sampler=kind, prediction_type=prediction)
    x0 = _x0().double()
    alphas = make_scheduler(cfg).alphas_cumprod.double()

    def oracle(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if prediction == "sample":
            return x0.expand_as(xt)
        ab = alphas[int(t)]
        return (xt - ab.sqrt() * x0) / (1 - ab).sqrt()

    g = torch.Generator().manual_seed(0)
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    out = denoise(oracle, make_sampler(cfg, kind), noise, steps, generator=g)
    torch.testing.assert_close(out, x0, atol=1e-6, rtol=0)
    # a wrong oracle (noise scaled by 0.5) does not recover the data: the check can fail
    bad = denoise(lambda xt, t: 0.5 * oracle(xt, t), make_sampler(cfg, kind), noise, steps, generator=g)
    assert (bad - x0).abs().max() > 1e-2


def test_default_prediction_is_the_clean_tensor():
    """x0 prediction is the default and what the bundled configs use (epsilon missed the data mean)."""
    from xtalgen.configs import bundled_config

    assert DiffusionConfig().prediction_type == "sample"
    for name in ("crystens_diffusion_cpu", "crystens_diffusion_gpu", "crystens_diffusion_tiny"):
        text = bundled_config(name).read_text()
        assert "prediction_type: epsilon" not in text, name


def test_add_noise_matches_closed_form():
    sched = make_scheduler(DiffusionConfig())
    x0, eps = _x0(), torch.randn(1, 4, 16, 16)
    t = torch.tensor([500])
    ab = sched.alphas_cumprod[500]
    torch.testing.assert_close(sched.add_noise(x0, eps, t), ab.sqrt() * x0 + (1 - ab).sqrt() * eps)
    assert sched.config.num_train_timesteps == 1000


def test_loss_goes_down_when_overfitting_one_tensor(overfit):
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY)
    x0 = _x0().expand(8, -1, -1, -1).contiguous()
    before, after = overfit(model, x0)
    assert after < 0.5 * before, (before, after)


def test_sampling_shapes_and_determinism():
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY)
    a = model.sample(3, steps=4, generator=torch.Generator().manual_seed(5))
    b = model.sample(3, steps=4, sampler="ddpm", generator=torch.Generator().manual_seed(5))
    c = model.sample(3, steps=4, generator=torch.Generator().manual_seed(5))
    assert a.shape == b.shape == (3, 4, 16, 16)
    assert torch.equal(a, c) and not torch.equal(a, b)
    with pytest.raises(ValueError, match="without conditioning"):
        model.sample(2, steps=2, spacegroup=torch.tensor([1, 2]))


def test_conditional_model_guidance_and_shapes():
    torch.manual_seed(0)
    cond = ConditioningConfig(enabled=True, n_elements=10, hidden_dim=8)
    model = CrysTensDiffusion(16, TINY, cond)
    x0 = _x0().expand(4, -1, -1, -1)
    comp = composition_fractions(torch.tensor([[0, 2, 0, 0, 0, 0, 0, 6, 0, 0]] * 4, dtype=torch.float32))
    assert torch.allclose(comp.sum(-1), torch.ones(4)) and comp[0, 1] == 0.25
    loss = model(x0, torch.tensor([1, 225, 14, 0]), comp)
    loss.backward()
    assert torch.isfinite(loss) and model.condition.spacegroup.weight.grad is not None
    kw = dict(steps=3, generator=None, spacegroup=torch.tensor([225, 225]), composition=comp[:2])
    s1 = model.sample(2, guidance_scale=1.0, **kw)
    torch.manual_seed(1)
    s3 = model.sample(2, guidance_scale=3.0, **{**kw, "generator": torch.Generator().manual_seed(0)})
    s3b = model.sample(2, guidance_scale=3.0, **{**kw, "generator": torch.Generator().manual_seed(0)})
    assert s1.shape == s3.shape == (2, 4, 16, 16) and torch.equal(s3, s3b)
    unc = model.sample(2, steps=3)  # conditional model sampled without conditions
    assert unc.shape == (2, 4, 16, 16)
    with pytest.raises(ValueError, match="conditions must have shapes"):
        model.sample(2, steps=2, spacegroup=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="0..230"):
        model.predict(x0[:1], torch.tensor(3), torch.tensor([231]), comp[:1])


def test_guidance_mix_and_condition_dropout():
    c, u = torch.tensor([2.0]), torch.tensor([1.0])
    assert guided(c, u, 1.0) == c and guided(c, u, 0.0) == u and guided(c, u, 3.0) == torch.tensor([4.0])
    torch.manual_seed(0)
    sg = torch.full((20000,), 7)
    comp = torch.ones(20000, 3)
    sg2, comp2 = drop_conditions(sg, comp, p_uncond=0.1, p_drop_each=0.2)
    sg_drop, comp_drop = sg2 == 0, comp2.sum(-1) == 0
    assert abs(sg_drop.float().mean() - 0.28) < 0.015  # 0.1 + 0.9 * 0.2
    assert abs((sg_drop & comp_drop).float().mean() - (0.1 + 0.9 * 0.04)) < 0.015
    assert set(sg2.unique().tolist()) == {0, 7}


def test_ema_update_exact():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # n = 1: d = min(0.5, 2 / 11) = 2/11
    torch.testing.assert_close(ema.shadow.weight, torch.full((1, 2), 9 / 11))
    ema.update(model)  # n = 2: d = min(0.5, 3 / 12) = 0.25
    torch.testing.assert_close(ema.shadow.weight, torch.full((1, 2), 1 - 0.25 * 2 / 11))
    assert int(ema.num_updates) == 2 and not ema.shadow.weight.requires_grad
