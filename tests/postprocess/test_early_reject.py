"""Early rejection never rejects what the full post-processing path accepts, and measures the same distances."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xtalgen.postprocess.candidates import postprocess_candidates
from xtalgen.postprocess.dedupe import primitive_structure
from xtalgen.postprocess.early_reject import nearest_image_distances, surely_too_close
from xtalgen.postprocess.filters import REASON_FORMULA, REASON_TOO_CLOSE, _distance_ratios, distance_ratios_arrays
from xtalgen.postprocess.push_apart import PushApart
from xtalgen.postprocess.volume import ElementVolumes
from xtalgen.representations.basesites.decode import SnapExpand
from xtalgen.representations.basesites.expand import RawBaseSites


def test_nearest_image_distances_equal_pymatgen_below_half_spacing() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        lattice = Lattice.from_parameters(*rng.uniform(3, 9, 3), *rng.uniform(60, 120, 3))
        frac = rng.random((12, 3))
        dist, half = nearest_image_distances(lattice.matrix, frac)
        ref = np.asarray(lattice.get_all_distances(frac, frac))
        near = ref < half
        assert near.any()
        np.testing.assert_allclose(dist[near], ref[near], atol=1e-9)
        assert np.all(dist[~near] >= half - 1e-9)  # never under-estimated


def test_distance_ratios_on_arrays_equal_the_structure_version() -> None:
    rng = np.random.default_rng(1)
    lattice = Lattice.from_parameters(5.1, 6.2, 7.3, 80, 95, 110)
    symbols = ["Na", "Cl", "Na", "O", "Cl"]
    frac = rng.random((5, 3))
    assert distance_ratios_arrays(lattice.matrix, symbols, frac) == _distance_ratios(Structure(lattice, symbols, frac))


def test_merge_fixable_clash_is_left_to_the_merge_and_others_are_rejected() -> None:
    matrix = np.eye(3) * 6.0
    # two Na 0.2 Å apart: the merge makes them one atom, so no early verdict
    frac = np.array([[0, 0, 0], [0.2 / 6, 0, 0], [0.5, 0.5, 0.5]])
    assert surely_too_close(matrix, ["Na", "Na", "Cl"], frac, merge_factor=1.0, distance_factor=0.73) is None
    # Na and Cl 0.5 Å apart cannot be merged: certain rejection
    frac = np.array([[0, 0, 0], [0.5 / 6, 0, 0], [0.5, 0.5, 0.5]])
    clash = surely_too_close(matrix, ["Na", "Cl", "Cl"], frac, merge_factor=1.0, distance_factor=0.73)
    assert clash is not None and clash.startswith("Na-Cl")
    # ... unless a same-element neighbour within the merge threshold may move the Na away
    frac = np.array([[0, 0, 0], [0.5 / 6, 0, 0], [0.3 / 6, 0.3 / 6, 0], [0.5, 0.5, 0.5]])
    assert surely_too_close(matrix, ["Na", "Cl", "Na", "Cl"], frac, merge_factor=1.0, distance_factor=0.73) is None


@pytest.fixture(scope="module")
def model_candidates() -> tuple[list[RawBaseSites], list[int]]:
    """300 seeded candidates of the shipped PGCGM model, drawn as ``generate`` draws them."""
    from xtalgen.pipelines.pgcgm.conditions import choose_conditions, read_condition_table
    from xtalgen.pipelines.pgcgm.sample import load_pgcgm_generator, sample_base_sites
    from xtalgen.pretrained import pretrained_checkpoint

    generator, _, folder = load_pgcgm_generator(pretrained_checkpoint("pgcgm-mp-ternary"))
    k = generator.n_sites
    conditions = choose_conditions(300, read_condition_table(folder), None, None, k, np.random.default_rng(7))
    coords, lattices = sample_base_sites(generator, conditions, seed=7)
    raws = [RawBaseSites(list(els) + [""] * (k - len(els)), coords[i, 0].astype(np.float64),
                         lattices[i].astype(np.float64), int(sg), np.arange(k) < len(els))
            for i, (sg, els) in enumerate(conditions)]  # fmt: skip
    return raws, [c[0] for c in conditions]


def _ops_and_rest(text: str) -> tuple[list[str], str]:
    """(sorted symmetry-operation rows, the CIF without them): CIFs equal up to the order of the operations."""
    rows = re.compile(r"^\s+\d+\s+'(.*)'$", re.M)
    return sorted(rows.findall(text)), rows.sub("", text)


@pytest.mark.parametrize("push", [None, PushApart()])
def test_early_rejection_gives_the_full_paths_verdicts_on_model_candidates(model_candidates, push) -> None:
    raws, sgs = model_candidates
    kwargs = dict(spacegroups=sgs, expand=SnapExpand(), dedupe=False, volumes=ElementVolumes.default(),
                  max_formula_atoms=10, distance_factor=0.73, max_primitive_sites=20, workers=1,
                  progress=False, push_apart=push)  # fmt: skip
    full = postprocess_candidates(raws, early_reject=False, **kwargs)
    fast = postprocess_candidates(raws, early_reject=True, symmetrized_cif=True, **kwargs)
    assert [(r.accepted, r.reason) for r in fast] == [(r.accepted, r.reason) for r in full]
    for a, b in zip(full, fast, strict=True):
        if a.accepted:
            assert b.structure == a.structure and b.info() == a.info()
            # the primitive cell travels as arrays: the same Structure, bit for bit, once built
            prim = primitive_structure(b.primitive_cell)
            assert np.array_equal(prim.lattice.matrix, a.primitive.lattice.matrix)
            assert np.array_equal(prim.frac_coords, a.primitive.frac_coords) and prim.species == a.primitive.species
            assert b.group_formula == a.primitive.composition.reduced_formula
        else:
            assert b.structure is None and b.primitive is None and b.primitive_cell is None
    early = [r for r in fast if r.reason == REASON_TOO_CLOSE and r.spacegroup is None]
    before_merge = [r for r in early if "before merging" in r.detail]
    assert before_merge and len(early) > len(before_merge)  # both early exits were exercised
    formula = [r for r in fast if r.reason == REASON_FORMULA]
    assert formula and all(r.spacegroup is None and r.filters["spacegroup"] is None for r in formula)
    assert sum(r.accepted for r in full) > 0
    if push is not None:  # some candidates were repaired, and their atoms moved at most the bound
        moves = [r.extra["push_apart_max_move"] for r in full if r.accepted]
        assert any(m for m in moves) and all(m is not None and m <= push.max_displacement for m in moves)
    for a, b in zip(full, fast, strict=True):  # the CIF from the filters' dataset: CifWriter's sites and group
        assert (b.cif is not None) == b.accepted and a.cif is None
        if b.accepted:
            theirs = CifWriter(a.structure, symprec=0.1)
            assert _ops_and_rest(b.cif) == _ops_and_rest(str(theirs))
