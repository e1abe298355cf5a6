"""PGCGM generator, critic and WGAN-GP pieces: shapes, constraints, invariances, equivalences."""

from __future__ import annotations

import pytest
import torch

from xtalgen.data.crystal_systems import crystal_system
from xtalgen.models.pgcgm import (
    Conditions,
    PGCGMCritic,
    PGCGMGenerator,
    critic_scores_and_penalty,
    gradient_penalty,
)
from xtalgen.representations.basesites.symops import padded_ops

torch.set_num_threads(1)
GROUPS = [225, 194, 12, 62, 139, 166, 2]


def _conditions(groups=GROUPS, k=3, with_group_id=True) -> Conditions:
    ops, masks = zip(*(padded_ops(sg) for sg in groups), strict=True)
    gen = torch.Generator().manual_seed(0)
    m = len(groups)
    site_mask = torch.ones(m, k, dtype=torch.bool)
    site_mask[-1, -1] = False  # one sample with only two base sites
    return Conditions(
        element_features=torch.rand(m, k, 23, generator=gen) * 2 - 1,
        site_mask=site_mask,
        ops=torch.tensor(list(ops)),
        ops_mask=torch.tensor(list(masks)),
        crystal_system=torch.tensor([crystal_system(sg) for sg in groups]),
        group_id=torch.tensor(groups) if with_group_id else None,
    )


def _small_generator() -> PGCGMGenerator:
    torch.manual_seed(0)
    return PGCGMGenerator(noise_dim=8, hidden=32, n_layers=2, ops_hidden=16, log_length_mean=1.6)


def test_generator_shapes_ranges_and_crystal_system_constraints() -> None:
    gen = _small_generator()
    cond = _conditions()
    coords, lat = gen(gen.sample_noise(len(cond), generator=torch.Generator().manual_seed(1)), cond)
    assert coords.shape == (len(GROUPS), 3, 3, 3) and lat.shape == (len(GROUPS), 6)
    real = cond.site_mask[:, None, :, None].expand_as(coords)
    assert coords[real].min() > 0 and coords[real].max() < 1
    assert coords[~real].abs().max() == 0  # padded site
    by_sg = dict(zip(GROUPS, lat.detach(), strict=True))
    a, b, c, al, be, ga = by_sg[225].tolist()
    assert a == b == c and (al, be, ga) == (90, 90, 90)
    a, b, c, al, be, ga = by_sg[194].tolist()
    assert a == b and (al, be, ga) == (90, 90, 120)
    assert by_sg[166][5].item() == 120  # rhombohedral in hexagonal axes
    _, _, _, al, be, ga = by_sg[12].tolist()
    assert al == ga == 90 and 40 < be < 140 and be != 90  # monoclinic beta is generated
    assert torch.all(by_sg[2][3:] != 90)  # triclinic: all angles generated
    assert torch.all(lat[:, :3] > 0)


def test_generator_is_deterministic_given_noise() -> None:
    gen = _small_generator()
    cond = _conditions()
    z = gen.sample_noise(len(cond), generator=torch.Generator().manual_seed(3))
    out1, out2 = gen(z, cond), gen(z, cond)
    assert torch.equal(out1[0], out2[0]) and torch.equal(out1[1], out2[1])


def test_ops_encoding_ignores_order_of_operations_and_dedupe_is_exact() -> None:
    torch.manual_seed(0)
    critic = PGCGMCritic(hidden=32, n_layers=2, ops_hidden=16)
    cond = _conditions(with_group_id=False)
    coords = torch.rand(len(cond), 3, 3, 3)
    feats = torch.randn(len(cond), 6)
    base = critic(coords, feats, cond)
    # permuting the real operations of every sample leaves the score unchanged (set encoder)
    perm_ops = cond.ops.clone()
    for i in range(len(cond)):
        n = int(cond.ops_mask[i].sum())
        perm_ops[i, :n] = cond.ops[i, torch.randperm(n)]
    permuted = Conditions(cond.element_features, cond.site_mask, perm_ops, cond.ops_mask, cond.crystal_system)
    torch.testing.assert_close(critic(coords, feats, permuted), base, rtol=1e-5, atol=1e-5)
    # encoding each group once (group_id) gives the same scores as encoding every row
    rep = cond.repeat(2)
    grouped = Conditions(rep.element_features, rep.site_mask, rep.ops, rep.ops_mask, rep.crystal_system,
                         group_id=torch.tensor(GROUPS * 2))  # fmt: skip
    torch.testing.assert_close(
        critic(coords.repeat(2, 1, 1, 1), feats.repeat(2, 1), grouped), base.repeat(2), rtol=1e-5, atol=1e-5
    )


