from __future__ import annotations

import pytest
from pymatgen.core import Composition
from smact.screening import smact_validity

from xtalgen.evaluation.composition_validity import composition_validity


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("NaCl", True),  # Na+ Cl-
        ("NaCl2", False),  # no neutral assignment
        ("Fe", True),  # single element
        ("Fe3Al", True),  # all metals: alloy rule
        ("SrTiO3", True),
        ("Na2Cl", False),
        ("Na4Cl4", True),  # reduced to NaCl
    ],
)
def test_known_verdicts(formula, expected):
    assert composition_validity(formula) is expected


def test_fractional_composition_is_invalid():
    assert composition_validity(Composition({"Na": 0.5, "Cl": 0.25})) is False


def test_equals_smact_on_real_materials(mp_slice):
    frame, structures = mp_slice
    ours = [composition_validity(s.composition) for s in structures[:80]]
    theirs = [
        smact_validity(s.composition, use_pauling_test=True, include_alloys=True, oxidation_states_set="smact14")
        for s in structures[:80]
    ]
    assert ours == theirs
    assert 0 < sum(ours) < len(ours)  # the slice has both verdicts, so the check can fail


def test_many_element_composition_is_decided_without_the_exhaustive_search() -> None:
    """A 17-element generated composition (CrysTens raw decode) has ~10^13 oxidation-state combinations;
    it must be declared invalid at once instead of hanging, while an alloy of as many metals stays valid."""
    import time

    from xtalgen.evaluation.composition_validity import MAX_OXIDATION_COMBINATIONS

    start = time.perf_counter()
    assert not composition_validity("CaMgTiNb2AlCrInFeGeTeMoP3IAr")
    assert not composition_validity("MoWReOsRuCrMnO50")
    assert time.perf_counter() - start < 5.0
    assert composition_validity("CaMgTiNb2AlCrInFeZnMo")  # all metals: an alloy
    assert MAX_OXIDATION_COMBINATIONS >= 28_672  # the largest count among MP structures with ≤ 20 sites
    assert composition_validity("MoWReOsO2")  # below the cap: SMACT still decides
