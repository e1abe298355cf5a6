"""Occupancy lock: decide from a slot's whole header whether it holds an atom, and keep empty slots empty.

The decoder counts a slot as an atom when the mean of its 8 atomic-number entries lies above the
presence threshold (halfway between the fill value and hydrogen). An unconditional diffusion model on
MP <= 20 leaves "phantom" slots: Z entries just above that threshold while the slot's own copies of the
lattice and space group sit at the fill value (lengths ~0.5 Å, angles ~0 deg). Each such slot adds one
wildly wrong lattice copy, and a few of them dominate the mean lattice-angle and space-group variances
(docs/models/crystens.md, "Occupancy lock").

This sampling hook reads, from some point of the reverse process on, every step's x0 estimate and asks
of each slot that passes the Z threshold whether its header is nearer to an empty slot (every entry at
the fill value) or to an occupied one (Z at least hydrogen's, lattice and space group equal to the
median over the sample's Z-present slots), in squared normalised units. Slots judged empty are locked:
their row and column in all four layers are set to the fill value in that and every later x0 estimate
(by replacement, like :mod:`.imputation`), and in the final sample, so the remaining reverse steps
denoise the occupied slots consistently with an empty one. Slots below the Z threshold are left free.

The hook has the interface of :class:`~.imputation.Imputation` (``model_output``, ``apply``) and can wrap
one (or a :class:`~.symmetry_projection.SymmetryProjection`), which then runs first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from xtalgen.models.crystens.imputation import output_from_x0, x0_from_output
from xtalgen.models.crystens.tensor_layout import slot_headers, slot_mask
from xtalgen.representations.crystens.config import ROW_A, ROW_SG, ROW_Z, CrysTensConfig


def phantom_slots(x0: torch.Tensor, config: CrysTensConfig) -> torch.Tensor:
    """(B, A) bool: slots above the Z presence threshold whose header is nearer an empty slot than an atom."""
    h = slot_headers(x0)
    z, shared = h[:, ROW_Z], h[:, ROW_A:ROW_SG + 1]  # (B, A), (B, 7, A)
    present = z > config.presence_threshold
    masked = torch.where(present[:, None, :], shared, torch.full_like(shared, float("nan")))
    consensus = torch.nanmedian(masked, dim=-1, keepdim=True).values  # (B, 7, 1); NaN if nothing present
    z_h = float(config.atomic_number.normalise(1.0))
    fill = config.fill_value
    d_atom = (z - z.clamp(min=z_h)) ** 2 + ((shared - consensus) ** 2).sum(dim=1)
    d_empty = (z - fill) ** 2 + ((shared - fill) ** 2).sum(dim=1)
    return present & (d_empty < d_atom)


@dataclass
class OccupancyLock:
    """Sampling hook that locks phantom slots empty from timestep ``start * T`` on (T: training timesteps).

    ``start`` = 1 decides from the first reverse step, 0 only on the final sample (a decode-time rule).
    """

    config: CrysTensConfig
    start: float = 0.5
    num_train_timesteps: int = 1000
    inner: Any = None  # an Imputation or SymmetryProjection run first (same interface)
    locked_counts: list[int] = field(default_factory=list)  # slots locked per sample, over all runs
    _locked: torch.Tensor | None = field(default=None, repr=False)
    _t_prev: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.start) <= 1.0:
            raise ValueError(f"occupancy lock start must be a fraction of the schedule in [0, 1], got {self.start}")

    def _update(self, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x0`` with locked slots emptied (after adding this estimate's phantom slots), and their mask."""
        found = phantom_slots(x0, self.config)
        self._locked = found if self._locked is None or self._locked.shape != found.shape else self._locked | found
        mask = slot_mask(self._locked, x0.shape[-1])
        return torch.where(mask, torch.full_like(x0, self.config.fill_value), x0), mask

    def model_output(
        self, out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor, prediction_type: str
    ) -> torch.Tensor:
        """The network output with its implied x0 imputed (inner hook), and phantom slots locked empty."""
        step = int(t)
        if self._t_prev is None or step >= self._t_prev:  # a new reverse run (timesteps decrease within one)
            self._locked = None
        self._t_prev = step
        if self.inner is not None:
            out = self.inner.model_output(out, xt, t, alphas_cumprod, prediction_type)
        if step >= self.start * self.num_train_timesteps:
            return out
        x0, mask = self._update(x0_from_output(out, xt, t, alphas_cumprod, prediction_type))
        return torch.where(mask, output_from_x0(x0, xt, t, alphas_cumprod, prediction_type), out)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The final samples (inner hook applied) with locked and phantom slots emptied; ends the run."""
        if self.inner is not None:
            x = self.inner.apply(x)
        x, _ = self._update(x)
        self.locked_counts.extend(int(c) for c in self._locked.sum(dim=1))
        self._locked, self._t_prev = None, None
        return x
