"""Fabric training loop: exact resume, checkpoints (safetensors + JSON), keep-last, logs, sampler."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from _tiny_task import TinyTask, tiny_data

from xtalgen.pipelines.training import (
    SeededSampler,
    TrainingConfig,
    find_checkpoint,
    fit,
    load_checkpoint,
    save_checkpoint,
)


def _cfg(out_dir, **kw) -> TrainingConfig:
    base = dict(
        seed=7,
        max_steps=7,
        batch_size=4,
        checkpoint_every=3,
        log_every=1,
        keep_last=2,
        out_dir=str(out_dir),
        accelerator="cpu",
        devices=1,
        progress=False,
        tensorboard=False,
    )
    base.update(kw)
    return TrainingConfig(**base)


def _weights(run_dir) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir).tensors


def _losses(run_dir) -> list[tuple[int, float]]:
    with open(run_dir / "logs" / "metrics.csv") as fh:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(fh)]


def test_interrupt_and_resume_is_bit_identical(tmp_path):
    data = tiny_data()
    full = tmp_path / "full"
    fit(TinyTask(), data, _cfg(full))

    cut = tmp_path / "cut"
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(TinyTask(crash_at=5), data, _cfg(cut))  # steps 3, 4 done after the step-3 checkpoint are lost
    assert load_checkpoint(cut).step == 3
    final = fit(TinyTask(), data, _cfg(cut), resume=True)
    assert final.name == "step_000000007"

    a, b = _weights(full), _weights(cut)
    assert a.keys() == b.keys()
    assert any(k.startswith("optimizer.opt.state.") for k in a)  # Adam moments are checkpointed
    assert any(k.endswith("running_mean") for k in a)  # batch-norm buffers too
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert _losses(full) == _losses(cut)  # log rows after the checkpoint were replaced, not duplicated
    # a different seed gives different weights (the comparison above can fail)
    other = tmp_path / "other"
    fit(TinyTask(), data, _cfg(other, seed=8))
    assert not torch.equal(_weights(other)["module.model.0.weight"], a["module.model.0.weight"])


def test_checkpoint_layout_keep_last_and_state(tmp_path):
    run = tmp_path / "run"
    fit(TinyTask(), tiny_data(), _cfg(run, max_steps=9, checkpoint_every=2, keep_last=2))
    ckdir = run / "checkpoints"
    assert sorted(p.name for p in ckdir.glob("step_*")) == ["step_000000008", "step_000000009"]
    assert (ckdir / "latest").read_text().strip() == "step_000000009"
    state = json.loads((ckdir / "step_000000009" / "state.json").read_text())
    assert state["step"] == 9 and state["config"]["max_steps"] == 9
    assert state["sampler"] == {"position": 9, "seed": 7, "n": 40, "batch_size": 4, "world_size": 1}
    assert set(state["rng"]) >= {"python", "numpy", "torch"}
    assert state["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    assert (run / "config.yaml").is_file()
    # resuming a finished run does nothing and returns the final checkpoint
    again = fit(TinyTask(), tiny_data(), _cfg(run, max_steps=9, checkpoint_every=2), resume=True)
    assert again.name == "step_000000009"
    # starting a fresh run over an existing one is refused
    with pytest.raises(ValueError, match="already holds checkpoints"):
        fit(TinyTask(), tiny_data(), _cfg(run, max_steps=9, checkpoint_every=2))
    # resuming on different data is refused
    with pytest.raises(ValueError, match="n=40, now n=30"):
        fit(TinyTask(), tiny_data(30), _cfg(run, max_steps=12), resume=True)


def test_checkpoint_roundtrip_restores_modules_optimizers_rng(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.0, 0.9))
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    torch.manual_seed(123)
    folder = save_checkpoint(tmp_path, 1, {"m": model}, {"o": opt}, config={"a": 1})
    expected = torch.rand(3)
    model2 = torch.nn.Linear(3, 2)
    opt2 = torch.optim.Adam(model2.parameters(), lr=5.0)
    load_checkpoint(folder).restore({"m": model2}, {"o": opt2}, rng=True)
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(model2.weight, model.weight)
    assert opt2.param_groups[0]["lr"] == 1e-3 and opt2.param_groups[0]["betas"] == (0.0, 0.9)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[i][k], s2[i][k]) for i in s1 for k in s1[i])
    assert find_checkpoint(tmp_path) == folder
    with pytest.raises(KeyError, match="no module 'x'"):
        load_checkpoint(folder).module_state("x")


def test_sampler_is_a_permutation_per_epoch_and_shards_ranks():
    s = SeededSampler(10, 5, seed=1)
    epoch0 = np.concatenate([s.indices(0), s.indices(1)])
    assert sorted(epoch0.tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate([s.indices(2), s.indices(3)]), epoch0)  # reshuffled
    r0, r1 = SeededSampler(10, 3, 1, 0, 2), SeededSampler(10, 3, 1, 1, 2)
    single = SeededSampler(10, 6, 1)
    for step in range(4):  # ranks split the same global batch a single process with batch 6 would see
        assert np.array_equal(np.concatenate([r0.indices(step), r1.indices(step)]), single.indices(step))
