"""Dedupe with StructureMatcher and the full post-processing pipeline (expansion → merge → filters → dedupe)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.candidates import PostprocessResult, postprocess_candidates, rejection_counts
from xtalgen.postprocess.dedupe import dedupe, find_duplicates, fingerprint, reduced_for_matching
from xtalgen.representations.basesites.encode import encode_structure
from xtalgen.representations.basesites.expand import RawBaseSites, expand_raw, expand_raw_arrays


def spinel() -> Structure:
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(8.08), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.387] * 3]
    )


def perovskite(a: float = 3.9) -> Structure:
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(a), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]
    )


def test_find_duplicates_within_formula():
    s = spinel()
    moved = s.copy()
    moved.translate_sites(list(range(len(moved))), [0.13, 0.2, 0.05])
    prim = s.get_primitive_structure()
    tetragonal = Structure.from_spacegroup(
        "P4/mmm", Lattice.tetragonal(3.9, 5.2), ["Sr", "Ti", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5]],
    )  # SrTiO3 formula, c/a = 1.33: not the cubic perovskite
    structures = [s, perovskite(), moved, prim, None, tetragonal, perovskite(4.1)]
    assert find_duplicates(structures) == [None, None, 0, 0, None, None, 1]
    assert len(dedupe([s, moved, perovskite()])) == 2
    # Identical cells share a fingerprint; the spglib primitive of the spinel has 14 atoms.
    assert fingerprint(reduced_for_matching(s)) == fingerprint(reduced_for_matching(s.copy()))
    assert len(reduced_for_matching(s)) == 14


def _raw(base, coords, lattice=None, sg=None) -> RawBaseSites:
    return RawBaseSites(base.species, coords, base.lattice if lattice is None else lattice,
                        base.spacegroup if sg is None else sg)


def test_pipeline_records_every_outcome():
    base = encode_structure(spinel())
    offset = np.array([0.004, 0.0015, -0.0025])
    good = _raw(base, base.representatives + offset)
    collide = _raw(base, np.array([[0, 0, 0], [0.02, 0.0, 0.0], [0.387] * 3]))
    broken = _raw(base, base.representatives, lattice=np.array([-1.0, 8, 8, 90, 90, 90]))
    candidates = [good, good, collide, perovskite(), broken, "not a candidate", good]
    conds = [{"spacegroup": 227, "elements": "Mg Al O"}] * len(candidates)
    results = postprocess_candidates(candidates, spacegroups=[227, 227, 227, 221, 227, 227, 225],
                                     conditions=conds, expand=expand_raw, charge_neutrality=True,
                                     workers=2, progress=False)
    assert [r.index for r in results] == list(range(7))
    r0, r1, r2, r3, r4, r5, r6 = results
    assert isinstance(r0, PostprocessResult)
    assert r0.accepted and r0.reason == "" and r0.formula == "MgAl2O4" and r0.spacegroup == 227
    assert r0.n_atoms_before == 576 and r0.n_atoms_after == 56
    assert r0.filters == {"min_distance": True, "spacegroup": True, "formula_size": None, "cell_size": None,
                          "charge_neutral": True,
                          "unique": True}
    assert r0.conditions == {"spacegroup": 227, "elements": "Mg Al O"}
    assert not r1.accepted and r1.reason == "duplicate" and r1.duplicate_of == 0 and r1.filters["unique"] is False
    assert not r2.accepted and r2.reason == "atoms too close" and r2.filters["min_distance"] is False
    assert r3.accepted and r3.n_atoms_before == r3.n_atoms_after == 5 and r3.target_spacegroup == 221
    assert r4.reason == "expansion failed" and "positive" in r4.detail and r4.structure is None
    assert r5.reason == "expansion failed" and r5.filters["min_distance"] is None
    assert r6.reason == "space group changed" and "expected 225" in r6.detail and r6.filters["unique"] is None
    info = r0.info()
    assert info["atoms_before_merge"] == 576 and info["cond_elements"] == "Mg Al O"
    assert info["filter_charge_neutral"] is True and info["found_spacegroup"] == 227
    assert rejection_counts(results) == {"accepted": 2, "duplicate": 1, "atoms too close": 1,
                                         "expansion failed": 2, "space group changed": 1}
    # Serial processing gives the same verdicts; the raw's own spacegroup is the default target.
    serial = postprocess_candidates(candidates[:4], expand=expand_raw_arrays, workers=1, progress=False)
    assert [r.reason for r in serial] == ["", "duplicate", "atoms too close", ""]
    assert serial[3].target_spacegroup is None and serial[3].filters["spacegroup"] is None
    assert serial[0].conditions == {"spacegroup": 227}
    assert serial[0].n_atoms_before == 576 and serial[0].n_atoms_after == 56


def test_pipeline_options_and_errors():
    base = encode_structure(perovskite())
    raw = _raw(base, base.representatives)
    res = postprocess_candidates([raw], expand=expand_raw, merge=False, dedupe=False, workers=1, progress=False)
    assert res[0].accepted and res[0].filters["unique"] is None and res[0].filters["charge_neutral"] is None
    res = postprocess_candidates([raw], expand=expand_raw, max_atoms=3, workers=1, progress=False)
    assert res[0].reason == "too many atoms"
    with pytest.raises(ValueError, match="space groups"):
        postprocess_candidates([raw, raw], spacegroups=[221], expand=expand_raw, progress=False)
    with pytest.raises(ValueError, match="condition"):
        postprocess_candidates([raw], conditions=[{}, {}], expand=expand_raw, progress=False)


def test_dedupe_results_compares_only_groups_with_new_members() -> None:
    from pymatgen.core import Lattice, Structure

    from xtalgen.postprocess.candidate_dedupe import dedupe_results

    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    kw = dict(spacegroups=225, dedupe=False, workers=1, progress=False)
    old = postprocess_candidates([rocksalt, rocksalt], **kw)
    assert all(r.accepted for r in old)
    dedupe_results(old, workers=1, progress=False, since=2)  # both "already compared": left alone
    assert all(r.accepted for r in old)
    dedupe_results(old, workers=1, progress=False, since=1)  # the second is new: it is a copy of the first
    assert old[0].accepted and not old[1].accepted and old[1].duplicate_of == 0


@pytest.mark.parametrize("early_reject", [False, True])
def test_condition_formula_rejects_a_drifted_candidate(early_reject: bool) -> None:
    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    drifted = Structure.from_spacegroup("Fm-3m", Lattice.cubic(7.0), ["Na", "Cl", "Cl"],
                                        [[0, 0, 0], [0.5] * 3, [0.25] * 3])  # fmt: skip  # NaCl3
    candidates = [rock_salt, drifted, rock_salt.get_primitive_structure(), spinel()]
    kw = dict(spacegroups=[225, 225, 225, 227], dedupe=False, early_reject=early_reject, workers=1, progress=False)
    plain = postprocess_candidates(candidates, **kw)
    assert all(r.accepted for r in plain) and all("condition_formula" not in r.filters for r in plain)
    # the template's conventional cell (Na4Cl4) for the rock salt in both cells; the spinel has no condition formula
    results = postprocess_candidates(candidates, condition_formulas=["Na4 Cl4", "Na4 Cl4", "Na4 Cl4", None], **kw)
    r0, r1, r2, r3 = results
    assert r0.accepted and r0.filters["condition_formula"] is True and r0.info()["filter_condition_formula"] is True
    assert r2.accepted and r2.n_atoms_after == 2
    assert not r1.accepted and r1.reason == "formula differs from the condition"
    assert r1.detail == "NaCl3, condition NaCl" and r1.filters["condition_formula"] is False
    assert r1.formula == "NaCl3" and r1.filters["min_distance"] is True
    # the full path also runs the space-group check; the fast path rejects before spglib
    assert r1.filters["spacegroup"] is (None if early_reject else True)
    assert r3.accepted and "condition_formula" not in r3.filters
    with pytest.raises(ValueError, match="1 condition formulas for 4 candidates"):
        postprocess_candidates(candidates, condition_formulas=["NaCl"], **kw)


def test_fast_path_builds_primitive_cells_only_for_compared_structures() -> None:
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cscl = Structure.from_spacegroup("Pm-3m", Lattice.cubic(4.1), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    kw = dict(spacegroups=[225, 225, 221], workers=1, progress=False, early_reject=True, symmetrized_cif=True)
    out = postprocess_candidates([rocksalt, rocksalt, cscl], **kw)
    assert [r.accepted for r in out] == [True, False, True] and out[1].duplicate_of == 0
    assert [r.group_formula for r in out] == ["NaCl", "NaCl", "CsCl"]
    assert out[0].primitive is not None and len(out[0].primitive) == 2  # compared with its copy: built
    assert out[2].primitive is None and out[2].primitive_cell is not None  # alone in its group: arrays only
    full = postprocess_candidates([rocksalt, rocksalt, cscl], spacegroups=[225, 225, 221], workers=1,
                                  progress=False)  # fmt: skip
    assert [(r.accepted, r.reason, r.duplicate_of) for r in full] == [(r.accepted, r.reason, r.duplicate_of)
                                                                     for r in out]  # fmt: skip
