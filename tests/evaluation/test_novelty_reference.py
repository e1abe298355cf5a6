"""Novelty against the known structures: re-scoring a seeded PGCGM run gives the same novelty with and
without --train when the known-structures table covers the training set, and the report names it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.data.structure_table import load_structure_table
from xtalgen.evaluation.known_structures import ENV_VAR, build_known_structures, load_known_structures
from xtalgen.evaluation.sources import load_generated
from xtalgen.pretrained import pretrained_training_structures


@pytest.fixture(scope="module")
def seeded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pgcgm") / "gen"
    result = CliRunner().invoke(app, ["generate", "--model", "pgcgm", "-n", "10", "--seed", "0", "-o", str(out),
                                      "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _without_pretrained_record(run: Path, folder: Path) -> Path:
    """A copy of the run whose generation record names no pretrained model (so the CLI does not use the
    model's shipped training structures when no --train is given)."""
    import shutil

    copy = folder / "run"
    shutil.copytree(run, copy)
    record = json.loads((copy / "generation.json").read_text())
    record.pop("pretrained")
    (copy / "generation.json").write_text(json.dumps(record))
    return copy


def _training_csv(run: Path, folder: Path) -> tuple[Path, Path]:
    """A training set: 200 of the shipped model's training structures plus copies of 3 generated samples
    (so some samples are not novel), and the same set without the copies."""
    table = load_structure_table(pretrained_training_structures("pgcgm-mp-ternary"))
    rows = [{"material_id": table.ids[j], "cif": table.structure(j).to(fmt="cif")} for j in range(200)]
    gen = load_generated(run)
    copies = [{"material_id": f"copy-{i}", "cif": s.to(fmt="cif")} for i, s in zip(gen.ids[:3], gen.structures[:3],
                                                                                    strict=True)]  # fmt: skip
    full, part = folder / "train.csv", folder / "train_part.csv"
    pd.DataFrame(rows + copies).to_csv(full, index=False)
    pd.DataFrame(rows).to_csv(part, index=False)
    return full, part


def _evaluate(run: Path, out: Path, known: Path, *extra: str) -> tuple[dict, pd.DataFrame]:
    args = ["evaluate", str(run), "-o", str(out), "--workers", "1", "--quiet", "--cache-dir", str(out.parent / "cache"),
            "--skip", "diversity", "--known", str(known), *extra]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    assert report["meta"]["novelty_reference"] in " ".join(result.output.split())
    return report, pd.read_csv(out / "per_sample.csv").set_index("id")


def test_same_novelty_with_or_without_train_when_the_table_covers_it(seeded_run: Path, tmp_path: Path) -> None:
    seeded_run = _without_pretrained_record(seeded_run, tmp_path)
    full, part = _training_csv(seeded_run, tmp_path)
    covering = build_known_structures(full, tmp_path / "known.parquet")
    partial = build_known_structures(part, tmp_path / "known_part.parquet")
    assert load_known_structures(covering).covers(pd.read_csv(full)["material_id"])
    with_train, per_with = _evaluate(seeded_run, tmp_path / "a", covering, "--train", str(full))
    without, per_without = _evaluate(seeded_run, tmp_path / "b", covering)
    assert 0 < with_train["metrics"]["novelty"] < 1
    assert with_train["metrics"]["novelty"] == without["metrics"]["novelty"]
    np.testing.assert_array_equal(per_with["novel"].to_numpy(), per_without["novel"].to_numpy())
    assert (per_with.loc[per_with["novel"] == 0, "matched_known_id"].str.startswith("copy-")).all()
    # the training set is also scored on its own by structure matching
    assert with_train["metrics"]["novelty.train"] == pytest.approx(with_train["metrics"]["novelty"])
    # a table that misses part of the training set: --train adds the missing structures to the reference
    part_only, _ = _evaluate(seeded_run, tmp_path / "c", partial)
    part_train, _ = _evaluate(seeded_run, tmp_path / "d", partial, "--train", str(full))
    assert part_only["metrics"]["novelty"] == 1.0
    assert part_train["metrics"]["novelty"] == with_train["metrics"]["novelty"]
    assert "+ the 203 training structures" in part_train["meta"]["novelty_reference"]


def test_the_shipped_table_is_the_default_reference(seeded_run: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    known = load_known_structures()
    assert len(known) > 120_000 and known.meta["source"] == "mp_structures.csv.gz"
    assert known.covers(load_structure_table(pretrained_training_structures("pgcgm-mp-ternary")).ids)
    args = ["evaluate", str(seeded_run), "-o", str(tmp_path / "r"), "--workers", "1", "--quiet",
            "--cache-dir", str(tmp_path / "cache"), "--skip", "diversity,distributions"]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "r" / "metrics.json").read_text())["meta"]
    assert meta["novelty_reference"] == known.name and meta["novelty_reference_size"] == len(known)
    assert f"Novelty reference: {known.name}" in (tmp_path / "r" / "report.html").read_text()
