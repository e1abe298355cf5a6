"""Absent base-site slots are masked: changing anything in them changes no output of the general PGCGM."""

from __future__ import annotations

import torch

from xtalgen.models.pgcgm import PGCGMCritic, PGCGMGenerator, expand_base_sites, physics_loss_terms
from xtalgen.models.pgcgm.conditions import SITE_FEATURES, Conditions, site_symmetry_features
from xtalgen.models.pgcgm.physics_losses import PhysicsLossConfig
from xtalgen.representations.basesites.symops import ops_table

K = 6


def _conditions(seed: int, perturb_absent: bool) -> tuple[Conditions, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    m = 4
    mask = torch.zeros(m, K, dtype=torch.bool)
    mask[:, :3] = True
    feats = torch.randn(m, K, 23, generator=g)
    mult = torch.tensor([[1, 1, 3, 0, 0, 0]] * m)
    radii = torch.full((m, K), 1.5)
    z = torch.tensor([[38, 22, 8, 0, 0, 0]] * m)
    if perturb_absent:
        feats[:, 3:] = torch.randn(m, K - 3, 23) * 5
        mult[:, 3:] = 48
        radii[:, 3:] = 0.2
        z[:, 3:] = 8
    ops, ops_mask = (torch.tensor(a) for a in ops_table())
    sg = torch.full((m,), 221)
    site = site_symmetry_features(mult, ops_mask[sg].sum(1))
    cond = Conditions(feats, mask, ops[sg], ops_mask[sg], torch.full((m,), 6), group_id=sg, site_features=site)
    return cond, radii, z


def test_site_features_mark_special_and_general_positions() -> None:
    f = site_symmetry_features(torch.tensor([[1, 48, 0]]), torch.tensor([48]))
    assert f.shape == (1, 3, SITE_FEATURES)
    assert torch.allclose(f[0, 0], torch.tensor([1 / 48, 0.0, 0.0]))
    assert f[0, 1, 0] == 1.0 and f[0, 1, 2] == 1.0 and (f[0, 2] == 0).all()


def test_absent_slots_change_nothing() -> None:
    torch.manual_seed(0)
    gen = PGCGMGenerator(n_sites=K, noise_dim=8, hidden=32, n_layers=2, ops_hidden=16, site_dim=SITE_FEATURES)
    critic = PGCGMCritic(n_sites=K, hidden=32, n_layers=2, ops_hidden=16, site_dim=SITE_FEATURES)
    noise = torch.randn(4, 8)
    a, radii_a, z_a = _conditions(1, False)
    b, radii_b, z_b = _conditions(1, True)
    coords_a, lat_a = gen(noise, a)
    coords_b, lat_b = gen(noise, b)
    assert torch.equal(coords_a, coords_b) and torch.equal(lat_a, lat_b)
    assert (coords_a[:, :, 3:] == 0).all()
    junk = coords_a.clone()
    junk[:, :, 3:] = torch.rand_like(junk[:, :, 3:])
    assert torch.equal(critic.score(coords_a, lat_a, a), critic.score(junk, lat_a, b))
    cfg = PhysicsLossConfig(symmetry_images=True)
    terms_a = physics_loss_terms(cfg, coords_a, lat_a, lat_a, radii_a, z_a, a.site_mask, a.ops, a.ops_mask)
    terms_b = physics_loss_terms(cfg, junk, lat_a, lat_a, radii_b, z_b, b.site_mask, b.ops, b.ops_mask)
    for key in terms_a:
        assert torch.allclose(terms_a[key], terms_b[key]), key
    # changing a present slot does change the output (the test can fail)
    c, _, _ = _conditions(1, False)
    c.site_features[:, 2, 0] = 0.5
    assert not torch.equal(gen(noise, c)[0], coords_a)
    assert expand_base_sites(coords_a, a.ops).shape[:3] == (4, 3, K)
