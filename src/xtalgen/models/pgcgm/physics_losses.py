"""PGCGM physics-guided loss terms: atom-distance penalties (L_inter, L_intra) and L_box.

Seed (PGCGM, "Physics guided losses"):
``L_inter = tanh(AR_inter + OFFSET_inter - AD_inter)``, ``L_intra`` likewise for atoms of the same
element, weighted 3.5 and 5.0; ``L_box = 12.5 cos(V_r, V_f) + 5.0 (cos(a_r, a_f) + cos(b_r, b_f) +
cos(c_r, c_f))`` over a minibatch.

Choices made here (the seed leaves them open or is inconsistent):

* **Clamp at 0.** We use ``tanh(max(0, R + offset - d))``. The literal formula goes negative for
  ``d > R + offset``, so minimising it *rewards* every pair for moving further apart without bound,
  which pushes cells to inflate and fights the box term; with the clamp, atoms beyond the contact
  distance cost exactly nothing and only real overlaps are penalised.
* **Offsets.** Radii sums of neutral atomic radii over-estimate real (ionic/covalent) contact
  distances; the default offsets (``OFFSET_INTER``, ``OFFSET_INTRA``) were chosen so that almost all
  nearest-neighbour pairs of real MP ternaries are not penalised (see ``docs/models/pgcgm.md``).
* **The same atom picked twice.** Self-augmentation often picks the same atom in two sets (always, for
  a site of multiplicity 1 or 2, whose orbit has fewer than 3 members), so a same-site pair at distance
  0 is *correct*. The literal L_intra would give it the maximum penalty. Two rules:

  - *Mask*: a pair of copies of the same base site that coincide (closer than ``COINCIDENT`` Å,
    periodic) is one atom, not a pair: it is removed from the penalty **and** from the count the mean
    divides by (like an atom against itself in its own set). With symmetry images this covers the
    identity image and every image that coincides with the site (a site on a special position,
    e.g. Pm-3m 1a, where all 48 images are the site itself).
  - *Soft weight*: for the remaining same-site pairs the penalty is multiplied by
    ``1 - exp(-(d / coincidence_length)^2)``: near-coincidence is pulled to coincide exactly (which
    post-processing merges), larger overlaps are pushed apart.
* **Symmetry images** (optional, ``symmetry_images=True``): instead of comparing only the generated
  representatives, each base site is compared with every symmetry image of every base site of its
  own set (nearest image per pair), which catches atoms sitting just off a special position (the
  Fd-3m "576 atoms" case of the seed) during training. It costs G=192 times more distances.
* **L_box sign.** Cosine similarity is a reward; we minimise ``1 - cos``. Cosine similarity of two
  batch vectors is scale-invariant: it rewards volumes/lengths *proportional* to the real ones in the
  batch (paired by condition), and leaves the overall scale to the critic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from xtalgen.models.pgcgm.expansion import expand_base_sites, periodic_distance
from xtalgen.models.pgcgm.lattice import cell_volume

#: Default offsets (Å) added to radius sums; see the module docstring.
OFFSET_INTER = -0.6
OFFSET_INTRA = -0.6
#: Copies of one base site closer than this (Å) are the same atom (masked out of L_intra). Far above
#: the float32 rounding of images and the 1e-5 Å floor of :func:`periodic_distance`, far below any
#: interatomic distance.
COINCIDENT = 1e-3


@dataclass
class PhysicsLossConfig:
    """Switches and weights of the physics terms (weights from the seed)."""

    inter: bool = True
    intra: bool = True
    box: bool = True
    lambda_inter: float = 3.5
    lambda_intra: float = 5.0
    lambda_volume: float = 12.5
    lambda_abc: float = 5.0
    offset_inter: float = OFFSET_INTER
    offset_intra: float = OFFSET_INTRA
    coincidence_length: float = 0.5
    symmetry_images: bool = False

    @property
    def any_enabled(self) -> bool:
        return self.inter or self.intra or self.box


def overlap_penalty(dist: Tensor, radius_sum: Tensor, offset: float) -> Tensor:
    """``tanh(max(0, radius_sum + offset - dist))``: 0 for separated atoms, → 1 for overlapping ones."""
    return torch.tanh(torch.relu(radius_sum + offset - dist))


def _coincidence_weight(dist: Tensor, length: float) -> Tensor:
    return 1.0 - torch.exp(-((dist / length) ** 2))


def distance_losses(
    coords: Tensor,
    lattice: Tensor,
    radii: Tensor,
    element_z: Tensor,
    site_mask: Tensor,
    *,
    offset_inter: float = OFFSET_INTER,
    offset_intra: float = OFFSET_INTRA,
    coincidence_length: float = 0.5,
    ops: Tensor | None = None,
    ops_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Mean overlap penalties ``(L_inter, L_intra)`` of atoms of different / the same element.

    Args:
        coords: fractional base sites (M, S, K, 3).
        lattice: lattice parameters (M, 6), Å and degrees.
        radii: atomic radii (M, K) in Å.
        element_z: atomic numbers (M, K); equal numbers mean "same element".
        site_mask: (M, K) bool, real base sites.
        offset_inter, offset_intra: Å added to the radius sums.
        coincidence_length: Å scale below which two copies of the same base site count as one atom.
        ops, ops_mask: if given, compare each site with all symmetry images of the sites of its own
            set (nearest image per pair) instead of only with the other generated representatives.

    Returns:
        Two scalars, each the mean over valid pairs (0 when there are none).
    """
    s, k = coords.shape[1:3]
    same_site = torch.eye(k, dtype=torch.bool, device=coords.device)  # (K, K)
    same_z = element_z[:, :, None] == element_z[:, None, :]  # (M, K, K)
    rsum = radii[:, :, None] + radii[:, None, :]  # (M, K, K)
    pair_ok = site_mask[:, :, None] & site_mask[:, None, :]  # (M, K, K)
    if ops is None:
        # (M, S, K, S', K'): every generated representative against every other one.
        dist = periodic_distance(coords[:, :, :, None, None, :], coords[:, None, None, :, :, :], lattice)
        rs, zz, ok = (t[:, None, :, None, :] for t in (rsum, same_z, pair_ok))
        ss = same_site[None, None, :, None, :]
        same_set = torch.eye(s, dtype=torch.bool, device=coords.device)[None, :, None, :, None]
        # an atom against itself (same set) or against a coincident copy (another set) is not a pair
        coincident = ss & ((dist < COINCIDENT) | same_set)
        ok = ok & ~coincident
        pen_inter = overlap_penalty(dist, rs, offset_inter)
        pen_intra = overlap_penalty(dist, rs, offset_intra)
        pen_intra = torch.where(ss, pen_intra * _coincidence_weight(dist, coincidence_length), pen_intra)
        zz = zz.expand_as(dist)
    else:
        if ops_mask is None:
            raise ValueError("ops_mask is required with ops")
        images = expand_base_sites(coords, ops)  # (M, S, K, G, 3)
        # (M, S, K, K', G): site i of set s against image g of site j of the same set.
        dist = periodic_distance(coords[:, :, :, None, None, :], images[:, :, None, :, :, :], lattice)
        rs = rsum[:, None, :, :, None]
        ss = same_site[None, None, :, :, None]
        pen_inter = overlap_penalty(dist, rs, offset_inter)
        pen_intra = overlap_penalty(dist, rs, offset_intra)
        pen_intra = torch.where(ss, pen_intra * _coincidence_weight(dist, coincidence_length), pen_intra)
        # images that coincide with the site itself (identity, special positions) are the same atom
        op_ok = ops_mask[:, None, None, None, :] & ~(ss & (dist < COINCIDENT))
        zero = torch.zeros_like(pen_inter)
        # worst (largest-penalty) image per pair; a pair with no valid image is not a pair
        pen_inter = torch.where(op_ok, pen_inter, zero).amax(-1)
        pen_intra = torch.where(op_ok, pen_intra, zero).amax(-1)
        shape = pen_inter.shape  # (M, S, K, K')
        ok = pair_ok[:, None].expand(shape) & op_ok.any(-1)
        zz = same_z[:, None].expand(shape)
    inter_mask = ok & ~zz
    intra_mask = ok & zz
    l_inter = (pen_inter * inter_mask).sum() / inter_mask.sum().clamp(min=1)
    l_intra = (pen_intra * intra_mask).sum() / intra_mask.sum().clamp(min=1)
    return l_inter, l_intra


