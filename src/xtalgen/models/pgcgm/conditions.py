"""Conditioning inputs of PGCGM and the network that embeds them.

A sample is conditioned on its space group (through its symmetry operations and crystal system)
and on the elements of its base sites (through their 23 scaled element features); a general model
(``site_dim`` > 0) also sees each base site's Wyckoff multiplicity (:func:`site_symmetry_features`),
so that it knows a 12-fold site from a 1-fold one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

from xtalgen.data.crystal_systems import N_CRYSTAL_SYSTEMS


@dataclass
class Conditions:
    """Per-sample conditions, all tensors on one device.

    Attributes:
        element_features: (M, K, F) scaled element features of the K base sites.
        site_mask: (M, K) bool, True for real base sites (False = padding).
        ops: (M, G, 4, 4) affine symmetry operations on fractional coordinates, padded.
        ops_mask: (M, G) bool, True for real operations.
        crystal_system: (M,) int in 0..6.
        group_id: optional (M,) int, equal for samples with identical ``ops`` (e.g. the space-group
            number); lets the encoder embed each distinct set of operations once per batch.
        site_features: optional (M, K, W) per-site Wyckoff features (:func:`site_symmetry_features`),
            used by encoders built with ``site_dim`` = W > 0.
    """

    element_features: Tensor
    site_mask: Tensor
    ops: Tensor
    ops_mask: Tensor
    crystal_system: Tensor
    group_id: Tensor | None = None
    site_features: Tensor | None = None

    def __post_init__(self) -> None:
        m = self.element_features.shape[0]
        for f in fields(self):
            t = getattr(self, f.name)
            if t is None and f.name in ("group_id", "site_features"):
                continue
            if not isinstance(t, Tensor) or t.shape[0] != m:
                raise ValueError(f"Conditions.{f.name} must be a tensor with {m} rows")
        if self.ops.shape[-2:] != (4, 4):
            raise ValueError(f"Conditions.ops must be (M, G, 4, 4), got {tuple(self.ops.shape)}")

    def __len__(self) -> int:
        return int(self.element_features.shape[0])

    def to(self, device: torch.device | str) -> Conditions:
        """Copy of the conditions on ``device``."""
        return self._map(lambda t: t.to(device))

    def repeat(self, times: int) -> Conditions:
        """The conditions stacked ``times`` times along the sample axis."""
        return self._map(lambda t: torch.cat([t] * times))

    def index(self, idx: Tensor | slice) -> Conditions:
        """Rows ``idx`` of every tensor."""
        return self._map(lambda t: t[idx])

    def _map(self, fn) -> Conditions:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return Conditions(**{k: None if v is None else fn(v) for k, v in values.items()})


#: Width of :func:`site_symmetry_features`.
SITE_FEATURES = 3


def site_symmetry_features(multiplicity: Tensor, n_ops: Tensor) -> Tensor:
    """Per-site Wyckoff features (M, K, 3) from multiplicities (M, K) and operation counts (M,).

    ``[m / |G|, log2(m) / log2(192), 1 if m = |G| (general position)]`` with m the site's atoms in the
    conventional cell and |G| the space group's operations in the conventional cell (the general
    position's multiplicity), so ``m / |G|`` is 1 / (order of the site-symmetry group). Padded sites
    (m = 0) get zeros.
    """
    m = multiplicity.to(torch.float32)
    g = n_ops.to(torch.float32).clamp(min=1.0)[:, None]
    present = (m > 0).to(torch.float32)
    log_m = torch.log2(m.clamp(min=1.0)) / 7.584962500721156  # log2(192)
    general = (m == g).to(torch.float32)
    return torch.stack([m / g, log_m * present, general * present], dim=-1)


def mlp(sizes: list[int], final_act: bool = False) -> nn.Sequential:
    """Linear layers with LeakyReLU(0.2) between them (and after the last if ``final_act``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_act:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class OpsEncoder(nn.Module):
    """Embeds a padded set of symmetry operations (M, G, 4, 4) into (M, out_dim).

    Each operation's 3x4 affine part (12 numbers of the flattened 16; the last row is constant) goes
    through a shared MLP (a 1x1 convolution over the 192 slots); masked mean- and max-pooling
    make the embedding independent of the order and padding of the operations.
    """

    def __init__(self, hidden: int = 64, out_dim: int = 64):
        super().__init__()
        self.per_op = mlp([12, hidden, hidden], final_act=True)
        self.out = nn.Linear(2 * hidden, out_dim)

    def forward(self, ops: Tensor, ops_mask: Tensor) -> Tensor:
        x = self.per_op(ops[:, :, :3, :].reshape(*ops.shape[:2], 12))
        mask = ops_mask.unsqueeze(-1).to(x.dtype)
        count = mask.sum(1).clamp(min=1.0)
        mean = (x * mask).sum(1) / count
        maxed = torch.where(ops_mask.unsqueeze(-1), x, torch.full_like(x, -1e4)).amax(1)
        maxed = torch.where(ops_mask.any(1, keepdim=True), maxed, torch.zeros_like(maxed))
        return self.out(torch.cat([mean, maxed], dim=-1))


class ConditionEncoder(nn.Module):
    """Embeds :class:`Conditions` into one vector (M, out_dim) per sample."""

    def __init__(self, n_sites: int, element_dim: int = 23, ops_hidden: int = 64, out_dim: int = 128,
                 site_dim: int = 0):  # fmt: skip
        super().__init__()
        self.n_sites = n_sites
        self.element_dim = element_dim
        self.site_dim = site_dim
        self.ops = OpsEncoder(ops_hidden, ops_hidden)
        in_dim = n_sites * (element_dim + site_dim + 1) + ops_hidden + N_CRYSTAL_SYSTEMS
        self.mix = mlp([in_dim, out_dim, out_dim], final_act=True)

    def forward(self, cond: Conditions) -> Tensor:
        m, k, f = cond.element_features.shape
        if k != self.n_sites or f != self.element_dim:
            raise ValueError(f"model built for {self.n_sites} sites x {self.element_dim} features, "
                             f"got element_features {tuple(cond.element_features.shape)}")
        mask = cond.site_mask.to(cond.element_features.dtype)
        parts = [cond.element_features * mask.unsqueeze(-1)]
        if self.site_dim:
            if cond.site_features is None or cond.site_features.shape[-1] != self.site_dim:
                raise ValueError(f"model built for {self.site_dim} Wyckoff features per site; the conditions "
                                 "carry none or another number (site_features)")  # fmt: skip
            parts.append(cond.site_features.to(mask.dtype) * mask.unsqueeze(-1))
        elems = torch.cat([*parts, mask.unsqueeze(-1)], dim=-1)
        system = nn.functional.one_hot(cond.crystal_system.long(), N_CRYSTAL_SYSTEMS).to(elems.dtype)
        h = torch.cat([elems.reshape(m, -1), self._encode_ops(cond), system], dim=-1)
        return self.mix(h)

    def _encode_ops(self, cond: Conditions) -> Tensor:
        if cond.group_id is None:
            return self.ops(cond.ops, cond.ops_mask)
        _, inverse = torch.unique(cond.group_id, return_inverse=True)
        order = torch.arange(len(inverse), device=inverse.device)
        first = torch.full((int(inverse.max()) + 1,), len(inverse), device=inverse.device, dtype=order.dtype)
        first = first.scatter_reduce(0, inverse, order, reduce="amin")
        return self.ops(cond.ops[first], cond.ops_mask[first])[inverse]
