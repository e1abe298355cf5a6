"""package_checkpoint on tiny trained runs: generator-only files, registry entry, identical generation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Composition
from safetensors.torch import load_file

from xtalgen.pipelines.crystens.load import load_crystens_model
from xtalgen.pipelines.crystens.sample import generate_crystens
from xtalgen.pipelines.pgcgm.sample import generate_pgcgm, load_pgcgm_generator, sample_base_sites
from xtalgen.pipelines.pgcgm.train import ARRAYS_FILE
from xtalgen.pipelines.training import load_checkpoint
from xtalgen.pretrained import (
    PretrainedModel,
    default_pretrained,
    list_pretrained,
    load_pretrained,
    package_checkpoint,
    pretrained_checkpoint,
)
from xtalgen.pretrained.package import main as package_main
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pgcgm_package_load_and_generate_like_the_run(pgcgm_run: Path, tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    info = package_checkpoint(pgcgm_run, "pgcgm-test", "pgcgm", "0.1", "Perov-5 ternaries (test)",
                              registry=reg, config_name="pgcgm_tiny", metrics={"accepted": 0.25})  # fmt: skip
    folder = reg / "models" / "pgcgm-test"
    assert sorted(info.files) == ["conditions.csv", "config.yaml", "state.json", "weights.safetensors"]
    for name, meta in info.files.items():
        assert meta == {"sha256": _sha(folder / name), "size": (folder / name).stat().st_size}
    assert info.sha256 == _sha(folder / "weights.safetensors") and info.size_bytes < 1_000_000
    assert info.steps == 4 and info.kind == "pgcgm" and info.config == "pgcgm_tiny"
    assert info.training_time_s is not None and info.training_time_s > 0
    n_materials = len(np.unique(BaseSiteArrays.load_npz(pgcgm_run / ARRAYS_FILE).material_index))
    assert info.data["n_materials"] == n_materials > 5
    assert info.data["split"] == "train" and info.data["filters"]["nelements"] == [3]
    assert info.data["description"] == "Perov-5 ternaries (test)"
    # registry.json round trip and default
    raw = json.loads((reg / "registry.json").read_text())
    assert raw["defaults"] == {"pgcgm": "pgcgm-test"} and raw["models"][0]["metrics"] == {"accepted": 0.25}
    assert [m.name for m in list_pretrained(reg)] == ["pgcgm-test"] and default_pretrained("pgcgm", reg) == "pgcgm-test"
    # generator only, bit-identical to the run's; optimiser and critic state stripped
    run_ckpt = load_checkpoint(pgcgm_run)
    packed = load_file(str(folder / "weights.safetensors"))
    assert packed and all(k.startswith("module.generator.") for k in packed)
    for key, value in packed.items():
        assert torch.equal(value, run_ckpt.tensors[key])
    assert len(packed) == len(run_ckpt.module_state("generator"))
    assert (folder / "weights.safetensors").stat().st_size < (run_ckpt.path / "weights.safetensors").stat().st_size / 3
    state = json.loads((folder / "state.json").read_text())
    assert state["modules"] == ["generator"] and state["optimizers"] == {} and "rng" not in state

    model = load_pretrained("pgcgm-test", reg)
    assert isinstance(model, PretrainedModel) and model.kind == "pgcgm" and not model.module.training
    assert model.checkpoint == pretrained_checkpoint("pgcgm-test", reg) == folder
    run_generator = load_pgcgm_generator(pgcgm_run)[0]
    conditions = [(221, ("Sr", "Ti", "O")), (62, ("Ca", "Ti", "O"))] * 2
    for a, b in zip(sample_base_sites(model.module, conditions, seed=1),
                    sample_base_sites(run_generator, conditions, seed=1), strict=True):  # fmt: skip
        assert a.shape[0] == 4 and np.array_equal(a, b)
    # same seed: the packaged model generates exactly what the training run does (drawn conditions too)
    kw = {"seed": 5, "workers": 1, "progress": False, "count": "candidates"}
    mine = pd.read_csv(model.generate(6, tmp_path / "packed", **kw))
    ref = pd.read_csv(generate_pgcgm(6, tmp_path / "run_gen", checkpoint=pgcgm_run, **kw))
    pd.testing.assert_frame_equal(mine, ref)
    assert len(mine) == 6 and set(mine["cond_elements"]) <= _condition_elements(folder)


def _condition_elements(folder: Path) -> set[str]:
    return set(pd.read_csv(folder / "conditions.csv")["elements"])


def test_diffusion_package_keeps_only_the_ema(diffusion_run: Path, tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    info = package_checkpoint(diffusion_run, "diff-test", None, "0.1", {"description": "8 Perov-5"}, registry=reg)
    assert info.kind == "crystens-diffusion" and info.steps == 2 and info.data["n_materials"] == 8
    assert info.data["file"].endswith("perov.npy") and info.config == "config.yaml (custom)"
    folder = reg / "models" / "diff-test"
    packed = load_file(str(folder / "weights.safetensors"))
    assert all(k.startswith("module.ema.") for k in packed)
    # the run's (space group, formula) table for conditions=drawn ships with the weights
    shipped = pd.read_csv(folder / "conditions.csv")
    assert shipped.equals(pd.read_csv(diffusion_run / "conditions.csv"))
    assert shipped["count"].sum() == 8 and shipped["spacegroup"].between(1, 230).all()
    assert all(Composition(f).num_atoms == 5 for f in shipped["formula"])  # Perov-5: ABX3
    model = load_pretrained("diff-test", reg)
    _, run_module, _, _ = load_crystens_model(diffusion_run)  # the run's EMA weights
    for (k, a), (_, b) in zip(model.module.state_dict().items(), run_module.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="only the EMA weights"):
        load_crystens_model(folder, use_ema=False)
    kw = {"seed": 2, "sampling_steps": 2, "workers": 1, "progress": False, "save_tensors": True,
          "spacegroup": 221, "formula": "SrTiO3"}  # fmt: skip
    model.generate(2, tmp_path / "packed", **kw)
    generate_crystens(2, tmp_path / "run_gen", checkpoint=diffusion_run, **kw)
    a, b = np.load(tmp_path / "packed" / "tensors.npy"), np.load(tmp_path / "run_gen" / "tensors.npy")
    assert a.shape == (2, 4, 32, 32) and np.array_equal(a, b)


def test_refusals_leave_the_registry_unchanged(pgcgm_run: Path, diffusion_run: Path, tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    package_checkpoint(pgcgm_run, "pgcgm-a", registry=reg)
    before = (reg / "registry.json").read_text()
    with pytest.raises(ValueError, match=r"MB without optimiser state; shipped models must be <= 0.001 MB"):
        package_checkpoint(pgcgm_run, "pgcgm-big", registry=reg, max_mb=0.001)
    with pytest.raises(ValueError, match="exists"):
        package_checkpoint(pgcgm_run, "pgcgm-a", registry=reg)
    with pytest.raises(ValueError, match="holds a crystens-diffusion model, not pgcgm"):
        package_checkpoint(diffusion_run, "x", "pgcgm", registry=reg)
    with pytest.raises(ValueError, match="lower-case"):
        package_checkpoint(pgcgm_run, "Bad Name", registry=reg)
    assert (reg / "registry.json").read_text() == before
    assert sorted(p.name for p in (reg / "models").iterdir()) == ["pgcgm-a"]  # no half-written folders
    # overwrite replaces; a second model of the kind is not made the default unless asked
    package_checkpoint(pgcgm_run, "pgcgm-a", "pgcgm", "2.0", registry=reg, overwrite=True)
    package_checkpoint(pgcgm_run, "pgcgm-b", registry=reg)
    assert [(m.name, m.version) for m in list_pretrained(reg)] == [("pgcgm-a", "2.0"), ("pgcgm-b", "1.0")]
    assert default_pretrained("pgcgm", reg) == "pgcgm-a"
    package_checkpoint(pgcgm_run, "pgcgm-b", registry=reg, overwrite=True, make_default=True)
    assert default_pretrained("pgcgm", reg) == "pgcgm-b"


def test_module_command(pgcgm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "registry"
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"sun_rate": 0.01}))
    argv = [str(pgcgm_run), "--name", "cmd-test", "--kind", "pgcgm", "--version", "3", "--registry", str(reg),
            "--data-desc", "perov", "--data-file", "perov.parquet", "--metrics", str(metrics), "--training-time", "12"]
    assert package_main(argv) == 0
    assert "packaged cmd-test (pgcgm, step 4" in capsys.readouterr().out
    (info,) = list_pretrained(reg)
    assert (info.version, info.metrics, info.training_time_s, info.data["file"]) == (
        "3", {"sun_rate": 0.01}, 12.0, "perov.parquet")  # fmt: skip
    assert package_main([str(pgcgm_run), "--name", "cmd-test", "--registry", str(reg)]) == 1
    assert "exists" in capsys.readouterr().out
