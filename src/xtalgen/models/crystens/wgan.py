"""WGAN-GP for CrysTens (Alverson et al. 2024, sec. 3.3.2 and appendix B.2).

Linear critic (no sigmoid), Wasserstein loss with gradient penalty (weight 10), the critic trained 5
times per generator step, Adam 1e-4 with betas (0, 0.9). The critic uses layer normalisation (batch
norm would make the penalty depend on the batch); the generator keeps batch norm, with LeakyReLU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xtalgen.models.crystens.gan import CrysTensDiscriminator, CrysTensGenerator
from xtalgen.models.wasserstein import critic_loss, generator_loss, gradient_norm_penalty

__all__ = ["WGANConfig", "build_wgan", "critic_loss", "generator_loss", "gradient_penalty", "interpolate"]


@dataclass
class WGANConfig:
    """Sizes and WGAN-GP settings (``n_critic`` critic steps per generator step)."""

    latent_dim: int = 128
    base_channels: int = 64
    max_channels: int = 512
    hidden_dim: int = 256
    n_critic: int = 5
    gp_weight: float = 10.0

    def validate(self) -> None:
        for name in ("latent_dim", "base_channels", "max_channels", "hidden_dim", "n_critic"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.gp_weight < 0:
            raise ValueError(f"gp_weight: must be >= 0, got {self.gp_weight}")


def build_wgan(size: int, config: WGANConfig) -> tuple[CrysTensGenerator, CrysTensDiscriminator]:
    """Generator (batch norm, LeakyReLU) and linear critic (layer norm, LeakyReLU)."""
    gen = CrysTensGenerator(size, config.latent_dim, config.base_channels, config.max_channels, "leaky_relu")
    critic = CrysTensDiscriminator(
        size, config.base_channels, config.max_channels, "layer", config.hidden_dim
    )
    return gen, critic


def interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Random points on the segments between paired real and fake samples (requires grad)."""
    eps = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device, dtype=real.dtype)
    return (eps * real + (1 - eps) * fake).detach().requires_grad_(True)


def gradient_penalty(scores: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Mean of (||d score / d point||_2 - 1)^2 over samples (Gulrajani et al. 2017); keeps the graph."""
    return gradient_norm_penalty(scores, (points,))
