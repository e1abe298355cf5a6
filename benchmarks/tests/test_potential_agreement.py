"""benchmarks/potential_agreement.py on two tiny MP structures, CPU, one FIRE step, references from the same CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import potential_agreement as B
import pytest


def test_confusion_table_counts():
    import numpy as np

    a, b = np.array([0.0, 0.05, 0.2, 0.3]), np.array([0.05, 0.5, 0.0, 0.4])
    rows = B._confusion(a, b, 0.1, ["chgnet", "sevennet"])
    assert "| 1 (both) | 1 (only chgnet) |" in rows[2] and "| 1 (only sevennet) | 1 (neither) |" in rows[3]


def test_runs_on_cpu_with_both_potentials(shared_datasets: Path, tmp_path: Path) -> None:
    pytest.importorskip("sevenn", reason="SevenNet extra not installed")
    head = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=400)
    rows = head[head["material_id"].isin(["mp-10", "mp-1001113"])]
    csv = tmp_path / "two.csv"
    rows.to_csv(csv, index=False)
    B.main([str(csv), "--out", str(tmp_path / "out"), "--steps", "1", "--references", str(csv),
            "--cache", str(tmp_path / "cache"), "--recompute-references", "--device", "cpu"])  # fmt: skip
    table = pd.read_csv(tmp_path / "out" / "agreement.csv")
    assert len(table) == 2
    for pot in ("chgnet", "sevennet"):
        # each structure is its own (only) elemental reference: E_hull ≤ 0 after one relaxation step
        assert (table[f"e_hull_{pot}"] <= 1e-6).all() and (table[f"relax_s_{pot}"] > 0).all()
        assert (table[f"steps_{pot}"] <= 2).all()  # CHGNet's record counts its trajectory: up to steps + 1
    text = (tmp_path / "out" / "agreement.md").read_text()
    assert "Metastable (E_hull ≤ 0.1 eV/atom)" in text and "| 2 (both) |" in text
    assert "2 computed now" in text
