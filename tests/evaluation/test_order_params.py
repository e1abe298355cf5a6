"""The vectorised order parameters and CrystalNN fingerprint equal pymatgen's / matminer's own."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.local_env import LocalStructOrderParams

from xtalgen.evaluation.fingerprints import (
    _geometry,
    _site_classes,
    _site_featurizer,
    site_fingerprint,
    structure_fingerprint,
)
from xtalgen.evaluation.order_params import FAST_TYPES, NeighbourGeometry, order_parameter


def _preset_ops() -> list[tuple[int, LocalStructOrderParams]]:
    """Every (CN, order-parameter object) of the "ops" preset that the vectorised code handles."""
    featurizer = _site_featurizer()
    return [(cn, op) for cn, ops in featurizer.ops.items() for op in ops if op != "wt" and op._types[0] in FAST_TYPES]


def _pymatgen_value(op: LocalStructOrderParams, centre: np.ndarray, neighbours: np.ndarray) -> float | None:
    lattice = Lattice.cubic(100.0)  # sites only carry coordinates here; pymatgen ignores the lattice
    sites = Structure(lattice, ["Na"] * (len(neighbours) + 1), [centre, *neighbours], coords_are_cartesian=True)
    return op.get_order_parameters(list(sites), 0, indices_neighs=list(range(1, len(neighbours) + 1)))[0]


def _polyhedra() -> dict[str, np.ndarray]:
    """Ideal and distorted neighbour shells (Å, around a centre at (5, 5, 5))."""
    rng = np.random.default_rng(7)
    octa = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], dtype=float)
    tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3)
    cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) / np.sqrt(3)
    cubo = np.array(
        [[a, b, 0] for a in (-1, 1) for b in (-1, 1)]
        + [[a, 0, b] for a in (-1, 1) for b in (-1, 1)]
        + [[0, a, b] for a in (-1, 1) for b in (-1, 1)],
        dtype=float,
    ) / np.sqrt(2)
    pentagon = np.array([[np.cos(t), np.sin(t), 0] for t in np.arange(5) * 2 * np.pi / 5])
    ring = np.array([[np.cos(t), np.sin(t), 0] for t in np.linspace(0, 2 * np.pi, 7)[:-1]])
    shells = {
        "linear": np.array([[1.0, 0, 0], [-1.0, 0, 0]]),
        "bent": np.array([[1.0, 0, 0], [np.cos(2.0), np.sin(2.0), 0]]),
        "triangle": ring[::2],
        "tetrahedron": 2.1 * tetra,
        "square": octa[:4],
        "trigonal bipyramid": np.vstack([ring[::2], [[0, 0, 1], [0, 0, -1]]]),
        "square pyramid": octa[:5],
        "octahedron": 2.0 * octa,
        "hexagon": ring,
        "pentagonal bipyramid": np.vstack([pentagon, octa[4:]]),
        "cube": 2.5 * cube,
        "cuboctahedron": 2.8 * cubo,
    }
    for name in list(shells):
        shells[f"{name} distorted"] = shells[name] * 1.9 + rng.normal(0, 0.08, shells[name].shape)
    for n in (2, 3, 4, 5, 6, 7, 8, 12):
        shells[f"random {n}"] = rng.normal(0, 1.5, (n, 3))
    return shells


def test_each_order_parameter_equals_pymatgen_on_ideal_and_distorted_shells():
    centre = np.array([5.0, 5.0, 5.0])
    checked = 0
    for name, shell in _polyhedra().items():
        neighbours = shell + centre
        geometry = NeighbourGeometry(centre, list(neighbours))
        for cn, op in _preset_ops():
            if abs(len(shell) - cn) > 1:
                continue  # each motif's parameter set on shells of about its own size
            expected = _pymatgen_value(op, centre, neighbours)
            got = order_parameter(op._types[0], op._params[0], geometry)
            label = f"{op._types[0]} (CN {cn}) on {name}"
            if expected is None:
                assert got is None, label
            else:
                assert got == pytest.approx(expected, abs=1e-10), label
            checked += 1
    assert checked > 100


def test_degenerate_neighbour_set_falls_back_to_pymatgen():
    centre = np.zeros(3)
    assert _geometry(centre, [np.zeros(3), np.array([1.0, 0, 0])]) is None  # neighbour on the centre
    assert _geometry(centre, [np.array([1.0, 0, 0]), np.array([0, 1.0, 0])]) is not None


def test_fingerprint_equals_matminer_on_real_mp_structures(mp_slice):
    """Every symmetry-distinct site of 50 MP structures: vectorised vs matminer's featurize, atol 1e-8."""
    _, structures = mp_slice
    featurizer = _site_featurizer()
    picked = structures[::6][:50]
    assert len(picked) >= 50
    n_sites = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in picked:
            reps, _ = _site_classes(s)
            for i in reps:
                ours = np.array(site_fingerprint(s, int(i), featurizer))
                ref = np.array(featurizer.featurize(s, int(i)), dtype=float)
                np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8, err_msg=f"{s.composition} site {i}")
                n_sites += 1
        np.testing.assert_allclose(
            structure_fingerprint(picked[0]), structure_fingerprint(picked[0], reference=True), rtol=0, atol=1e-8
        )
    assert n_sites >= 100


def test_geometry_prefix_equals_geometry_of_the_first_neighbours():
    """CrystalNN's CN-k neighbours are the first k of one list: the sliced geometry must be the one
    built from those k neighbours, array for array."""
    rng = np.random.default_rng(2)
    centre = np.array([1.0, 2.0, 3.0])
    neighbours = centre + rng.normal(0, 2.0, (12, 3))
    neighbours[3] = centre + 1.5 * (neighbours[1] - centre)  # collinear pair: a vanishing x axis
    full = NeighbourGeometry(centre, neighbours)
    for k in (2, 5, 8, 12):
        sub, fresh = full.prefix(k), NeighbourGeometry(centre, neighbours[:k])
        for name in ("theta", "collinear", "pair", "triple", "triple2", "phi"):
            np.testing.assert_array_equal(getattr(sub, name), getattr(fresh, name), err_msg=f"{name}, k={k}")
    assert full.collinear[1, 3] and full.collinear[3, 1]
    with pytest.raises(ValueError, match="prefix length"):
        full.prefix(13)
