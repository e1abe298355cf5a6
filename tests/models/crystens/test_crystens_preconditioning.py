"""x0 preconditioning (EDM's c_skip / c_out on the VP schedule): identity at low noise, residual training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig

TINY = DiffusionConfig(
    block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, preconditioning=True, sampling_steps=4,
)  # fmt: skip


def test_coefficients_follow_the_noise_level():
    model = CrysTensDiffusion(16, TINY)
    t = torch.tensor([0, 500, 999])
    c_skip, c_out, scale = model.preconditioning(t)
    abar = model.scheduler.alphas_cumprod[t]
    sigma2 = (1 - abar) / abar
    sd2 = TINY.sigma_data**2
    assert torch.allclose(c_skip.flatten(), sd2 / (sigma2 + sd2))
    assert torch.allclose(c_out.flatten() ** 2, sigma2 * sd2 / (sigma2 + sd2))
    assert torch.allclose(scale.flatten(), abar.rsqrt())
    assert c_skip[0] > 0.999 and c_skip[2] < 1e-3  # identity at t = 0, network alone at t = 999
    assert c_out[0] < 0.02 and c_out[2] == pytest.approx(TINY.sigma_data, rel=1e-3)


def test_low_noise_prediction_is_close_to_the_input_even_untrained():
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, TINY).eval()
    x0 = torch.rand(2, 4, 16, 16) * 2 - 1
    t = torch.tensor([1, 1])
    xt = model.scheduler.add_noise(x0, torch.randn_like(x0) * 0, t)
    with torch.no_grad():
        pred = model.predict(xt, t)
        plain = CrysTensDiffusion(16, dataclasses.replace(TINY, preconditioning=False)).eval()
        plain.load_state_dict(model.state_dict())
        raw = plain.predict(xt, t)
    assert (pred - x0).abs().max() < 0.05  # c_skip ~ 1: the input passes through
    assert (raw - x0).abs().max() > 0.3  # the same untrained UNet without it does not


def test_preconditioned_model_overfits_and_samples(trains_and_samples):
    """The loss is on the network's residual target, which keeps a noise floor: it must fall, not vanish."""
    torch.manual_seed(0)
    trains_and_samples(CrysTensDiffusion(16, TINY), steps=150, max_ratio=0.6)


def test_options_are_checked():
    with pytest.raises(ValueError, match="prediction_type 'sample'"):
        dataclasses.replace(TINY, prediction_type="epsilon").validate()
    with pytest.raises(ValueError, match="min_snr_gamma"):
        dataclasses.replace(TINY, min_snr_gamma=5.0).validate()
    with pytest.raises(ValueError, match="sigma_data"):
        dataclasses.replace(TINY, sigma_data=0.0).validate()
