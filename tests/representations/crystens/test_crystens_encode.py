"""encode: the paper's layout, channels first, explicit normalisation, options."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.representations.crystens import CapacityError, CrysTensConfig, OutOfRangeError, encode
from xtalgen.representations.crystens.config import FIRST_ATOM


def test_layout_nacl(nacl: Structure) -> None:
    cfg = CrysTensConfig()
    t = encode(nacl, cfg)
    assert t.shape == (4, 64, 64) and t.dtype == np.float32
    a = slice(FIRST_ATOM, FIRST_ATOM + 8)
    z = cfg.atomic_number.denormalise(t[0, 0, a])
    np.testing.assert_allclose(z, [11] * 4 + [17] * 4, atol=1e-4)  # canonical: sorted by Z
    lengths = cfg.length.denormalise(t[:, 4:7, a])
    np.testing.assert_allclose(lengths, 5.64, atol=1e-4)
    np.testing.assert_allclose(cfg.angle.denormalise(t[:, 7:10, a]), 90.0, atol=1e-3)
    np.testing.assert_allclose(cfg.spacegroup.denormalise(t[:, 10, a]), 225.0, atol=1e-3)
    # header rows mirrored as columns, identical in all four layers
    for layer in range(4):
        np.testing.assert_array_equal(t[layer, :11, a], t[layer, a, :11].T)
        np.testing.assert_array_equal(t[layer, :11, a], t[0, :11, a])
    # padding row/column, header corner and the empty atom slots hold the fill value
    assert np.all(t[:, 11, :] == cfg.fill_value) and np.all(t[:, :, 11] == cfg.fill_value)
    assert np.all(t[:, :11, :11] == cfg.fill_value)
    assert np.all(t[:, FIRST_ATOM + 8:, :] == cfg.fill_value) and np.all(t[:, :, FIRST_ATOM + 8:] == cfg.fill_value)


def test_difference_layers_are_row_minus_column(srtio3: Structure) -> None:
    cfg = CrysTensConfig(cell="as_given", ordering="as_given")
    t = encode(srtio3, cfg)
    frac = cfg.coordinate.denormalise(t[0, 1:4, FIRST_ATOM:FIRST_ATOM + 5]).T  # (5, 3)
    np.testing.assert_allclose(frac, srtio3.frac_coords, atol=1e-6)
    blk = slice(FIRST_ATOM, FIRST_ATOM + 5)
    for k in range(3):
        d = cfg.difference.denormalise(t[1 + k, blk, blk])
        np.testing.assert_allclose(d, frac[:, None, k] - frac[None, :, k], atol=1e-6)
        np.testing.assert_allclose(d, -d.T, atol=1e-6)
    dist = cfg.pair_distance.denormalise(t[0, blk, blk])
    np.testing.assert_allclose(dist, np.linalg.norm(frac[:, None] - frac[None], axis=-1), atol=1e-6)


def test_cartesian_minimum_image_distances(zno: Structure) -> None:
    cfg = CrysTensConfig(cell="as_given", ordering="as_given", distance="cartesian")
    t = encode(zno, cfg)
    blk = slice(FIRST_ATOM, FIRST_ATOM + len(zno))
    np.testing.assert_allclose(cfg.pair_distance.denormalise(t[0, blk, blk]), zno.distance_matrix, atol=1e-4)


def test_canonical_order_is_invariant_to_site_order_and_rotation(spinel: Structure) -> None:
    cfg = CrysTensConfig(cell="auto", size=64)  # conventional (56 atoms) does not fit: spglib primitive
    ref = encode(spinel, cfg)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(spinel))
    shuffled = Structure(spinel.lattice, [spinel[i].species for i in perm], spinel.frac_coords[perm])
    rot = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype=float)  # rotate the Cartesian frame by 90°
    rotated = Structure(Lattice(spinel.lattice.matrix @ rot.T), spinel.species, spinel.frac_coords)
    np.testing.assert_array_equal(encode(shuffled, cfg), ref)
    np.testing.assert_allclose(encode(rotated, cfg), ref, atol=1e-6)
    # and the as-given order is really kept when asked for
    raw = encode(shuffled, cfg.with_options(cell="as_given", ordering="as_given"))
    z = cfg.atomic_number.denormalise(raw[0, 0, FIRST_ATOM:FIRST_ATOM + len(spinel)])
    np.testing.assert_allclose(z, [shuffled[i].specie.Z for i in range(len(spinel))], atol=1e-4)


def test_cell_choices_and_capacity(spinel: Structure) -> None:
    def n_atoms(t: np.ndarray, cfg: CrysTensConfig) -> int:
        return int(np.sum(t[0, 0, FIRST_ATOM:] > cfg.presence_threshold))

    cfg64 = CrysTensConfig(size=64, cell="conventional")
    with pytest.raises(CapacityError, match="56 atoms"):  # conventional spinel: 56 > 52
        encode(spinel, cfg64)
    auto = CrysTensConfig(size=32, cell="auto")  # conventional (56) does not fit: primitive (14)
    t = encode(spinel, auto)
    assert n_atoms(t, auto) == 14
    assert auto.angle.denormalise(t[0, 7, FIRST_ATOM]) == pytest.approx(60.0, abs=1e-3)
    with pytest.raises(CapacityError):
        encode(spinel, CrysTensConfig(size=13, cell="primitive"))


def test_idealize_option_keeps_the_input_geometry(srtio3: Structure) -> None:
    distorted = srtio3.copy()
    distorted.translate_sites([2], [0.0, 0.0, 0.01])  # 0.04 Å: within symprec 0.1 Å of Pm-3m
    z_of = {True: None, False: None}
    for ideal in (True, False):
        cfg = CrysTensConfig(cell="conventional", idealize=ideal)
        t = encode(distorted, cfg)
        frac = cfg.coordinate.denormalise(t[0, 1:4, FIRST_ATOM:FIRST_ATOM + 5]).T
        z_of[ideal] = np.sort(frac[:, 2] % 0.5)
    assert np.all(np.isclose(z_of[True], 0.0, atol=1e-6))  # symmetrised onto the ideal sites
    assert np.isclose(z_of[False].max(), 0.01, atol=1e-5)  # kept as given


def test_spacegroup_can_be_passed_in(srtio3: Structure) -> None:
    cfg = CrysTensConfig(cell="as_given")
    t = encode(srtio3, cfg, spacegroup=221)
    np.testing.assert_array_equal(t, encode(srtio3, cfg))
    with pytest.raises(ValueError, match="1..230"):
        encode(srtio3, cfg, spacegroup=0)


def test_out_of_range_and_disordered_are_refused(nacl: Structure) -> None:
    big = Structure(Lattice.tetragonal(4.0, 75.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(OutOfRangeError, match="lattice lengths"):
        encode(big, CrysTensConfig(cell="as_given"))
    dis = nacl.copy()
    dis.replace(0, {"Na": 0.5, "K": 0.5})
    with pytest.raises(ValueError, match="ordered"):
        encode(dis)
