"""benchmarks/pgcgm_push_apart.py: the interval and the report's tables (no generation)."""

from __future__ import annotations

import argparse

import pgcgm_push_apart as B


def test_share_cell_uses_the_wilson_interval() -> None:
    assert B._pct(10, 40) == "10/40 = 25 % [14, 40]"
    assert B._pct(0, 10).startswith("0/10 = 0 % [0, ")
    assert B._pct(0, 0) == "–"


def test_report_counts_systems_reaching_20_accepted() -> None:
    too_close = [["atoms too close", 300]]
    rows = [{"system": "Na-Cl", "mode": "off", "accepted": 20, "candidates": 400, "rejections": too_close},
            {"system": "Na-Cl", "mode": "on", "accepted": 20, "candidates": 100, "rejections": []},
            {"system": "Sr-Ti-O", "mode": "off", "accepted": 15, "candidates": 1000, "rejections": []},
            {"system": "Sr-Ti-O", "mode": "on", "accepted": 20, "candidates": 200, "rejections": []}]  # fmt: skip
    q = {"n": 40, "relaxed": 40, "metastable": 10, "median_e_hull": 0.2, "sg_kept": 30}
    qual = {"accepted": 40, "repaired_share": 0.5, "median_move": 0.2, "repaired": q, "unrepaired": q}
    args = argparse.Namespace(argv=["--work", "w"], pretrained="m", workers=1, seed=0, relax_n=40, relax_steps=200)
    text = B.markdown(rows, qual, None, args)
    assert "| Na-Cl | 20 / 400 | 20 / 100 | 300 | 0 |" in text
    assert "off: 1 of 34 systems reach 20 accepted" in text and "on: 2 of 34 systems" in text
    assert "| repaired | 40 | 10/40 = 25 % [14, 40] | 0.200 | 30/40 = 75 % [60, 86] |" in text
