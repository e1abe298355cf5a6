"""The README's main-job command works as written (minus the pip installs), end to end."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TABLE_TAG = "chgnet-0.3.0-static"


def _readme_commands() -> tuple[str, str]:
    blocks = re.findall(r"```bash\n(.*?)\n```", (REPO / "README.md").read_text(), flags=re.S)
    return blocks[0].strip(), blocks[1].strip()


def test_test_command_matches_ci() -> None:
    _, tests = _readme_commands()
    ci = (REPO / ".ci" / "run").read_text()
    pytest_part = tests.split("&&")[-1].strip()
    assert pytest_part.startswith("python -m pytest")
    assert pytest_part in ci
    assert "torch==2.13.0" in tests and "torch==2.13.0" in ci


def _substitute_table(generated: Path, folder: Path, shared: Path) -> Path:
    """Only while the real reference-energy table is not in the package yet: a table with the same tag,
    made the same way (``xtalgen data energies``) from the MP structures (≤ 20 sites) in the generated
    candidates' chemical sub-systems, at most two per sub-system (enough for hulls; not the real numbers)."""
    from pymatgen.core import Composition

    from xtalgen.evaluation.stability import subsystems

    summary = pd.read_csv(generated / "summary.csv")
    systems = {
        frozenset(el.symbol for el in Composition(f).elements) for f in summary.loc[summary["accepted"], "formula"]
    }
    wanted = {sub for system in systems for sub in subsystems(system) if len(sub) < 3}
    mp = pd.read_csv(shared / "mp" / "mp_structures.csv.gz")
    mp = mp[mp["nsites"] <= 20]
    chemsys = mp["elements"].map(lambda text: frozenset(re.findall(r"[A-Z][a-z]?", text)))
    rows = mp[chemsys.isin(wanted)].groupby(chemsys[chemsys.isin(wanted)]).head(2)
    rows.to_csv(folder / "refs.csv", index=False)
    table = folder / "tables" / f"{TABLE_TAG}.parquet"
    cmd = [sys.executable, "-m", "xtalgen.cli", "data", "energies", str(folder / "refs.csv"), "-o", str(table),
           "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return table.parent


def test_main_job_runs(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Generate with the default pretrained model and evaluate with stability, offline and without any dataset."""
    from xtalgen.evaluation.reference_table import shipped_reference_path
    from xtalgen.pretrained import default_pretrained, pretrained_info

    main_job, _ = _readme_commands()
    steps = [s.strip() for s in main_job.split("&&") if not s.strip().startswith("pip ")]
    assert [s.split()[1] for s in steps] == ["generate", "evaluate"]
    env = {**os.environ, "XTALGEN_CACHE_DIR": str(tmp_path / "cache")}  # a fresh cache, as on a new machine
    for var in ("XTALGEN_PRETRAINED_DIR", "XTALGEN_REFERENCE_DIR"):
        env.pop(var, None)
    out = tmp_path / "out"
    outputs = []
    for step in steps:
        argv = [a.replace("out/", f"{out}/") for a in shlex.split(step)]
        if argv[1] == "evaluate" and shipped_reference_path(TABLE_TAG) is None:
            env["XTALGEN_REFERENCE_DIR"] = str(
                _substitute_table(out / "generated", tmp_path, request.getfixturevalue("shared_datasets"))
            )
        cmd = [sys.executable, "-m", "xtalgen.cli", *argv[1:]]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900, env=env)
        assert proc.returncode == 0, (step, proc.stdout[-3000:], proc.stderr[-3000:])
        outputs.append(" ".join(proc.stdout.split()))
    n = int(re.search(r"generate -n (\d+)", main_job).group(1))
    m = int(re.search(r"--stability-n (\d+)", main_job).group(1))
    model = default_pretrained("pgcgm")
    n_train = pretrained_info(model).data["training_structures"]["n_structures"]
    # generation: CIFs, summary.csv and which model made them
    summary = pd.read_csv(out / "generated" / "summary.csv")
    assert len(summary) == n and summary["accepted"].sum() > m
    assert len(list((out / "generated" / "cifs").glob("*.cif"))) == summary["accepted"].sum()
    assert json.loads((out / "generated" / "generation.json").read_text())["pretrained"] == model
    # evaluation: novelty against the shipped training structures, stability on the subset from the table
    report = json.loads((out / "report" / "metrics.json").read_text())
    metrics, meta = report["metrics"], report["meta"]
    assert meta["n_train"] == n_train and meta["distribution_reference"] == "train"
    assert 0 < metrics["novelty"] <= 1 and 0 < metrics["uniqueness"] <= 1
    assert metrics["stability.subset"] == m and metrics["stability.references_from_table"] == 1
    assert metrics["stability.evaluated"] >= m // 2
    per_sample = pd.read_csv(out / "report" / "per_sample.csv")
    assert per_sample["stability_subset"].sum() == m and per_sample["e_hull"].notna().sum() >= m // 2
    assert len(list((out / "report" / "relaxed").glob("*.cif"))) >= m // 2
    assert (out / "report" / "report.html").stat().st_size > 10_000
    # what it printed: where the files are and what they show
    printed = outputs[-1]
    assert f"{n} candidates generated by {model}" in printed
    assert f"match none of the {n_train:,} training structures of {model}" in printed
    assert f"Stability (CHGNet): of {m} structures screened" in printed and "S.U.N." in printed
    assert f"Report: {out / 'report' / 'report.html'}" in printed
    assert "coverage (COV-R/COV-P): needs a test set (--test)" in printed
