"""The symmetric push-apart repairs too-close atoms within its bound and keeps the space group."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.candidates import postprocess_candidates
from xtalgen.postprocess.filters import REASON_TOO_CLOSE, distance_ratios_arrays, find_spacegroup
from xtalgen.postprocess.push_apart import PushApart, frac_moves, push_apart_arrays


def _rock_salt_with_o(x: float) -> Structure:
    """Fm-3m cell: Na 4a, Cl 4b and O on 32f (x, x, x), which comes close to Na for small x."""
    return Structure.from_spacegroup(225, Lattice.cubic(5.6), ["Na", "Cl", "O"], [[0, 0, 0], [0.5] * 3, [x] * 3])


def _arrays(s: Structure) -> tuple[np.ndarray, list[str], np.ndarray]:
    return s.lattice.matrix, [site.specie.symbol for site in s], s.frac_coords


@pytest.mark.parametrize("x", [0.2, 0.15])
def test_a_clash_is_repaired_within_the_bound_keeping_the_group(x: float) -> None:
    s = _rock_salt_with_o(x)
    matrix, symbols, frac = _arrays(s)
    assert distance_ratios_arrays(matrix, symbols, frac)[0] < 0.73
    new, moved = push_apart_arrays(matrix, symbols, frac, distance_factor=0.73, target=225,
                                   options=PushApart(max_displacement=0.5))  # fmt: skip
    assert moved is not None and 0 < moved <= 0.5
    assert frac_moves(matrix, frac, new).max() <= 0.5 + 1e-9
    assert distance_ratios_arrays(matrix, symbols, new)[0] >= 0.73
    assert find_spacegroup(Structure(s.lattice, symbols, new), 0.01) == 225  # exactly symmetric
    na = np.array(symbols) == "Na"  # atoms on special positions without freedom do not move
    np.testing.assert_allclose(frac_moves(matrix, frac, new)[na], 0.0, atol=1e-9)


def test_a_clash_beyond_the_bound_is_left_alone() -> None:
    matrix, symbols, frac = _arrays(_rock_salt_with_o(0.15))  # needs a move of about 0.34 Å
    new, moved = push_apart_arrays(matrix, symbols, frac, distance_factor=0.73, target=225,
                                   options=PushApart(max_displacement=0.2))  # fmt: skip
    assert moved is None and np.array_equal(new, frac)
    matrix, symbols, frac = _arrays(_rock_salt_with_o(0.05))  # far too close for 0.5 Å
    assert push_apart_arrays(matrix, symbols, frac, distance_factor=0.73, target=225)[1] is None


def test_nothing_moves_without_a_clash_or_in_another_group() -> None:
    matrix, symbols, frac = _arrays(_rock_salt_with_o(0.25))
    assert distance_ratios_arrays(matrix, symbols, frac)[0] >= 0.73
    new, moved = push_apart_arrays(matrix, symbols, frac, distance_factor=0.73, target=225)
    assert moved == 0.0 and np.array_equal(new, frac)
    matrix, symbols, frac = _arrays(_rock_salt_with_o(0.2))
    new, moved = push_apart_arrays(matrix, symbols, frac, distance_factor=0.73, target=229)  # not its group
    assert moved is None and np.array_equal(new, frac)


def test_the_perovskite_in_a_low_symmetry_group_is_repaired_and_stays_in_it() -> None:
    # P4mm (99): Ti at 1b (1/2, 1/2, z) 1.36 Å from the apical O at 1b (1/2, 1/2, 0)
    s = Structure.from_spacegroup(99, Lattice.tetragonal(3.9, 4.0), ["Sr", "Ti", "O", "O"],
                                  [[0, 0, 0], [0.5, 0.5, 0.34], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5]])  # fmt: skip
    matrix, symbols, frac = _arrays(s)
    assert distance_ratios_arrays(matrix, symbols, frac)[0] < 0.73
    new, moved = push_apart_arrays(matrix, symbols, frac, distance_factor=0.73, target=99)
    assert moved is not None and moved <= 0.5
    assert distance_ratios_arrays(matrix, symbols, new)[0] >= 0.73
    assert find_spacegroup(Structure(s.lattice, symbols, new), 0.01) == 99


@pytest.mark.parametrize("early_reject", [False, True])
def test_postprocess_switch(early_reject: bool) -> None:
    items = [_rock_salt_with_o(0.2), _rock_salt_with_o(0.05), _rock_salt_with_o(0.25)]
    kwargs = dict(spacegroups=225, dedupe=False, distance_factor=0.73, workers=1, progress=False,
                  early_reject=early_reject)  # fmt: skip
    off = postprocess_candidates(items, **kwargs)
    on = postprocess_candidates(items, push_apart=PushApart(), **kwargs)
    assert [r.reason for r in off] == [REASON_TOO_CLOSE, REASON_TOO_CLOSE, ""]
    assert [r.reason for r in on] == ["", REASON_TOO_CLOSE, ""]
    assert "push_apart_max_move" not in off[0].info()
    assert on[0].info()["push_apart_max_move"] > 0 and on[0].spacegroup == 225
    assert on[1].info()["push_apart_max_move"] is None and on[2].info()["push_apart_max_move"] == 0.0
    assert on[2].structure == off[2].structure


def test_row_norms_are_numpys_bit_for_bit() -> None:
    from xtalgen.postprocess.push_apart import _norms

    v = np.random.default_rng(0).normal(size=(50, 7, 3)) * 3.7
    assert np.array_equal(_norms(v), np.linalg.norm(v, axis=-1))
    assert np.array_equal(_norms(v[0]), np.linalg.norm(v[0], axis=1))
