"""Wasserstein losses with gradient penalty (Gulrajani et al. 2017) for the PGCGM critic."""

from __future__ import annotations

import torch
from torch import Tensor

from xtalgen.models.pgcgm.conditions import Conditions
from xtalgen.models.pgcgm.critic import PGCGMCritic


def gradient_penalty(
    critic: PGCGMCritic,
    real: tuple[Tensor, Tensor],
    fake: tuple[Tensor, Tensor],
    cond: Conditions,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean ``(||∇ critic(x̂)|| - 1)^2`` at random interpolates of real and fake samples.

    ``real`` and ``fake`` are ``(coords (M, S, K, 3), lattice features (M, 6))``; one interpolation
    weight per sample is drawn from U(0, 1) with ``generator``.
    """
    coords_r, lat_r = real
    coords_f, lat_f = fake
    m = coords_r.shape[0]
    eps = torch.rand(m, 1, generator=generator, device=coords_r.device, dtype=coords_r.dtype)
    coords = (eps[:, :, None, None] * coords_r + (1 - eps[:, :, None, None]) * coords_f).requires_grad_(True)
    lat = (eps * lat_r + (1 - eps) * lat_f).requires_grad_(True)
    scores = critic(coords, lat, cond)
    grads = torch.autograd.grad(scores.sum(), (coords, lat), create_graph=True)
    norm = torch.sqrt(sum((g.reshape(m, -1) ** 2).sum(1) for g in grads) + 1e-12)
    return ((norm - 1.0) ** 2).mean()


def critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """WGAN critic loss to minimise: ``E[D(fake)] - E[D(real)]``."""
    return fake_scores.mean() - real_scores.mean()


def generator_adversarial_loss(fake_scores: Tensor) -> Tensor:
    """WGAN generator loss to minimise: ``-E[D(fake)]``."""
    return -fake_scores.mean()
