"""Symmetry analysis gives the right space groups and Wyckoff data for known materials."""

from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.data.symmetry import analyse_symmetry, wyckoff_multiplicities


def test_rocksalt_conventional_and_primitive_agree() -> None:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    conv = analyse_symmetry(s)
    prim = analyse_symmetry(s.get_primitive_structure())
    assert conv.spacegroup == prim.spacegroup == 225
    assert conv.symbol == "Fm-3m"
    assert sorted(set(conv.wyckoffs)) == sorted(set(prim.wyckoffs)) == ["a", "b"]
    assert conv.multiplicities == (4,) * 8
    assert conv.n_base_sites == prim.n_base_sites == 2
    assert conv.orbit_sizes == (4,) * 8 and prim.orbit_sizes == (1, 1)


def test_wyckoff_table() -> None:
    table = wyckoff_multiplicities(227)
    assert table["a"] == 8 and table["i"] == 192
    assert wyckoff_multiplicities(1) == {"a": 1}
    with pytest.raises(ValueError, match="1..230"):
        wyckoff_multiplicities(231)


def test_known_mp_materials(mp_frame) -> None:
    expected = {
        "mp-149": (227, {"Si": {("a", 8)}}),
        "mp-22862": (225, {"Na": {("a", 4), ("b", 4)}, "Cl": {("a", 4), ("b", 4)}}),
        "mp-2534": (
            216,
            {"Ga": {("a", 4), ("b", 4), ("c", 4), ("d", 4)}, "As": {("a", 4), ("b", 4), ("c", 4), ("d", 4)}},
        ),
        "mp-5229": (221, {"O": {("c", 3), ("d", 3)}}),
    }
    rows = mp_frame[mp_frame["material_id"].isin(expected)]
    assert len(rows) == len(expected)
    for _, row in rows.iterrows():
        s = Structure.from_str(row["cif"], fmt="cif")
        info = analyse_symmetry(s, symprec=0.1)
        sg, sites = expected[row["material_id"]]
        assert info.spacegroup == sg == row["spacegroup.number"]
        for element, allowed in sites.items():
            got = {
                (w, m)
                for site, w, m in zip(s, info.wyckoffs, info.multiplicities, strict=True)
                if site.specie.symbol == element
            }
            assert len(got) == 1 and got <= allowed, (row["material_id"], element, got)
