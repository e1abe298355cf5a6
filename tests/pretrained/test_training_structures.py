"""A pretrained model's shipped training structures: packaging, registry record, loading, and
`xtalgen evaluate` of the model's output without --train/--test (novelty, distributions, stability)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.data.dataset import load_dataset
from xtalgen.data.generation_folder import Candidate, read_generation_meta, write_generation
from xtalgen.data.hashing import file_sha256
from xtalgen.data.structure_table import load_structure_table
from xtalgen.evaluation.reference_table import ENV_VAR as REFERENCE_ENV
from xtalgen.pipelines.pgcgm.train import ARRAYS_FILE
from xtalgen.pretrained import ENV_VAR, load_pretrained, package_checkpoint, pretrained_training_structures
from xtalgen.pretrained.model_files import add_training_structures
from xtalgen.pretrained.package import main as package_main
from xtalgen.pretrained.registry import TRAINING_STRUCTURES_FILE, pretrained_info
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays


def _training_ids(run: Path) -> set[str]:
    arrays = BaseSiteArrays.load_npz(run / ARRAYS_FILE)
    return {str(i) for i in np.asarray(arrays.material_ids)[np.unique(arrays.material_index)]}


@pytest.fixture(scope="module")
def registry(pgcgm_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reg = tmp_path_factory.mktemp("registry_ts")
    package_checkpoint(pgcgm_run, "pgcgm-test", registry=reg, data_desc="Perov-5 ternaries",
                       training_data=pgcgm_run.parent / "perov.parquet")  # fmt: skip
    return reg


def test_packaged_with_the_run_training_structures(registry: Path, pgcgm_run: Path) -> None:
    info = pretrained_info("pgcgm-test", registry)
    path = pretrained_training_structures("pgcgm-test", registry)
    assert path == registry / "models" / "pgcgm-test" / TRAINING_STRUCTURES_FILE
    assert info.files[TRAINING_STRUCTURES_FILE] == {"sha256": file_sha256(path), "size": path.stat().st_size}
    assert info.size_bytes == sum(f["size"] for f in info.files.values())
    record = info.data["training_structures"]
    table = load_structure_table(path)
    # exactly the materials the run trained on, as many as the model records
    assert set(table.ids) == _training_ids(pgcgm_run)
    assert len(table) == info.data["n_materials"] == record["n_structures"]
    assert record["source"] == "perov.parquet" and record["split"] == "train"
    assert record["source_sha256"] == file_sha256(pgcgm_run.parent / "perov.parquet")
    # the structures are the dataset's (float32 storage: 1e-5 Å)
    ds = load_dataset(pgcgm_run.parent / "perov.parquet")
    row = {i: k for k, i in enumerate(ds.ids)}
    for k in range(len(table)):
        mine, ref = table.structure(k), ds.structure(row[table.ids[k]])
        assert np.allclose(mine.lattice.matrix, ref.lattice.matrix, atol=1e-5)
        assert np.allclose(mine.frac_coords, ref.frac_coords, atol=1e-6)
        assert [s.specie.symbol for s in mine] == [s.specie.symbol for s in ref]
        assert table.formulas[k] == ref.composition.reduced_formula
    model = load_pretrained("pgcgm-test", registry)
    assert model.training_structures_path == path and model.training_structures().ids == table.ids


def test_add_to_an_existing_model_and_refusals(registry: Path, pgcgm_run: Path, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    shutil.copytree(registry, reg)
    folder = reg / "models" / "pgcgm-test"
    raw = json.loads((reg / "registry.json").read_text())
    entry = raw["models"][0]
    del entry["files"][TRAINING_STRUCTURES_FILE], entry["data"]["training_structures"]
    (reg / "registry.json").write_text(json.dumps(raw))
    (folder / TRAINING_STRUCTURES_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="ships without its training structures"):
        pretrained_training_structures("pgcgm-test", reg)
    # without the run's training arrays the split and filters select the rows: the same ones here
    data = pgcgm_run.parent / "perov.parquet"
    assert package_main(["--add-training-structures", "pgcgm-test", "--training-data", str(data),
                         "--registry", str(reg)]) == 0  # fmt: skip
    info = pretrained_info("pgcgm-test", reg)
    assert set(load_structure_table(pretrained_training_structures("pgcgm-test", reg)).ids) == _training_ids(pgcgm_run)
    assert info.size_bytes == pretrained_info("pgcgm-test", registry).size_bytes
    result = CliRunner().invoke(app, ["models", "--verify"], env={ENV_VAR: str(reg), "COLUMNS": "200"})
    assert result.exit_code == 0 and "ok" in result.output, result.output
    # a dataset that does not give the recorded number of training materials is refused
    ds = load_dataset(data)
    fewer = ds.subset(indices=np.flatnonzero(ds.frame["split"].to_numpy() == "train")[1:])
    from xtalgen.data.dataset import save_dataset

    save_dataset(fewer.table, tmp_path / "fewer.parquet", fewer.metadata)
    with pytest.raises(ValueError, match="was trained on .* materials"):
        add_training_structures("pgcgm-test", tmp_path / "fewer.parquet", registry=reg)
    # a damaged table is caught by the sha256 check
    path = folder / TRAINING_STRUCTURES_FILE
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    result = CliRunner().invoke(app, ["models", "--verify"], env={ENV_VAR: str(reg), "COLUMNS": "200"})
    assert result.exit_code == 1 and "training_structures.parquet does not match" in " ".join(result.output.split())


@pytest.fixture(scope="module")
def elements_rows(shared_datasets: Path) -> pd.DataFrame:
    """Two elemental MP structures: As (mp-10, 2 sites) and Si (mp-1001113, 4 sites)."""
    head = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=400)
    rows = head[head["material_id"].isin(["mp-10", "mp-1001113"])]
    assert len(rows) == 2
    return rows


def _fake_generation(folder: Path, rows: pd.DataFrame, train: Path, meta: dict) -> Path:
    """A generation folder as `xtalgen generate` writes it: As, Si, one training structure, one rejected."""
    table = load_structure_table(train)
    candidates = [Candidate(str(r.material_id), Structure.from_str(r.cif, fmt="cif")) for r in rows.itertuples()]
    candidates.append(Candidate("copy", table.structure(0)))
    candidates.append(Candidate("bad", None, accepted=False, reason="atoms too close"))
    write_generation(folder, candidates, meta=meta)
    return folder


def test_evaluate_pretrained_output_without_a_training_set(
    registry: Path, elements_rows: pd.DataFrame, tmp_path: Path
) -> None:
    train = pretrained_training_structures("pgcgm-test", registry)
    gen = _fake_generation(tmp_path / "gen", elements_rows, train, {"model": "pgcgm", "pretrained": "pgcgm-test"})
    assert read_generation_meta(gen)["n_accepted"] == 3
    runner, env = CliRunner(), {ENV_VAR: str(registry), "COLUMNS": "200"}
    args = ["evaluate", str(gen), "-o", str(tmp_path / "rep"), "--workers", "1", "--quiet",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    metrics, meta = report["metrics"], report["meta"]
    n_train = len(load_structure_table(train))
    assert meta["n_train"] == n_train and meta["n_test"] == 0 and meta["distribution_reference"] == "train"
    per_sample = pd.read_csv(tmp_path / "rep" / "per_sample.csv").set_index("id")
    # the copied training structure is found among the training structures, the elements are not...
    assert per_sample.loc["copy", "novel_train"] == 0 and per_sample.loc["mp-10", "novel_train"] == 1
    assert metrics["novelty.train"] == pytest.approx(2 / 3)
    # ... but all three are known Materials Project structures (the shipped known-structures table)
    assert metrics["novelty"] == 0 and per_sample.loc["mp-10", "matched_known_id"] == "mp-10"
    assert np.isfinite(metrics["wasserstein.density"]) and "coverage.recall" not in metrics
    assert meta["skipped"]["cov_precision"] == ["test"] and "distributions" not in meta["skipped"]
    assert any("shipped with pretrained model pgcgm-test" in n for n in meta["notes"])
    text = " ".join(result.output.split())
    assert f"match none of the {n_train:,} training structures of pgcgm-test" in text
    assert "coverage (COV-R/COV-P): needs a test set (--test)" in text
    assert f"Report: {tmp_path / 'rep' / 'report.html'}" in text
    assert "vs training distributions" in (tmp_path / "rep" / "report.html").read_text()
    # an explicit --train wins over the shipped structures
    result = runner.invoke(app, [*args[:3], str(tmp_path / "rep2"), *args[4:], "--train", str(train),
                                 "--train-limit", "2"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "rep2" / "metrics.json").read_text())["meta"]["n_train"] == 2


def test_evaluate_pretrained_output_with_stability(registry: Path, elements_rows: pd.DataFrame, tmp_path: Path) -> None:
    train = pretrained_training_structures("pgcgm-test", registry)
    gen = _fake_generation(tmp_path / "gen", elements_rows, train, {"model": "pgcgm", "pretrained": "pgcgm-test"})
    runner = CliRunner()
    env = {ENV_VAR: str(registry), REFERENCE_ENV: str(tmp_path / "no_tables"), "COLUMNS": "200"}
    args = ["evaluate", str(gen), "-o", str(tmp_path / "rep"), "--workers", "1", "--quiet", "--stability",
            "--stability-n", "2", "--steps", "2", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    # no shipped reference-energy table: a clear error before any work, not a crash
    result = runner.invoke(app, args, env=env)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "needs the reference-energy table chgnet-0.3.0-static.parquet" in text, text
    assert "ternaries only" in text and not (tmp_path / "rep").exists()
    result = runner.invoke(app, [*args, "--reference-energies", "train"], env=env)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "cannot compute hull references from the shipped training structures" in text
    # a shipped table (here: made from the two elements) is used without any training set
    tables = tmp_path / "tables"
    elements_rows.to_csv(tmp_path / "elements.csv", index=False)
    made = runner.invoke(app, ["data", "energies", str(tmp_path / "elements.csv"), "-o",
                               str(tables / "chgnet-0.3.0-static.parquet"), "--quiet"])  # fmt: skip
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, args, env={**env, REFERENCE_ENV: str(tables)})
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())["metrics"]
    per_sample = pd.read_csv(tmp_path / "rep" / "per_sample.csv").set_index("id")
    assert metrics["stability.subset"] == 2 and per_sample["stability_subset"].sum() == 2
    assert metrics["stability.references_from_table"] == 1 and metrics["stability.n_references"] == 2
    relaxed = per_sample[per_sample["stability_subset"]]
    # the training copy (a ternary) has no elemental references in the table: no E_hull, with the reason
    has_hull = np.isfinite(relaxed["e_hull"].to_numpy(float))
    assert metrics["stability.evaluated"] == has_hull.sum()
    for sid, row in relaxed.iterrows():
        assert np.isfinite(row["e_hull"]) == (sid != "copy"), (sid, row["e_hull_note"])
    outside = per_sample[~per_sample["stability_subset"] & per_sample["struct_valid"]]
    assert (outside["e_hull_note"] == "not relaxed: outside the stability subset").all() and len(outside) == 1
    text = " ".join(result.output.split())
    assert f"Stability (CHGNet): of 2 structures screened, {int(has_hull.sum())} got an E_hull" in text
    assert "a seeded random subset of 2 of the 3 valid structures" in text
