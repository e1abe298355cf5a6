"""PGCGM training on a small real slice: outputs, ablation switches, exact resume after interruption."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xtalgen.configs import bundled_config
from xtalgen.data.dataset import load_dataset
from xtalgen.pipelines.pgcgm.task import PGCGMDataConfig, PGCGMTask
from xtalgen.pipelines.pgcgm.train import (
    ARRAYS_FILE,
    CONDITIONS_FILE,
    load_training_arrays,
    train_pgcgm,
)
from xtalgen.pipelines.training import ConfigError
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays

TINY = bundled_config("pgcgm_tiny")


@pytest.fixture(scope="module")
def dataset(pgcgm_ternary_data) -> Path:
    """The session's prepared MP ternaries (tests/pipelines/conftest.py)."""
    return pgcgm_ternary_data


@pytest.fixture(scope="module")
def tiny_run(dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pgcgm_tiny")
    final = train_pgcgm(dataset, TINY, out)
    assert final == out / "checkpoints" / "step_000000020"
    return out


def _metrics(run: Path) -> list[dict[str, str]]:
    with open(run / "logs" / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_tiny_training_writes_checkpoints_logs_and_condition_table(dataset, tiny_run) -> None:
    rows = _metrics(tiny_run)
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    for key in ("critic_loss", "w_dist", "gp", "g_adv", "inter", "intra", "volume", "abc", "physics"):
        assert math.isfinite(float(rows[-1][key])), key
    assert float(rows[-1]["gp"]) >= 0 and 0 <= float(rows[-1]["inter"]) <= 1
    # the samples are the self-augmented train-split ternaries with 3 base sites (4 per material)
    arrays = BaseSiteArrays.load_npz(tiny_run / ARRAYS_FILE)
    frame = load_dataset(dataset).frame
    train = frame[frame["split"] == "train"]
    assert set(arrays.material_ids) == set(train["id"])
    assert len(arrays) == 4 * len(train)
    assert arrays.site_mask.all()
    with open(tiny_run / CONDITIONS_FILE, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert sum(int(r["count"]) for r in table) == len(train)
    pairs = {(int(r["spacegroup"]), frozenset(r["elements"].split())) for r in table}
    expected = {(int(sg), frozenset(els)) for sg, els in zip(train["spacegroup"], train["elements"], strict=True)}
    assert pairs == expected
    # weights moved between the two checkpoints
    w10 = load_file(str(tiny_run / "checkpoints" / "step_000000010" / "weights.safetensors"))
    w20 = load_file(str(tiny_run / "checkpoints" / "step_000000020" / "weights.safetensors"))
    gen_keys = [k for k in w20 if k.startswith("module.generator.")]
    assert gen_keys and any(not torch.equal(w10[k], w20[k]) for k in gen_keys)


def test_physics_terms_can_be_switched_off(tiny_run, tmp_path) -> None:
    overrides = ["max_steps=4", "checkpoint_every=4", "log_every=2", "physics.inter=false",
                 "physics.intra=false", "physics.box=false"]  # fmt: skip
    train_pgcgm(tiny_run / ARRAYS_FILE, TINY, tmp_path, overrides=overrides)
    last = _metrics(tmp_path)[-1]
    assert float(last["physics"]) == 0.0
    assert all(math.isnan(float(last[k])) for k in ("inter", "intra", "volume", "abc"))
    assert float(last["g_total"]) == pytest.approx(float(last["g_adv"]))


def _all_tensors(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step_{step:09d}" / "weights.safetensors"))


def test_interrupted_then_resumed_run_is_bit_identical(tiny_run, tmp_path, monkeypatch) -> None:
    arrays = tiny_run / ARRAYS_FILE
    overrides = ["max_steps=12", "checkpoint_every=4", "n_critic=2"]
    straight = train_pgcgm(arrays, TINY, tmp_path / "straight", overrides=overrides)
    assert straight.name == "step_000000012"

    original = PGCGMTask.training_step

    def crash_at_9(self, batch, step):
        if step == 9:
            raise KeyboardInterrupt("simulated interruption")
        return original(self, batch, step)

    monkeypatch.setattr(PGCGMTask, "training_step", crash_at_9)
    with pytest.raises(KeyboardInterrupt):
        train_pgcgm(arrays, TINY, tmp_path / "resumed", overrides=overrides)
    assert (tmp_path / "resumed" / "checkpoints" / "latest").read_text().strip() == "step_000000008"
    monkeypatch.setattr(PGCGMTask, "training_step", original)
    # resume reads the cached samples of the run folder; the data argument is not re-encoded
    resumed = train_pgcgm("does-not-matter.parquet", TINY, tmp_path / "resumed", resume=True, overrides=overrides)
    assert resumed.name == "step_000000012"

    a, b = _all_tensors(tmp_path / "straight", 12), _all_tensors(tmp_path / "resumed", 12)
    assert a.keys() == b.keys()
    assert any(k.startswith("optimizer.") for k in a)  # Adam moments are compared too
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the resumed log continues the interrupted one without duplicated steps
    assert [int(r["step"]) for r in _metrics(tmp_path / "resumed")] == [int(r["step"]) for r in
                                                                         _metrics(tmp_path / "straight")]


def test_config_errors_name_the_entry(tiny_run, tmp_path) -> None:
    with pytest.raises(ConfigError, match="n_critic"):
        train_pgcgm(tiny_run / ARRAYS_FILE, TINY, tmp_path, overrides=["n_critic=0"])
    with pytest.raises(ConfigError, match="physics.unknown_term"):
        train_pgcgm(tiny_run / ARRAYS_FILE, TINY, tmp_path, overrides=["physics.unknown_term=1"])


def test_arrays_with_other_shape_are_rejected(tiny_run) -> None:
    arrays = BaseSiteArrays.load_npz(tiny_run / ARRAYS_FILE)
    with pytest.raises(ValueError, match="K=3"):
        load_training_arrays(arrays, PGCGMDataConfig(), max_base_sites=4)
    with pytest.raises(ValueError, match="not found"):
        load_training_arrays(Path("missing.parquet"), PGCGMDataConfig())
    assert np.all(arrays.coords < 1)
