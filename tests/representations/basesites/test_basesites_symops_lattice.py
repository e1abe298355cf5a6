"""Space-group ops table and crystal-system lattice constraints."""

from __future__ import annotations

import numpy as np
import pytest
from pyxtal.symmetry import Group

from xtalgen.data.crystal_systems import crystal_system, crystal_systems
from xtalgen.representations.basesites.lattice import (
    FREE_PARAMETERS,
    apply_constraints,
    from_free_parameters,
    from_log_lengths,
    log_lengths,
    symmetrize,
    to_free_parameters,
    volume,
)
from xtalgen.representations.basesites.symops import (
    MAX_OPS,
    apply_ops,
    default_hall_number,
    n_ops,
    ops_for,
    ops_table,
    padded_ops,
    spacegroup_ops,
)


def test_op_count_equals_general_position_multiplicity_for_all_230_groups():
    # Independent source: PyXtal's Wyckoff tables (general position = first entry, multiplicity).
    for sg in range(1, 231):
        assert n_ops(sg) == Group(sg)[0].multiplicity, sg
    assert max(n_ops(sg) for sg in range(1, 231)) == MAX_OPS


def _op_key(op: np.ndarray) -> tuple:
    trans = np.round(op[:3, 3], 6) % 1.0
    return tuple(np.round(op[:3, :3]).astype(int).ravel()) + tuple(np.round(trans, 6))


@pytest.mark.parametrize("sg", [1, 2, 12, 15, 62, 71, 139, 141, 166, 167, 194, 216, 225, 227, 230])
def test_ops_form_a_group_modulo_lattice_translations(sg):
    ops = spacegroup_ops(sg)
    assert np.allclose(ops[0], np.eye(4))
    assert np.all((ops[:, :3, 3] >= 0) & (ops[:, :3, 3] < 1))
    keys = {_op_key(o) for o in ops}
    assert len(keys) == len(ops)
    products = np.einsum("aij,bjk->abik", ops[:: max(1, len(ops) // 8)], ops).reshape(-1, 4, 4)
    assert all(_op_key(p) in keys for p in products)


def test_standard_settings_are_spglib_defaults():
    # Origin choice 1 for Fd-3m (hall 525), hexagonal axes for R-3m (hall 458), b-unique C2/m (C 1 2/m 1).
    assert default_hall_number(227) == 525
    assert default_hall_number(166) == 458
    assert default_hall_number(12) == 63
    # Fd-3m origin choice 1: 8a at (0,0,0) has 8 distinct images.
    imgs = np.round(apply_ops(spacegroup_ops(227), np.zeros(3)) % 1, 6)
    assert len(np.unique(imgs, axis=0)) == 8
    # R-3m hexagonal: 3a at (0,0,0) → 3 atoms (R centring (2/3,1/3,1/3)).
    imgs = np.round(apply_ops(spacegroup_ops(166), np.zeros(3)) % 1, 6)
    assert {tuple(x) for x in np.unique(imgs, axis=0)} == {
        (0.0, 0.0, 0.0), (0.666667, 0.333333, 0.333333), (0.333333, 0.666667, 0.666667)
    }


def test_padding_and_table():
    ops, mask = padded_ops(221)
    assert ops.shape == (192, 4, 4) and ops.dtype == np.float32 and mask.sum() == 48
    assert np.all(ops[~mask] == 0)
    table, tmask = ops_table()
    assert table.shape == (231, 192, 4, 4) and not tmask[0].any()
    batch, bmask = ops_for(np.array([225, 1, 227]))
    assert bmask.sum(1).tolist() == [192, 1, 192]
    assert np.array_equal(batch[1, 0], np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match="1..230"):
        ops_for(np.array([0]))
    with pytest.raises(ValueError, match="1..230"):
        spacegroup_ops(231)


def test_crystal_system_boundaries():
    sgs = [1, 2, 3, 15, 16, 74, 75, 142, 143, 167, 168, 194, 195, 230]
    assert [crystal_system(s) for s in sgs] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert crystal_systems(np.array(sgs)).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    with pytest.raises(ValueError):
        crystal_system(0)


def test_constraints_and_free_parameters():
    lat = np.array([4.0, 4.2, 5.0, 89.0, 91.0, 119.0])
    assert np.allclose(apply_constraints(lat, 6), [4, 4, 4, 90, 90, 90])
    assert np.allclose(apply_constraints(lat, 5), [4, 4, 5, 90, 90, 120])
    assert np.allclose(apply_constraints(lat, 1), [4, 4.2, 5, 90, 91, 90])
    assert np.allclose(symmetrize(lat, 3), [4.1, 4.1, 5, 90, 90, 90])
    assert np.allclose(symmetrize(lat, 6), [13.2 / 3] * 3 + [90] * 3)
    assert [len(p) for p in FREE_PARAMETERS] == [6, 4, 3, 2, 2, 2, 1]
    batch = np.array([lat, lat * 1.1])
    for cs in range(7):
        constrained = apply_constraints(batch, cs)
        assert np.allclose(from_free_parameters(to_free_parameters(constrained, cs), cs), constrained)
    with pytest.raises(ValueError, match="free parameters"):
        from_free_parameters(np.array([1.0, 2.0]), 6)
    assert np.allclose(from_log_lengths(log_lengths(lat), lat[3:]), lat)
    assert volume(np.array([2.0, 3.0, 4.0, 90, 90, 90])) == pytest.approx(24.0)
    assert volume(np.array([3.0, 3.0, 5.0, 90, 90, 120])) == pytest.approx(9 * 5 * np.sqrt(3) / 2)