def test_critic_sees_coordinates_periodically() -> None:
    torch.manual_seed(0)
    critic = PGCGMCritic(hidden=32, n_layers=2, ops_hidden=16)
    cond = _conditions()
    coords = torch.rand(len(cond), 3, 3, 3)
    feats = torch.randn(len(cond), 6)
    torch.testing.assert_close(critic(coords, feats, cond), critic(coords + 1.0, feats, cond), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(critic(coords, feats, cond), critic(coords + 0.25, feats, cond))


def test_fused_critic_pass_equals_separate_calls() -> None:
    torch.manual_seed(0)
    critic = PGCGMCritic(hidden=32, n_layers=2, ops_hidden=16).double()
    cond = _conditions()
    cond = Conditions(cond.element_features.double(), cond.site_mask, cond.ops.double(), cond.ops_mask,
                      cond.crystal_system, cond.group_id)  # fmt: skip
    m = len(cond)
    real = (torch.rand(m, 3, 3, 3, dtype=torch.float64), torch.randn(m, 6, dtype=torch.float64))
    fake = (torch.rand(m, 3, 3, 3, dtype=torch.float64), torch.randn(m, 6, dtype=torch.float64))
    d_real, d_fake, gp = critic_scores_and_penalty(critic, real, fake, cond, torch.Generator().manual_seed(5))
    torch.testing.assert_close(d_real, critic(*real, cond))
    torch.testing.assert_close(d_fake, critic(*fake, cond))
    gp_ref = gradient_penalty(critic, real, fake, cond, torch.Generator().manual_seed(5))
    torch.testing.assert_close(gp, gp_ref)
    assert gp.item() > 0
    gp.backward()  # the penalty is differentiable w.r.t. the critic weights (double backward)
    assert critic.out[0].weight.grad is not None and critic.out[0].weight.grad.abs().sum() > 0


def test_gradient_penalty_is_zero_for_unit_gradient_critic() -> None:
    class UnitSlope(torch.nn.Module):
        """Score = 3/5 * x_0 + 4/5 * feat_0: gradient norm exactly 1 everywhere."""

        def forward(self, coords, feats, cond):
            return 0.6 * coords[:, 0, 0, 0] + 0.8 * feats[:, 0]

    m = 4
    real = (torch.rand(m, 3, 3, 3), torch.randn(m, 6))
    fake = (torch.rand(m, 3, 3, 3), torch.randn(m, 6))
    assert gradient_penalty(UnitSlope(), real, fake, None).item() == pytest.approx(0.0, abs=1e-6)


def test_periodic_coordinate_head_and_harmonic_critic_features() -> None:
    torch.manual_seed(0)
    gen = PGCGMGenerator(noise_dim=8, hidden=32, n_layers=2, ops_hidden=16, coord_activation="periodic")
    cond = _conditions()
    coords, _ = gen(gen.sample_noise(len(cond)), cond)
    assert coords.min() >= 0 and coords.max() < 1
    coords.sum().backward()  # mod 1 passes gradients through unchanged
    assert gen.coord_head.weight.grad.abs().sum() > 0
    critic = PGCGMCritic(hidden=32, n_layers=2, ops_hidden=16, coord_harmonics=4)
    x = torch.rand(len(cond), 3, 3, 3)
    feats = torch.randn(len(cond), 6)
    torch.testing.assert_close(critic(x, feats, cond), critic(x - 1.0, feats, cond), rtol=1e-4, atol=1e-4)
    assert critic.body[0].in_features == 32 + 3 * 3 * 6 * 4 + 6
    with pytest.raises(ValueError, match="coord_activation"):
        PGCGMGenerator(coord_activation="tanh")
