"""Deterministic, stateless batch sampling: the batch of any step is a pure function of (seed, step, rank).

The data stream is the concatenation of seeded per-epoch permutations of ``range(n)``. At step ``s``
the global batch is stream positions ``[s*B*W, (s+1)*B*W)`` (B = per-device batch, W = world size);
rank ``r`` takes its contiguous ``B`` of them. The sampler position to checkpoint is just the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class BatchSource(Protocol):
    """Data the loop can draw batches from: a length and a batch fetch by sample indices."""

    def __len__(self) -> int: ...

    def get_batch(self, indices: np.ndarray) -> Any: ...


class ArrayBatchSource:
    """Batches (float32 torch tensors) from an array-like of shape (M, ...): numpy, memmap or torch."""

    def __init__(self, array: Any, dtype: torch.dtype = torch.float32) -> None:
        if len(array) == 0:
            raise ValueError("ArrayBatchSource: the array is empty")
        self.array = array
        self.dtype = dtype

    def __len__(self) -> int:
        return len(self.array)

    def get_batch(self, indices: np.ndarray) -> torch.Tensor:
        if torch.is_tensor(self.array):
            return self.array[torch.as_tensor(indices)].to(self.dtype)
        return torch.as_tensor(np.asarray(self.array[indices]), dtype=self.dtype)


class MapBatchSource:
    """Batches from a map-style dataset (``ds[i]``), collated with ``collate`` (torch default_collate)."""

    def __init__(self, dataset: Sequence[Any], collate: Any = None) -> None:
        from torch.utils.data import default_collate

        self.dataset = dataset
        self.collate = collate or default_collate

    def __len__(self) -> int:
        return len(self.dataset)

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.collate([self.dataset[int(i)] for i in indices])


class SeededSampler:
    """Indices of the batch of a given step for one rank; reproducible and independent of history."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if n < 1:
            raise ValueError(f"SeededSampler: dataset is empty (n={n})")
        if batch_size < 1:
            raise ValueError(f"SeededSampler: batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"SeededSampler: rank {rank} outside world size {world_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self._cache: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        """The seeded order of all samples in ``epoch``."""
        perm = self._cache.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            if len(self._cache) >= 2:
                self._cache.pop(min(self._cache))
            self._cache[epoch] = perm
        return perm

    def indices(self, step: int) -> np.ndarray:
        """Sample indices (into the dataset) of this rank's batch at ``step``."""
        start = (step * self.world_size + self.rank) * self.batch_size
        pos = np.arange(start, start + self.batch_size, dtype=np.int64)
        epochs, offsets = np.divmod(pos, self.n)
        out = np.empty_like(pos)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = self.permutation(int(e))[offsets[sel]]
        return out

    def epoch(self, step: int) -> float:
        """Fractional epoch reached after ``step`` steps."""
        return step * self.world_size * self.batch_size / self.n

    def state(self, step: int) -> dict[str, int]:
        """What the checkpoint records to resume the stream exactly."""
        return {
            "position": int(step),
            "seed": self.seed,
            "n": self.n,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
        }
