"""A tiny regression task used by the training-loop tests (and the DDP subprocess script)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def tiny_data(n: int = 40, seed: int = 0) -> np.ndarray:
    """(n, 4) float32: three inputs and a target y = x . w + 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], dtype=np.float32) + 0.5
    return np.concatenate([x, y[:, None]], axis=1).astype(np.float32)


class TinyTask:
    """Linear-MLP regression; ``stochastic`` adds dropout, batch norm and target noise (RNG consumers)."""

    def __init__(self, stochastic: bool = True, crash_at: int | None = None) -> None:
        self.stochastic = stochastic
        self.crash_at = crash_at

    def setup(self, fabric: Any) -> None:
        self.fabric = fabric
        layers: list[nn.Module] = [nn.Linear(3, 8)]
        if self.stochastic:
            layers += [nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2)]
        else:
            layers += [nn.Tanh()]
        model = nn.Sequential(*layers, nn.Linear(8, 1))
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        self.model, self.opt = fabric.setup(model, opt)

    def training_step(self, batch: torch.Tensor, step: int) -> dict[str, float]:
        if self.crash_at is not None and step == self.crash_at:
            raise RuntimeError("simulated crash")
        x, y = batch[:, :3], batch[:, 3:]
        if self.stochastic:
            y = y + 0.05 * torch.randn_like(y)
        loss = F.mse_loss(self.model(x), y)
        self.opt.zero_grad()
        self.fabric.backward(loss)
        self.opt.step()
        return {"loss": loss.item()}

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}
