"""Torch lattice geometry and symmetry expansion against pymatgen / numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice
from pymatgen.symmetry.groups import SpaceGroup

from xtalgen.models.pgcgm.expansion import expand_base_sites, periodic_distance, to_cartesian
from xtalgen.models.pgcgm.lattice import cell_volume, constrain_lattice, free_angle_mask, lattice_matrix
from xtalgen.representations.basesites.symops import apply_ops, padded_ops

torch.set_num_threads(1)

PARAMS = [
    (4.0, 4.0, 4.0, 90.0, 90.0, 90.0),  # cubic
    (3.2, 3.2, 5.1, 90.0, 90.0, 120.0),  # hexagonal
    (5.0, 6.0, 7.0, 90.0, 110.0, 90.0),  # monoclinic
    (5.0, 6.0, 7.0, 80.0, 95.0, 105.0),  # triclinic
]


@pytest.mark.parametrize("params", PARAMS)
def test_lattice_matrix_metric_and_volume_match_pymatgen(params: tuple) -> None:
    mat = lattice_matrix(torch.tensor([params], dtype=torch.float64))[0].numpy()
    ref = Lattice.from_parameters(*params).matrix
    # same metric tensor = same cell up to a rotation
    np.testing.assert_allclose(mat @ mat.T, ref @ ref.T, atol=1e-9)
    vol = cell_volume(torch.tensor([params], dtype=torch.float64))[0].item()
    assert vol == pytest.approx(Lattice.from_parameters(*params).volume, rel=1e-10)


# space group -> number of images of a general position (centred, hexagonal, rhombohedral, ...)
GROUPS = {225: 192, 227: 192, 194: 24, 166: 36, 12: 8, 139: 32, 62: 8, 221: 48}


@pytest.mark.parametrize("sg", sorted(GROUPS))
def test_expansion_matches_numpy_and_orbit_size(sg: int) -> None:
    ops, mask = padded_ops(sg)
    point = np.array([0.1234, 0.2345, 0.3456])
    images = expand_base_sites(
        torch.tensor(point[None, None, :], dtype=torch.float64), torch.tensor(ops[None], dtype=torch.float64)
    )[0, 0]  # (192, 3)
    got = images.numpy()[mask]
    ref = np.mod(apply_ops(ops[mask].astype(np.float64), point), 1.0)
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert got.min() >= 0 and got.max() < 1
    # a general position has as many distinct images as the group's order (independent: pymatgen)
    distinct = {tuple(np.round(p, 6) % 1.0) for p in got}
    assert len(distinct) == GROUPS[sg] == len(SpaceGroup.from_int_number(sg).get_orbit(point))


def test_expansion_of_special_position_repeats_points() -> None:
    ops, mask = padded_ops(225)  # Fm-3m: 4a (0,0,0) has 4 distinct images in the conventional cell
    images = expand_base_sites(torch.zeros(1, 1, 3, dtype=torch.float64), torch.tensor(ops[None]).double())
    distinct = {tuple(np.round(p, 6) % 1.0) for p in images[0, 0].numpy()[mask]}
    assert distinct == {(0, 0, 0), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)}


@pytest.mark.parametrize("params", PARAMS)
def test_periodic_distance_matches_pymatgen(params: tuple) -> None:
    rng = np.random.default_rng(1)
    a = rng.random((50, 3))
    b = rng.random((50, 3))
    lat = torch.tensor([params], dtype=torch.float64)
    got = periodic_distance(torch.tensor(a[None]), torch.tensor(b[None]), lat)[0].numpy()
    pm = Lattice.from_parameters(*params)
    ref = np.array([pm.get_distance_and_image(x, y)[0] for x, y in zip(a, b, strict=True)])
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_to_cartesian_preserves_distances() -> None:
    params = PARAMS[3]
    frac = torch.tensor([[[0.1, 0.2, 0.3], [0.7, 0.1, 0.9]]], dtype=torch.float64)
    cart = to_cartesian(frac, torch.tensor([params], dtype=torch.float64))[0].numpy()
    ref = Lattice.from_parameters(*params).get_cartesian_coords(frac[0].numpy())
    assert np.linalg.norm(cart[0] - cart[1]) == pytest.approx(np.linalg.norm(ref[0] - ref[1]), rel=1e-10)


def test_constrain_lattice_ties_lengths_and_fixes_angles() -> None:
    lengths = torch.tensor([[3.0, 4.0, 5.0]] * 7, requires_grad=True)
    angles = torch.tensor([[80.0, 100.0, 110.0]] * 7, requires_grad=True)
    out = constrain_lattice(lengths, angles, torch.arange(7)).detach().numpy()
    np.testing.assert_allclose(out[0], [3, 4, 5, 80, 100, 110])  # triclinic: all free
    np.testing.assert_allclose(out[1], [3, 4, 5, 90, 100, 90])  # monoclinic: beta free
    np.testing.assert_allclose(out[2], [3, 4, 5, 90, 90, 90])
    np.testing.assert_allclose(out[3], [3, 3, 5, 90, 90, 90])  # tetragonal a = b
    np.testing.assert_allclose(out[4], [3, 3, 5, 90, 90, 120])  # trigonal, hexagonal axes
    np.testing.assert_allclose(out[5], [3, 3, 5, 90, 90, 120])
    np.testing.assert_allclose(out[6], [3, 3, 3, 90, 90, 90])  # cubic
    assert free_angle_mask(torch.tensor([1])).tolist() == [[False, True, False]]
    # gradients reach only the outputs a system uses: cubic ignores b, c and all angles
    constrain_lattice(lengths[6:], angles[6:], torch.tensor([6])).sum().backward()
    assert lengths.grad[6].tolist() == [3.0, 0.0, 0.0]
    assert angles.grad.abs().sum().item() == 0.0


def test_constrain_lattice_rejects_bad_crystal_system() -> None:
    with pytest.raises(ValueError, match="crystal_system"):
        constrain_lattice(torch.ones(1, 3), torch.ones(1, 3), torch.tensor([7]))
