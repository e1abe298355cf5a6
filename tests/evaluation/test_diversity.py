"""Per-run diversity summary: space groups and Wyckoff templates of generated structures."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure

from xtalgen.evaluation.diversity import diversity_summary, format_diversity, wyckoff_template


def _rocksalt(a: float, cation: str) -> Structure:
    return Structure.from_spacegroup(225, Lattice.cubic(a), [cation, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _perovskite() -> Structure:
    return Structure.from_spacegroup(221, Lattice.cubic(3.9), ["Sr", "Ti", "O"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]])  # fmt: skip


def test_templates_ignore_elements_and_count_groups() -> None:
    assert wyckoff_template(_rocksalt(5.6, "Na")) == (225, "a b")
    assert wyckoff_template(_perovskite()) == (221, "a b c")
    summary = diversity_summary([_rocksalt(5.6, "Na"), _rocksalt(6.3, "K"), _perovskite(), None])
    assert summary == {"n": 3, "top_spacegroup": 225, "top_spacegroup_share": round(2 / 3, 4),
                       "n_spacegroups": 2, "n_templates": 2}  # fmt: skip
    assert "2 space groups, 2 Wyckoff templates" in format_diversity(summary)
    assert diversity_summary([])["n_spacegroups"] == 0
    assert format_diversity(diversity_summary([])) == "diversity: no accepted structure"
