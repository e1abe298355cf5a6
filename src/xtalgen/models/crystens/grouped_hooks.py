"""Per-sample sampling hooks in one batch: each sample of a run has its own imputation / symmetry projection.

Samples that need different hooks (e.g. each with its own space group and formula) can share the
network's batched forward pass: at every reverse step the batch's rows are split by hook, each hook
(:class:`~.imputation.Imputation`, :class:`~.symmetry_projection.SymmetryProjection`, same interface)
rewrites its own rows, and the rows are put back in place. A sampling run of ``n`` samples in batches of
``b`` calls the hook with rows ``[offset, offset + b)`` of the run; :meth:`GroupedHooks.apply` (called once
per batch, on its final samples) moves the offset on. So each hook sees its samples in run order, and
its per-sample records (a projection's ``displacements``, ``labels``) follow that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class GroupedHooks:
    """Hook ``hooks[group[i]]`` for sample ``i`` of a sampling run (``group``: (n,) int indices)."""

    hooks: Sequence[Any]
    group: np.ndarray
    offset: int = 0

    def __post_init__(self) -> None:
        self.group = np.asarray(self.group, dtype=np.int64)
        if len(self.group) and not (self.group.min() >= 0 and self.group.max() < len(self.hooks)):
            raise ValueError(f"grouped hooks: group indices must be in 0..{len(self.hooks) - 1}")

    def _rows(self, b: int) -> list[tuple[Any, torch.Tensor]]:
        """(hook, row indices within the batch) for the ``b`` rows from the current offset, in group order."""
        groups = self.group[self.offset : self.offset + b]
        if len(groups) != b:
            raise ValueError(f"grouped hooks: a batch of {b} past sample {self.offset} of {len(self.group)}")
        return [(self.hooks[g], torch.from_numpy(np.nonzero(groups == g)[0])) for g in np.unique(groups)]

    def model_output(
        self, out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor, prediction_type: str
    ) -> torch.Tensor:
        """The network output with each sample's rows rewritten by its own hook."""
        new = out.clone()
        per_row = t.ndim > 0 and t.numel() == len(out)
        for hook, rows in self._rows(len(out)):
            tt = t[rows] if per_row else t
            new[rows] = hook.model_output(out[rows], xt[rows], tt, alphas_cumprod, prediction_type)
        return new

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The batch's final samples, each through its own hook; the next batch starts after this one."""
        new = x.clone()
        for hook, rows in self._rows(len(x)):
            new[rows] = hook.apply(x[rows])
        self.offset += len(x)
        return new
