"""Vanilla GAN for CrysTens (Alverson et al. 2024, sec. 3.3.1 and appendix B.1), with 2-D convolutions.

Generator: latent (default 128) -> dense -> 4x4 feature map -> stride-2 transposed convolutions with
batch norm and ReLU up to N x N -> 4 channels, tanh (CrysTens entries are normalised to [-1, 1]).
Discriminator: stride-2 convolutions with LeakyReLU (batch norm after the first) down to 4x4 -> dense
layers -> one logit; trained with binary cross-entropy (the sigmoid lives in the loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

CHANNELS = 4


@dataclass
class GANConfig:
    """Vanilla GAN sizes; channels double per level below full resolution, capped at ``max_channels``."""

    latent_dim: int = 128
    base_channels: int = 64
    max_channels: int = 512
    hidden_dim: int = 256  # dense layer before the discriminator's logit

    def validate(self) -> None:
        for name in ("latent_dim", "base_channels", "max_channels", "hidden_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")


def levels(size: int) -> int:
    """Number of stride-2 stages between a 4x4 map and ``size`` (size must be 4 * 2^k, k >= 1)."""
    k = math.log2(size / 4) if size >= 8 else -1
    if k < 1 or not float(k).is_integer():
        raise ValueError(f"CrysTens size must be 4 * 2^k with k >= 1 (8, 16, 32, 64, ...), got {size}")
    return int(k)


def _activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    raise ValueError(f"activation must be 'relu' or 'leaky_relu', got {kind!r}")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":  # per-sample normalisation over (C, H, W): safe with a gradient penalty
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'layer' or 'none', got {kind!r}")


class CrysTensGenerator(nn.Module):
    """Latent vectors (B, latent_dim) -> CrysTens (B, 4, size, size) in [-1, 1]."""

    def __init__(
        self,
        size: int,
        latent_dim: int = 128,
        base_channels: int = 64,
        max_channels: int = 512,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        k = levels(size)
        self.size, self.latent_dim = size, latent_dim
        chans = [min(base_channels * 2 ** (k - i), max_channels) for i in range(k + 1)]
        self.stem = nn.Sequential(
            nn.Linear(latent_dim, chans[0] * 16), nn.BatchNorm1d(chans[0] * 16), _activation(activation)
        )
        self.start_channels = chans[0]
        blocks: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            blocks += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       _activation(activation)]  # fmt: skip
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(chans[-1], CHANNELS, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(z.shape[0], self.start_channels, 4, 4)
        return self.head(self.blocks(h))

    def sample_latent(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ):
        """Standard normal latent vectors (n, latent_dim)."""
        return torch.randn(n, self.latent_dim, device=device, generator=generator)


class CrysTensDiscriminator(nn.Module):
    """CrysTens (B, 4, size, size) -> one unbounded score per sample (logit or Wasserstein critic value)."""

    def __init__(
        self,
        size: int,
        base_channels: int = 64,
        max_channels: int = 512,
        norm: str = "batch",
        hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        k = levels(size)
        chans = [min(base_channels * 2**i, max_channels) for i in range(k)]
        layers: list[nn.Module] = [nn.Conv2d(CHANNELS, chans[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), _norm(norm, c_out), nn.LeakyReLU(0.2, inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(chans[-1] * 16, hidden_dim), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(hidden_dim, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy: real -> 1, fake -> 0 (mean over both halves, summed)."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.ones_like(real_logits)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: BCE of fakes against the 'real' label."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def build_gan(size: int, config: GANConfig) -> tuple[CrysTensGenerator, CrysTensDiscriminator]:
    """Generator (batch norm, ReLU) and discriminator (batch norm, LeakyReLU) for size x size tensors."""
    gen = CrysTensGenerator(size, config.latent_dim, config.base_channels, config.max_channels, "relu")
    disc = CrysTensDiscriminator(size, config.base_channels, config.max_channels, "batch", config.hidden_dim)
    return gen, disc
