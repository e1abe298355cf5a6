"""Diffusion loss weights: per entry type (inverse frequency, header) and per timestep (min-SNR-γ)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig, make_scheduler
from xtalgen.models.crystens.loss_weights import entry_weights, min_snr_weights
from xtalgen.representations.crystens.config import FIRST_ATOM
from xtalgen.representations.crystens.entry_types import ENTRY_TYPES, entry_type_map

TINY = dict(block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, sampling_steps=5)


@pytest.mark.parametrize("scheme", ["uniform", "inverse_frequency", "header"])
def test_entry_weights_shape_and_mean(scheme):
    w = entry_weights(32, scheme)
    assert w.shape == (4, 32, 32) and w.dtype == torch.float32
    assert float(w.mean()) == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(w, w.transpose(1, 2))  # mirrored header entries weigh the same


def test_header_weighting_puts_the_configured_factor_on_header_entries():
    w = entry_weights(32, "header", header_weight=7.0)
    alpha_entry, z_entry = w[2, 7, FIRST_ATOM + 3], w[0, FIRST_ATOM + 19, 0]  # row 7, column 0 (mirrored)
    pair, padding, corner = w[1, FIRST_ATOM, FIRST_ATOM + 1], w[0, 11, 20], w[0, 2, 5]
    assert float(alpha_entry / pair) == pytest.approx(7.0) and float(z_entry / pair) == pytest.approx(7.0)
    assert float(padding) == pytest.approx(float(pair)) and float(corner) == pytest.approx(float(pair))


def test_inverse_frequency_gives_every_entry_type_the_same_total_weight():
    w = entry_weights(32, "inverse_frequency").numpy()
    types = entry_type_map(32)
    totals = np.array([w[types == k].sum() for k in range(len(ENTRY_TYPES))])
    np.testing.assert_allclose(totals, totals[0], rtol=1e-5)
    # N = 32: 160 Z entries vs 1,600 pair entries
    assert float(w[0, 0, FIRST_ATOM] / w[0, FIRST_ATOM, FIRST_ATOM]) == pytest.approx(10.0)


def test_entry_type_map_layout():
    m = entry_type_map(16)
    code = {n: i for i, n in enumerate(ENTRY_TYPES)}
    assert m[3, 0, FIRST_ATOM] == code["Z"] and m[3, FIRST_ATOM + 2, 10] == code["spacegroup"]
    assert m[0, 8, FIRST_ATOM] == code["angle"] and m[0, 5, FIRST_ATOM] == code["length"]
    assert m[0, FIRST_ATOM, FIRST_ATOM + 1] == code["pair"] and m[0, 11, 11] == code["empty"]
    assert np.bincount(m[0].ravel(), minlength=7).tolist() == [8, 24, 24, 24, 8, 16, 152]


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="loss_weights"):
        entry_weights(32, "nonsense")
    with pytest.raises(ValueError, match="header_weight"):
        DiffusionConfig(loss_weights="header", header_weight=0.0).validate()
    with pytest.raises(ValueError, match="min_snr_gamma"):
        DiffusionConfig(min_snr_gamma=-1.0).validate()


def test_min_snr_weights():
    alphas = make_scheduler(DiffusionConfig()).alphas_cumprod
    t = torch.tensor([0, 500, 999])
    snr = alphas[t].double() / (1 - alphas[t].double())
    w = min_snr_weights(alphas, t, 5.0, "sample")
    assert float(w[0]) == pytest.approx(1.0)  # SNR(0) >> 5: capped
    assert float(w[2]) == pytest.approx(float(snr[2]) / 5.0, rel=1e-5)  # SNR(999) << 5: SNR / gamma
    eps = min_snr_weights(alphas, t, 5.0, "epsilon")
    assert float(eps[0]) == pytest.approx(5.0 / float(snr[0]), rel=1e-5) and float(eps[2]) == pytest.approx(1.0)


def test_uniform_weights_give_plain_mse_and_header_weights_change_it():
    x0 = torch.rand(3, 4, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    losses = {}
    for scheme in ("uniform", "header"):
        model = CrysTensDiffusion(16, DiffusionConfig(**TINY, loss_weights=scheme))
        pred, target = torch.zeros_like(x0), x0
        t = torch.zeros(3, dtype=torch.long)
        losses[scheme] = float(model.weighted_loss(pred, target, t))
    assert losses["uniform"] == pytest.approx(float(F.mse_loss(torch.zeros_like(x0), x0)))
    assert losses["header"] != pytest.approx(losses["uniform"])
    uni = CrysTensDiffusion(16, DiffusionConfig(**TINY))
    assert torch.all(uni.entry_weights == 1.0) and "entry_weights" not in uni.state_dict()
    # the weighted path (taken with min-SNR on) with uniform entry weights and capped timesteps is MSE too
    snr_model = CrysTensDiffusion(16, DiffusionConfig(**TINY, min_snr_gamma=1e-6))
    mse = float(F.mse_loss(torch.zeros_like(x0), x0))
    assert float(snr_model.weighted_loss(torch.zeros_like(x0), x0, torch.zeros(3, dtype=torch.long))) == pytest.approx(
        mse, rel=1e-5
    )


def test_loss_goes_down_with_header_weights_and_min_snr(overfit):
    torch.manual_seed(0)
    model = CrysTensDiffusion(16, DiffusionConfig(**TINY, loss_weights="header", min_snr_gamma=5.0))
    x0 = (torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(3)) * 1.8 - 0.9).expand(8, -1, -1, -1)
    before, after = overfit(model, x0)
    assert after < 0.5 * before, (before, after)


def test_bundled_cpu_config_pairs_plain_mse_with_the_pair_skip():
    """The CPU config's choice was measured (docs/benchmarks/crystens_pair_skip.md): plain MSE with the pair skip;
    the class defaults stay plain MSE without min-SNR weights."""
    from xtalgen.configs import bundled_config
    from xtalgen.pipelines.crystens.train import load_crystens_config

    assert DiffusionConfig().loss_weights == "uniform" and DiffusionConfig().min_snr_gamma == 0.0
    cfg = load_crystens_config("diffusion", bundled_config("crystens_diffusion_cpu"))
    assert cfg.model.loss_weights == "uniform" and cfg.model.pair_skip
