"""Shared helpers for the CrysTens model tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


def _overfit(model: torch.nn.Module, x0: torch.Tensor, steps: int = 60, lr: float = 3e-3) -> tuple[float, float]:
    """Train ``model`` (whose forward returns its loss) on the one batch ``x0``; mean loss before and after
    (4 draws each at a fixed seed, so both see the same noise and timesteps)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def eval_loss() -> float:
        torch.manual_seed(123)
        with torch.no_grad():
            return float(sum(model(x0) for _ in range(4)) / 4)

    before = eval_loss()
    for _ in range(steps):
        loss = model(x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return before, eval_loss()


@pytest.fixture
def overfit() -> Callable[..., tuple[float, float]]:
    """``overfit(model, x0, steps=60)`` → (loss before, loss after) training on one batch."""
    return _overfit


def _trains_and_samples(model: torch.nn.Module, size: int = 16, steps: int = 60, max_ratio: float = 0.5) -> None:
    """Overfit a diffusion ``model`` on one batch of 8 copies of a seeded random tensor (values in ±0.9): the
    loss must fall below ``max_ratio`` of its start; then 2 samples in 3 steps must be finite."""
    g = torch.Generator().manual_seed(3)
    x0 = (torch.rand(1, 4, size, size, generator=g) * 1.8 - 0.9).expand(8, -1, -1, -1).contiguous()
    before, after = _overfit(model, x0, steps=steps)
    assert after < max_ratio * before, (before, after)
    samples = model.sample(2, steps=3, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (2, 4, size, size) and torch.isfinite(samples).all()


@pytest.fixture
def trains_and_samples() -> Callable[..., None]:
    """``trains_and_samples(model, steps=60, max_ratio=0.5)``: one-batch overfit check, then sampling."""
    return _trains_and_samples
