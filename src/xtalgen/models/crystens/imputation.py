"""Conditioning by replacement: impute the CrysTens entries a request fixes at every denoising step.

At each reverse step the network's estimate of the clean tensor x0 is overwritten at the known entries
(space group, atomic numbers of the occupied slots, empty slots; :mod:`xtalgen.representations.crystens.known_entries`)
before the scheduler step, so the unknown entries are denoised consistently with them, and the final
sample is set to the targets exactly (imputation in the score-SDE sense, Song et al. ICLR 2021, sec. 5 and
App. I.2; RePaint, Lugmayr et al. CVPR 2022, without resampling). With ``prediction_type="sample"`` the
model output *is* the x0 estimate; for ``epsilon``/``v_prediction`` the output is converted to x0,
replaced and converted back at the known entries. This enforces the request; it is not learned
conditioning, and it combines with classifier-free guidance (applied to the guided output).

When only a space group is known, the occupied slots are those whose x0 estimate has a mean Z entry
(8 repeats) above the presence threshold, re-read at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_SG, ROW_Z, CrysTensConfig
from xtalgen.representations.crystens.known_entries import KnownEntries


@dataclass
class Imputation:
    """Known entries of a (4, N, N) CrysTens (normalised units) and how to enforce them on a batch."""

    values: torch.Tensor  # (4, N, N) float
    mask: torch.Tensor  # (4, N, N) bool
    spacegroup_value: float | None = None  # written into the slots found present (slots not known)
    presence_threshold: float = 0.0

    @classmethod
    def from_known(cls, known: KnownEntries, config: CrysTensConfig) -> Imputation:
        return cls(
            torch.from_numpy(np.asarray(known.values, dtype=np.float32)),
            torch.from_numpy(np.asarray(known.mask, dtype=bool)),
            known.spacegroup_value,
            config.presence_threshold,
        )

    def masks(self, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(values, mask) broadcast to the batch ``x0`` (B, 4, N, N), adding the space group of present slots."""
        values = self.values.to(x0.device, x0.dtype).expand_as(x0)
        mask = self.mask.to(x0.device).expand_as(x0)
        if self.spacegroup_value is None:
            return values, mask
        b, _, n, _ = x0.shape
        atoms = slice(FIRST_ATOM, n)
        z = torch.cat([x0[:, :, ROW_Z, atoms], x0[:, :, atoms, ROW_Z]], dim=1).mean(dim=1)  # (B, A)
        present = z > self.presence_threshold
        sg = torch.zeros(b, 4, n, n, dtype=torch.bool, device=x0.device)
        sg[:, :, ROW_SG, atoms] = present[:, None, :]
        sg[:, :, atoms, ROW_SG] = present[:, None, :]
        values = torch.where(sg, torch.full_like(x0, self.spacegroup_value), values)
        return values, mask | sg

    def apply(self, x0: torch.Tensor) -> torch.Tensor:
        """``x0`` with the known entries replaced by their targets."""
        values, mask = self.masks(x0)
        return torch.where(mask, values, x0)

    def model_output(
        self, out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor, prediction_type: str
    ) -> torch.Tensor:
        """The network output ``out`` at ``x_t``, timestep ``t``, with its implied x0 imputed."""
        if prediction_type == "sample":
            return self.apply(out)
        x0 = x0_from_output(out, xt, t, alphas_cumprod, prediction_type)
        values, mask = self.masks(x0)
        new = output_from_x0(torch.where(mask, values, x0), xt, t, alphas_cumprod, prediction_type)
        return torch.where(mask, new, out)


def _alphas(alphas_cumprod: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ab = alphas_cumprod.to(like.device, like.dtype)[t.long()].reshape(-1, 1, 1, 1)
    return ab.sqrt(), (1 - ab).sqrt()


def x0_from_output(
    out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """The clean-tensor estimate implied by a network output (``sample``, ``epsilon`` or ``v_prediction``)."""
    if prediction_type == "sample":
        return out
    sa, sb = _alphas(alphas_cumprod, t, out)
    if prediction_type == "epsilon":
        return (xt - sb * out) / sa
    if prediction_type == "v_prediction":
        return sa * xt - sb * out
    raise ValueError(f"prediction_type must be 'sample', 'epsilon' or 'v_prediction', got {prediction_type!r}")


def output_from_x0(
    x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor, prediction_type: str
) -> torch.Tensor:
    """The network output (of ``prediction_type``) at ``x_t`` that implies the clean-tensor estimate ``x0``."""
    if prediction_type == "sample":
        return x0
    sa, sb = _alphas(alphas_cumprod, t, x0)
    eps = (xt - sa * x0) / sb
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "v_prediction":
        return sa * eps - sb * x0
    raise ValueError(f"prediction_type must be 'sample', 'epsilon' or 'v_prediction', got {prediction_type!r}")
