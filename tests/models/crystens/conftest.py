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
