"""Wasserstein losses with gradient penalty (Gulrajani et al. 2017) for the PGCGM critic."""

from __future__ import annotations

import torch
from torch import Tensor

from xtalgen.models.pgcgm.conditions import Conditions
from xtalgen.models.pgcgm.critic import PGCGMCritic
from xtalgen.models.wasserstein import critic_loss, generator_loss, gradient_norm_penalty

__all__ = [
    "critic_loss", "critic_scores_and_penalty", "generator_adversarial_loss", "gradient_penalty", "interpolate",
]  # fmt: skip


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
    coords, lat = interpolate(real, fake, generator)
    return gradient_norm_penalty(critic(coords, lat, cond), (coords, lat))


def interpolate(
    real: tuple[Tensor, Tensor], fake: tuple[Tensor, Tensor], generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Random per-sample interpolates (requiring grad) between real and fake (coords, lattice features)."""
    coords_r, lat_r = real
    coords_f, lat_f = fake
    eps = torch.rand(coords_r.shape[0], 1, generator=generator, device=coords_r.device, dtype=coords_r.dtype)
    coords = (eps[:, :, None, None] * coords_r + (1 - eps[:, :, None, None]) * coords_f).detach()
    lat = (eps * lat_r + (1 - eps) * lat_f).detach()
    return coords.requires_grad_(True), lat.requires_grad_(True)


def critic_scores_and_penalty(
    critic: PGCGMCritic,
    real: tuple[Tensor, Tensor],
    fake: tuple[Tensor, Tensor],
    cond: Conditions,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(D(real), D(fake), gradient penalty)`` from one critic pass over real, fake and interpolates.

    Equivalent to three separate calls (the critic has no cross-sample layers) but encodes the
    conditions once per batch row block and runs one forward/backward.
    """
    m = real[0].shape[0]
    coords_i, lat_i = interpolate(real, fake, generator)
    coords = torch.cat([real[0], fake[0], coords_i])
    lat = torch.cat([real[1], fake[1], lat_i])
    scores = critic(coords, lat, cond.repeat(3))
    d_real, d_fake, d_int = scores[:m], scores[m : 2 * m], scores[2 * m :]
    return d_real, d_fake, gradient_norm_penalty(d_int, (coords_i, lat_i))


#: WGAN generator loss to minimise, ``-E[D(fake)]`` (the shared implementation).
generator_adversarial_loss = generator_loss
