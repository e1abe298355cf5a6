"""Conditions for CrysTens diffusion: space group and composition embeddings, classifier-free guidance.

The condition vector (space-group embedding + composition embedding, projected to the UNet's time
embedding width) is added to the time embedding (diffusers ``UNet2DModel`` with
``class_embed_type="identity"``). "No condition" is space group 0 and an all-zero composition; during
training conditions are dropped at random so the same network also predicts unconditionally, and at
sampling the two predictions are mixed: ``eps = eps_uncond + s * (eps_cond - eps_uncond)``
(Ho & Salimans 2022, classifier-free guidance; ``s = 1`` is plain conditional sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

N_SPACEGROUPS = 230


@dataclass
class ConditioningConfig:
    """Which conditions are used and how they are dropped during training.

    ``p_uncond``: probability of dropping all conditions of a sample; ``p_drop_each``: otherwise,
    probability of dropping each condition on its own (so one may condition on the space group only).
    ``n_elements``: length of the composition vector (atomic numbers 1..n_elements).
    """

    enabled: bool = False
    spacegroup: bool = True
    composition: bool = True
    n_elements: int = 100
    hidden_dim: int = 128
    p_uncond: float = 0.1
    p_drop_each: float = 0.2

    def validate(self) -> None:
        if self.enabled and not (self.spacegroup or self.composition):
            raise ValueError("enabled: conditioning needs spacegroup and/or composition")
        if self.n_elements < 1 or self.hidden_dim < 1:
            raise ValueError("n_elements and hidden_dim must be >= 1")
        for name in ("p_uncond", "p_drop_each"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: must be in [0, 1), got {getattr(self, name)}")


def composition_fractions(counts: torch.Tensor) -> torch.Tensor:
    """Element counts (B, n_elements) -> atomic fractions (rows of zeros stay zero = no condition)."""
    total = counts.sum(-1, keepdim=True)
    return torch.where(total > 0, counts / total.clamp_min(1e-12), torch.zeros_like(counts))


class ConditionEncoder(nn.Module):
    """(space group (B,) long, 0 = none; composition (B, n_elements), zeros = none) -> (B, out_dim)."""

    def __init__(self, out_dim: int, config: ConditioningConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_dim
        self.spacegroup = nn.Embedding(N_SPACEGROUPS + 1, h) if config.spacegroup else None
        if config.composition:
            self.composition = nn.Sequential(nn.Linear(config.n_elements, h), nn.SiLU(), nn.Linear(h, h))
            self.null_composition = nn.Parameter(torch.zeros(h))
        else:
            self.composition = None
        self.proj = nn.Sequential(nn.SiLU(), nn.Linear(h, out_dim))

    def forward(self, spacegroup: torch.Tensor | None, composition: torch.Tensor | None) -> torch.Tensor:
        ref = spacegroup if spacegroup is not None else composition
        if ref is None:
            raise ValueError(
                "ConditionEncoder needs a batch of space groups or compositions (use zeros for none)"
            )
        b = ref.shape[0]
        h = torch.zeros(b, self.config.hidden_dim, device=ref.device)
        if self.spacegroup is not None:
            sg = spacegroup if spacegroup is not None else torch.zeros(b, dtype=torch.long, device=ref.device)
            if sg.min() < 0 or sg.max() > N_SPACEGROUPS:
                raise ValueError(
                    f"space group numbers must be in 0..230 (0 = none), got {sg.min()}..{sg.max()}"
                )
            h = h + self.spacegroup(sg.long())
        if self.composition is not None:
            comp = (
                composition
                if composition is not None
                else torch.zeros(b, self.config.n_elements, device=h.device)
            )
            present = (comp.sum(-1, keepdim=True) > 0).to(h.dtype)
            h = h + present * self.composition(comp.to(h.dtype)) + (1 - present) * self.null_composition
        return self.proj(h)


def drop_conditions(
    spacegroup: torch.Tensor | None,
    composition: torch.Tensor | None,
    p_uncond: float,
    p_drop_each: float,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Randomly replace conditions by "none" (space group 0, zero composition) for guidance training."""
    ref = spacegroup if spacegroup is not None else composition
    if ref is None:
        return None, None
    b, dev = ref.shape[0], ref.device
    drop_all = torch.rand(b, device=dev) < p_uncond
    if spacegroup is not None:
        drop = drop_all | (torch.rand(b, device=dev) < p_drop_each)
        spacegroup = torch.where(drop, torch.zeros_like(spacegroup), spacegroup)
    if composition is not None:
        drop = drop_all | (torch.rand(b, device=dev) < p_drop_each)
        composition = torch.where(drop[:, None], torch.zeros_like(composition), composition)
    return spacegroup, composition


def guided(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance mix of conditional and unconditional predictions."""
    return eps_uncond + scale * (eps_cond - eps_uncond)