def _one_minus_cos(x: Tensor, y: Tensor) -> Tensor:
    return 1.0 - torch.nn.functional.cosine_similarity(x, y, dim=0, eps=1e-8)


def box_losses(real_lattice: Tensor, fake_lattice: Tensor) -> tuple[Tensor, Tensor]:
    """``(1 - cos(V_r, V_f), Σ_{a,b,c} (1 - cos(x_r, x_f)))`` over a batch; lattices (M, 6) Å/degrees.

    Real and fake rows must be paired (fake row i generated with the conditions of real row i).
    """
    if real_lattice.shape != fake_lattice.shape:
        raise ValueError(f"real and fake lattices differ in shape: {tuple(real_lattice.shape)} vs "
                         f"{tuple(fake_lattice.shape)}")
    volume = _one_minus_cos(cell_volume(real_lattice), cell_volume(fake_lattice))
    abc = sum(_one_minus_cos(real_lattice[:, i], fake_lattice[:, i]) for i in range(3))
    return volume, abc


def physics_loss_terms(
    cfg: PhysicsLossConfig,
    coords: Tensor,
    lattice: Tensor,
    real_lattice: Tensor,
    radii: Tensor,
    element_z: Tensor,
    site_mask: Tensor,
    ops: Tensor | None = None,
    ops_mask: Tensor | None = None,
) -> dict[str, Tensor]:
    """Unweighted enabled terms ``{"inter", "intra", "volume", "abc"}`` and their weighted ``"total"``."""
    terms: dict[str, Tensor] = {}
    total = coords.new_zeros(())
    if cfg.inter or cfg.intra:
        use_ops = cfg.symmetry_images and ops is not None
        l_inter, l_intra = distance_losses(
            coords, lattice, radii, element_z, site_mask,
            offset_inter=cfg.offset_inter, offset_intra=cfg.offset_intra,
            coincidence_length=cfg.coincidence_length,
            ops=ops if use_ops else None, ops_mask=ops_mask if use_ops else None,
        )
        if cfg.inter:
            terms["inter"] = l_inter
            total = total + cfg.lambda_inter * l_inter
        if cfg.intra:
            terms["intra"] = l_intra
            total = total + cfg.lambda_intra * l_intra
    if cfg.box:
        volume, abc = box_losses(real_lattice, lattice)
        terms["volume"], terms["abc"] = volume, abc
        total = total + cfg.lambda_volume * volume + cfg.lambda_abc * abc
    terms["total"] = total
    return terms
