"""Early stop of clearly unstable candidates inside a batched relaxation (a :data:`StopRule`).

After ``after`` FIRE steps a structure is stopped when its current energy (eV/atom) is still more than
``margin`` above the metastability limit of the hull (``hull energy at its composition + limit``) and its
energy fell by less than ``max_drop`` eV/atom per step over the last ``window`` steps, so the descent left
cannot bring it below the limit. The hull energy of each structure's composition (eV/atom) comes from the
caller as a mapping by key (the evaluator computes it from its reference table); a key without one is never
stopped. The verdict of a stopped structure is "not metastable".

Off unless an energy model is given a rule (``CHGNetEnergyModel(early_stop=EarlyStopRule())``); the defaults
are calibrated on CHGNet relaxations of 288 PGCGM samples (docs/benchmarks/relaxation_throughput.md).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Defaults of :class:`EarlyStopRule` (provenance: docs/benchmarks/relaxation_throughput.md).
AFTER, MARGIN, WINDOW, MAX_DROP = 30, 0.3, 10, 0.001


@dataclass(frozen=True)
class EarlyStopRule:
    """When to stop: from step ``after`` on, E - hull - ``limit`` > ``margin`` (eV/atom) and the mean energy
    drop per step over the last ``window`` steps < ``max_drop`` (eV/atom per step)."""

    after: int = AFTER
    margin: float = MARGIN
    window: int = WINDOW
    max_drop: float = MAX_DROP
    limit: float = 0.1

    def __post_init__(self) -> None:
        if self.after < self.window or self.window < 1:
            raise ValueError(f"early stop: need after ≥ window ≥ 1, got after={self.after}, window={self.window}")
        if self.margin < 0 or self.max_drop < 0:
            raise ValueError(f"early stop: margin and max_drop must be ≥ 0, got {self.margin}, {self.max_drop}")

    @property
    def tag(self) -> str:
        """Identifies the rule (part of the relaxation cache name and settings)."""
        return f"stop{self.after}-{self.margin}-{self.window}-{self.max_drop}-{self.limit}"

    def settings(self) -> dict[str, Any]:
        """The rule's parameters (recorded with the relaxation settings)."""
        return {"after": self.after, "margin": self.margin, "window": self.window, "max_drop": self.max_drop,
                "limit": self.limit}  # fmt: skip

    def should_stop(self, hull: float, energies: Sequence[float]) -> bool:
        """True to stop a structure whose hull energy (eV/atom) is ``hull`` after ``energies`` (one per step)."""
        steps = len(energies) - 1
        if steps < self.after or not math.isfinite(hull):
            return False
        if energies[-1] - hull - self.limit <= self.margin:
            return False
        return (energies[-1 - self.window] - energies[-1]) / self.window < self.max_drop


@dataclass(frozen=True)
class HullEarlyStop:
    """A :data:`xtalgen.postprocess.batched_fire.StopRule`: ``rule`` with each key's hull energy (eV/atom)."""

    rule: EarlyStopRule
    hull: Mapping[Hashable, float] = field(default_factory=dict)

    def __call__(self, key: Hashable, energies: Sequence[float]) -> bool:
        hull = self.hull.get(key)
        return hull is not None and self.rule.should_stop(float(hull), energies)
