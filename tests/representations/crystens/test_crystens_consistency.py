"""Self-consistency metrics (paper Tables 1 and 2): zero when noise-free, growing with noise, raw entries."""

from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure

from xtalgen.representations.crystens import CrysTensConfig, consistency_metrics, encode
from xtalgen.representations.crystens.cell import select_cell
from xtalgen.representations.crystens.config import FIRST_ATOM

METRICS = ("var_length", "var_angle", "var_spacegroup", "var_frac_coord", "var_atomic_number",
           "coord_agreement", "pairwise_diff_per_atom")


def test_noise_free_tensors_are_consistent(nacl: Structure, zno: Structure, spinel: Structure) -> None:
    for s in (nacl, zno, spinel):
        for cfg in (CrysTensConfig(), CrysTensConfig(distance="cartesian")):
            m = consistency_metrics(encode(s, cfg), cfg)
            cell = select_cell(s.lattice.matrix, s.frac_coords, np.array(s.atomic_numbers), cfg)
            assert m.n_atoms == len(cell.numbers)
            for name in METRICS:
                assert abs(getattr(m, name)) < 1e-5, (s.formula, name, getattr(m, name))


def test_metrics_grow_monotonically_with_noise(spinel: Structure) -> None:
    cfg = CrysTensConfig()
    t = encode(spinel, cfg)
    rng = np.random.default_rng(0)
    levels = (0.001, 0.003, 0.01, 0.03)
    means = []
    for sigma in levels:
        rows = [consistency_metrics(t + rng.normal(0, sigma, t.shape), cfg).as_dict() for _ in range(4)]
        means.append({k: np.mean([r[k] for r in rows]) for k in METRICS})
    for name in METRICS:
        series = [m[name] for m in means]
        assert all(b > a for a, b in zip(series, series[1:], strict=False)), (name, series)
    # variances scale like sigma^2 (physical units): a factor 10 in sigma gives ~100 in variance
    ratio = means[3]["var_spacegroup"] / means[1]["var_spacegroup"]
    assert 50 < ratio < 200


def test_variances_use_raw_repeats_including_z(srtio3: Structure) -> None:
    cfg = CrysTensConfig()
    t = encode(srtio3, cfg)
    # disturb only the z coordinate of atom 0, in one of its 8 repeats
    t[2, 3, FIRST_ATOM] = cfg.coordinate.normalise(0.4)
    m = consistency_metrics(t, cfg)
    z_true = srtio3.frac_coords[np.argsort(srtio3.atomic_numbers, kind="stable")][0, 2]
    expected = np.var([z_true] * 7 + [0.4]) / (3 * 5)  # mean over 5 atoms and x, y, z
    assert math.isclose(m.var_frac_coord, expected, rel_tol=1e-4)
    assert m.var_length == 0.0 and m.var_spacegroup == 0.0
    # one lattice repeat off by 1 Å among 8A = 40 repeats of a
    t2 = encode(srtio3, cfg)
    t2[1, 4, FIRST_ATOM + 1] = cfg.length.normalise(3.905 + 1.0)
    m2 = consistency_metrics(t2, cfg)
    assert math.isclose(m2.var_length, np.var([0.0] * 39 + [1.0]) / 3, rel_tol=1e-3)


def test_single_atom_and_empty(nacl: Structure) -> None:
    cfg = CrysTensConfig()
    one = Structure(nacl.lattice, ["Cu"], [[0, 0, 0]])
    m = consistency_metrics(encode(one, cfg.with_options(cell="as_given")), cfg.with_options(cell="as_given"))
    assert m.n_atoms == 1 and math.isnan(m.coord_agreement) and m.var_length == 0.0
    empty = consistency_metrics(np.full((4, 64, 64), cfg.fill_value), cfg)
    assert empty.n_atoms == 0 and math.isnan(empty.var_length)
