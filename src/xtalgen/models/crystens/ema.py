"""Exponential moving average of a model's weights, as a module (so it is checkpointed like any other)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """Shadow copy of ``model`` updated as ``shadow <- d * shadow + (1 - d) * model`` after each step.

    ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates (warm-up, so early averages are not
    dominated by the random initialisation). Buffers (e.g. batch-norm statistics) are copied.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = copy.deepcopy(model).requires_grad_(False).eval()
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the shadow weights towards ``model``'s current weights."""
        self.num_updates += 1
        n = float(self.num_updates.item())
        d = min(self.decay, (1.0 + n) / (10.0 + n))
        for shadow, param in zip(self.shadow.parameters(), model.parameters(), strict=True):
            shadow.lerp_(param.detach(), 1.0 - d)
        for shadow, buf in zip(self.shadow.buffers(), model.buffers(), strict=True):
            shadow.copy_(buf)

    def forward(self, *args, **kwargs):  # pragma: no cover - use ``shadow`` directly
        return self.shadow(*args, **kwargs)
