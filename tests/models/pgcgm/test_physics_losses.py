"""PGCGM physics losses on hand-built cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from xtalgen.models.pgcgm.physics_losses import (
    PhysicsLossConfig,
    box_losses,
    distance_losses,
    overlap_penalty,
    physics_loss_terms,
)
from xtalgen.representations.basesites.symops import padded_ops

torch.set_num_threads(1)
CUBE10 = torch.tensor([[10.0, 10.0, 10.0, 90.0, 90.0, 90.0]], dtype=torch.float64)


def _two_elements(x0, x1, radii=(1.0, 1.0), lattice=CUBE10, sets=1):
    """One sample, S sets, K=2 sites of elements 11 and 17."""
    coords = torch.tensor([[[x0, x1]] * sets], dtype=torch.float64)  # (1, S, 2, 3)
    return dict(
        coords=coords.clone().requires_grad_(True),
        lattice=lattice,
        radii=torch.tensor([list(radii)], dtype=torch.float64),
        element_z=torch.tensor([[11, 17]]),
        site_mask=torch.tensor([[True, True]]),
    )


def test_far_apart_atoms_cost_nothing() -> None:
    case = _two_elements([0, 0, 0], [0.5, 0.5, 0.5])  # 8.66 Å apart, radius sum 2 Å
    l_inter, l_intra = distance_losses(**case)
    assert l_inter.item() == 0.0  # clamped: no reward for distance either
    assert l_intra.item() == 0.0


def test_overlapping_atoms_get_exact_tanh_penalty() -> None:
    case = _two_elements([0, 0, 0], [0.05, 0, 0])  # 0.5 Å apart
    l_inter, _ = distance_losses(**case, offset_inter=-0.6)
    assert l_inter.item() == pytest.approx(math.tanh(2.0 - 0.6 - 0.5), rel=1e-9)
    l_inter.backward()
    # the gradient pushes the two atoms apart along x
    grad = case["coords"].grad[0, 0]
    assert grad[0, 0] > 0 and grad[1, 0] < 0


def test_distances_are_periodic_minimum_image() -> None:
    case = _two_elements([0.02, 0, 0], [0.98, 0, 0])  # 0.4 Å through the cell face, not 9.6 Å
    l_inter, _ = distance_losses(**case, offset_inter=0.0)
    assert l_inter.item() == pytest.approx(math.tanh(2.0 - 0.4), rel=1e-9)


def test_paper_formula_without_clamp_would_reward_distance() -> None:
    # the literal tanh(R + offset - d) is negative here; ours is exactly zero
    assert math.tanh(2.0 - 0.6 - 8.66) < 0
    assert overlap_penalty(torch.tensor(8.66), torch.tensor(2.0), -0.6).item() == 0.0


def test_intra_same_atom_picked_twice_is_free_but_near_copies_are_penalised() -> None:
    def intra(dx: float) -> tuple[float, float]:
        coords = torch.tensor([[[[0.2, 0.2, 0.2]], [[0.2 + dx, 0.2, 0.2]]]], dtype=torch.float64)
        coords.requires_grad_(True)
        _, l_intra = distance_losses(
            coords, CUBE10, torch.tensor([[1.5]], dtype=torch.float64), torch.tensor([[8]]),
            torch.tensor([[True]]), offset_intra=-0.6, coincidence_length=0.5,
        )  # fmt: skip
        l_intra.backward()
        return l_intra.item(), coords.grad[0, 1, 0, 0].item()

    same, grad_same = intra(0.0)
    # exactly the same atom: no loss, no push (up to the 1e-10 Å^2 regulariser under the square root)
    assert same == pytest.approx(0.0, abs=1e-8) and grad_same == pytest.approx(0.0, abs=1e-6)
    near, grad_near = intra(0.03)  # 0.3 Å: pulled onto the other copy (positive grad = move back)
    far, grad_far = intra(0.15)  # 1.5 Å < 3.0 - 0.6: pushed apart
    assert near > 0 and grad_near > 0
    assert far > 0 and grad_far < 0
    clear, _ = intra(0.3)  # 3.0 Å > 2.4 Å
    assert clear == 0.0


def test_intra_uses_same_element_pairs_only() -> None:
    coords = torch.tensor([[[[0, 0, 0], [0.05, 0, 0], [0.5, 0.5, 0.5]]]], dtype=torch.float64)
    args = dict(lattice=CUBE10, radii=torch.ones(1, 3, dtype=torch.float64), site_mask=torch.ones(1, 3, dtype=bool))
    l_inter, l_intra = distance_losses(coords, element_z=torch.tensor([[8, 8, 11]]), **args)
    # the two close atoms are both O: intra sees them (different sites, full penalty), inter does not
    assert l_inter.item() == 0.0
    assert l_intra.item() == pytest.approx(math.tanh(2.0 - 0.6 - 0.5) * 2 / 2, rel=1e-9)
    l_inter2, _ = distance_losses(coords, element_z=torch.tensor([[8, 9, 11]]), **args)
    assert l_inter2.item() > 0


def test_masked_sites_are_ignored() -> None:
    case = _two_elements([0, 0, 0], [0.01, 0, 0])
    case["site_mask"] = torch.tensor([[True, False]])
    l_inter, l_intra = distance_losses(**case)
    assert l_inter.item() == 0.0 and l_intra.item() == 0.0


def test_symmetry_images_catch_atoms_just_off_a_special_position() -> None:
    ops, mask = padded_ops(221)  # Pm-3m
    kw = dict(
        lattice=torch.tensor([[4.0, 4.0, 4.0, 90.0, 90.0, 90.0]], dtype=torch.float64),
        radii=torch.tensor([[1.0]], dtype=torch.float64), element_z=torch.tensor([[8]]),
        site_mask=torch.tensor([[True]]), ops=torch.tensor(ops[None]).double(), ops_mask=torch.tensor(mask[None]),
    )  # fmt: skip
    on = torch.zeros(1, 1, 1, 3, dtype=torch.float64)  # 1a exactly: all images coincide = one atom
    off = on + torch.tensor([0.03, 0.0, 0.0], dtype=torch.float64)  # images 0.24 Å apart
    assert distance_losses(on, **kw)[1].item() == pytest.approx(0.0, abs=1e-8)
    assert distance_losses(off, **kw)[1].item() > 0.05
    # without the images the off-position single atom has no partner and costs nothing
    no_images = {k: v for k, v in kw.items() if k not in ("ops", "ops_mask")}
    assert distance_losses(off, **no_images)[1].item() == 0.0


def _intra_penalty(d: float, rsum: float = 2.0, offset: float = -0.6, length: float = 0.5) -> float:
    """Expected same-site penalty at distance d (soft coincidence weight included)."""
    return math.tanh(max(0.0, rsum + offset - d)) * (1 - math.exp(-((d / length) ** 2)))


def _pm3m(dtype=torch.float64) -> dict:
    ops, mask = padded_ops(221)
    return dict(ops=torch.tensor(ops[None], dtype=dtype), ops_mask=torch.tensor(mask[None]))


def test_coincident_copies_of_a_small_orbit_are_masked_out_of_the_mean() -> None:
    # Two O sites in a 4 Å cube, 3 sets. Site A sits on Pm-3m 1a (orbit of 1 < 3 sets): the same atom in
    # every set. Site B: the same atom in sets 0 and 1, a copy 0.16 Å away in set 2.
    a = [0.0, 0.0, 0.0]
    b, b_off = [0.5, 0.5, 0.5], [0.54, 0.5, 0.5]
    coords = torch.tensor([[[a, b], [a, b], [a, b_off]]], dtype=torch.float64, requires_grad=True)
    kw = dict(lattice=torch.tensor([[4.0, 4.0, 4.0, 90.0, 90.0, 90.0]], dtype=torch.float64),
              radii=torch.ones(1, 2, dtype=torch.float64), element_z=torch.tensor([[8, 8]]),
              site_mask=torch.ones(1, 2, dtype=torch.bool))  # fmt: skip
    _, l_intra = distance_losses(coords, **kw)
    # 36 (set, site) pairs - 6 atoms against themselves - 6 coincident A copies - 2 coincident B copies
    # = 22 pairs; only the 4 (B, B_off) pairs are penalised. Without the mask the mean divides by 30.
    assert l_intra.item() == pytest.approx(4 * _intra_penalty(0.16) / 22, rel=1e-6)
    l_intra.backward()
    assert torch.all(coords.grad[0, :, 0] == 0)  # the 1a atom is never pushed against its own copies


def test_special_position_images_are_masked_in_the_symmetry_image_loss() -> None:
    # Site A on 1a (all 48 images are A itself); site B 0.03 (0.12 Å) off 1b: its 8 images fixed by the
    # 4/mmm stabiliser of the x axis coincide with B, the others lie 0.17 Å and 0.24 Å away.
    coords = torch.tensor([[[[0.0, 0.0, 0.0], [0.53, 0.5, 0.5]]]], dtype=torch.float64)
    kw = dict(lattice=torch.tensor([[4.0, 4.0, 4.0, 90.0, 90.0, 90.0]], dtype=torch.float64),
              radii=torch.ones(1, 2, dtype=torch.float64), element_z=torch.tensor([[8, 8]]),
              site_mask=torch.ones(1, 2, dtype=torch.bool), **_pm3m())  # fmt: skip
    _, l_intra = distance_losses(coords, **kw)
    worst = max(_intra_penalty(0.12 * math.sqrt(2)), _intra_penalty(0.24))
    # pairs (B,B), (A,B), (B,A) count; (A,A) has no image other than A itself and is not a pair (/4 without it)
    assert l_intra.item() == pytest.approx(worst / 3, rel=1e-6)


@pytest.mark.parametrize(("sg", "site"), [(221, [0.0, 0.0, 0.0]), (221, [0.5, 0.0, 0.0]),
                                          (194, [1 / 3, 2 / 3, 0.25]), (227, [0.125, 0.125, 0.125])])
def test_a_site_exactly_on_a_special_position_costs_exactly_nothing_in_float32(sg: int, site: list) -> None:
    # float32 like training: images of a special position differ from the site by rounding only (~1e-7)
    ops, mask = padded_ops(sg)
    lat = [5.0, 5.0, 5.0, 90.0, 90.0, 90.0] if sg != 194 else [3.0, 3.0, 5.0, 90.0, 90.0, 120.0]
    coords = torch.tensor([[[site]]], dtype=torch.float32, requires_grad=True)
    _, l_intra = distance_losses(
        coords, torch.tensor([lat]), torch.tensor([[0.6]]), torch.tensor([[8]]), torch.tensor([[True]]),
        ops=torch.tensor(ops[None]), ops_mask=torch.tensor(mask[None]),
    )  # fmt: skip
    l_intra.backward()
    assert l_intra.item() == 0.0  # 3c/2c/8a: the other orbit members are ≥ 1.9 Å > 1.2 - 0.6 Å away
    assert torch.all(coords.grad == 0)


def test_box_loss_zero_for_identical_and_proportional_batches_and_positive_otherwise() -> None:
    real = torch.tensor([[4.0, 4.0, 4.0, 90, 90, 90], [3.0, 3.0, 5.0, 90, 90, 120], [5.0, 6.0, 7.0, 90, 100, 90]])
    vol, abc = box_losses(real, real.clone())
    assert vol.item() == pytest.approx(0.0, abs=1e-6) and abc.item() == pytest.approx(0.0, abs=1e-6)
    # cosine similarity is scale invariant: a uniformly scaled batch also scores 0
    scaled = real.clone()
    scaled[:, :3] *= 1.5
    assert box_losses(real, scaled)[0].item() == pytest.approx(0.0, abs=1e-6)
    fake = real.clone()
    fake[0, :3] = 9.0
    fake.requires_grad_(True)
    vol, abc = box_losses(real, fake)
    assert vol.item() > 0.01 and abc.item() > 0.01
    (vol + abc).backward()
    assert fake.grad[0, :3].abs().sum() > 0  # gradient flows to the generated lattice


def test_physics_terms_switches_and_weights() -> None:
    case = _two_elements([0, 0, 0], [0.05, 0, 0], sets=3)
    real = CUBE10 * torch.tensor([[1.2, 1.0, 1.0, 1, 1, 1]], dtype=torch.float64)
    both = torch.cat([CUBE10, CUBE10 * 0.5])
    args = (case["coords"].expand(2, -1, -1, -1), both, torch.cat([real, CUBE10]), case["radii"].expand(2, -1),
            case["element_z"].expand(2, -1), case["site_mask"].expand(2, -1))  # fmt: skip
    cfg = PhysicsLossConfig()
    terms = physics_loss_terms(cfg, *args)
    assert set(terms) == {"inter", "intra", "volume", "abc", "total"}
    expected = 3.5 * terms["inter"] + 5.0 * terms["intra"] + 12.5 * terms["volume"] + 5.0 * terms["abc"]
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-9)
    off = physics_loss_terms(PhysicsLossConfig(inter=False, box=False), *args)
    assert set(off) == {"intra", "total"}
    assert off["total"].item() == pytest.approx(5.0 * terms["intra"].item(), rel=1e-9)
    none = physics_loss_terms(PhysicsLossConfig(inter=False, intra=False, box=False), *args)
    assert none["total"].item() == 0.0
