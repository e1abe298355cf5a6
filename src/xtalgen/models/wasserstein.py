"""Wasserstein GAN losses with gradient penalty (Gulrajani et al. 2017), shared by PGCGM and CrysTens."""

from __future__ import annotations

from torch import Tensor, autograd


def critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """WGAN critic loss to minimise: ``E[D(fake)] - E[D(real)]``."""
    return fake_scores.mean() - real_scores.mean()


def generator_loss(fake_scores: Tensor) -> Tensor:
    """WGAN generator loss to minimise: ``-E[D(fake)]``."""
    return -fake_scores.mean()


def gradient_norm_penalty(scores: Tensor, inputs: tuple[Tensor, ...]) -> Tensor:
    """Mean ``(||∇ scores||_2 - 1)^2`` over samples, the gradient taken w.r.t. all ``inputs`` jointly.

    Keeps the graph (``create_graph=True``) so the penalty can be back-propagated; a 1e-12 floor inside
    the square root keeps the gradient finite where the critic's gradient vanishes.
    """
    m = scores.shape[0]
    grads = autograd.grad(scores.sum(), inputs, create_graph=True)
    norm = (sum((g.reshape(m, -1) ** 2).sum(1) for g in grads) + 1e-12).sqrt()
    return ((norm - 1.0) ** 2).mean()
