"""CrysTens GAN and WGAN-GP modules: shapes, sizes, losses, and the gradient penalty on a known critic."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xtalgen.models.crystens import (
    GANConfig,
    WGANConfig,
    build_gan,
    build_wgan,
    critic_loss,
    discriminator_loss,
    gradient_penalty,
    interpolate,
)
from xtalgen.models.crystens.gan import generator_loss, levels


@pytest.mark.parametrize("size", [32, 64])
def test_generator_and_discriminator_shapes(size):
    torch.manual_seed(0)
    g, d = build_gan(size, GANConfig(latent_dim=16, base_channels=4, max_channels=16, hidden_dim=8))
    x = g(g.sample_latent(3))
    assert x.shape == (3, 4, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output, CrysTens entries live in [-1, 1]
    assert d(x).shape == (3,)
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_wgan_critic_has_no_batch_norm_and_linear_output():
    g, c = build_wgan(32, WGANConfig(latent_dim=8, base_channels=4, max_channels=8, hidden_dim=8))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.Sigmoid)) for m in c.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in c.modules())
    assert isinstance(list(c.head)[-1], nn.Linear)


def test_bad_size_is_rejected():
    assert levels(32) == 3 and levels(64) == 4
    for bad in (4, 12, 48, 100):
        with pytest.raises(ValueError, match="4 \\* 2\\^k"):
            levels(bad)


def test_bce_losses_known_values():
    zero = torch.zeros(4)
    ln2 = torch.log(torch.tensor(2.0))
    torch.testing.assert_close(discriminator_loss(zero, zero), 2 * ln2)
    torch.testing.assert_close(generator_loss(zero), ln2)
    big = torch.full((4,), 20.0)
    assert discriminator_loss(big, -big) < 1e-6


def test_gradient_penalty_on_linear_critic():
    w = torch.randn(4 * 8 * 8)
    real, fake = torch.randn(5, 4, 8, 8), torch.randn(5, 4, 8, 8)
    for norm, expected in ((1.0, 0.0), (2.0, 1.0), (3.0, 4.0)):
        ww = w / w.norm() * norm  # ||grad|| = norm everywhere, GP = (norm - 1)^2
        pts = interpolate(real, fake)
        scores = pts.flatten(1) @ ww
        gp = gradient_penalty(scores, pts)
        torch.testing.assert_close(gp, torch.tensor(expected), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(critic_loss(torch.ones(3), torch.zeros(3)), torch.tensor(-1.0))


def test_interpolates_lie_between_real_and_fake():
    real, fake = torch.zeros(6, 4, 8, 8), torch.ones(6, 4, 8, 8)
    pts = interpolate(real, fake)
    assert pts.requires_grad
    per_sample = pts.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))  # one mixing weight per sample
    assert (per_sample >= 0).all() and (per_sample <= 1).all() and per_sample[:, 0].std() > 0


@pytest.mark.parametrize("kind", ["gan", "wgan"])
def test_adversarial_losses_train_in_the_right_direction(kind):
    """Critic-only steps separate real from fake; generator-only steps then raise the fakes' scores."""
    torch.manual_seed(0)
    cfg = dict(latent_dim=8, base_channels=8, max_channels=16, hidden_dim=16)
    g, d = build_gan(16, GANConfig(**cfg)) if kind == "gan" else build_wgan(16, WGANConfig(**cfg))
    real = (torch.rand(1, 4, 16, 16) - 0.5).expand(16, -1, -1, -1)
    z = torch.randn(16, 8)
    with torch.no_grad():
        fake = g(z)
    opt_d = torch.optim.Adam(d.parameters(), 1e-3, betas=(0.5, 0.999))
    for _ in range(40):
        s = d(torch.cat([real, fake]))
        loss = discriminator_loss(s[:16], s[16:]) if kind == "gan" else critic_loss(s[:16], s[16:])
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    d.eval()
    with torch.no_grad():
        s_real, s_fake = d(real).mean(), d(fake).mean()
    assert s_real > s_fake + 1.0  # real scored higher: the losses' signs are right
    opt_g = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.999))
    for _ in range(10):
        scores = d(g(z))
        loss = generator_loss(scores) if kind == "gan" else -scores.mean()
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    with torch.no_grad():
        assert d(g(z)).mean() > s_fake  # the generator moved its samples towards "real"
