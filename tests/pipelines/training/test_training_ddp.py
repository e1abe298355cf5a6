"""Two-process CPU DDP (Fabric, gloo): replicas stay identical and match one process on the global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from _tiny_task import TinyTask, tiny_data

from xtalgen.pipelines.training import TrainingConfig, fit, load_checkpoint

SCRIPT = Path(__file__).resolve().parent / "_ddp_script.py"


def _run(out: Path, devices: int, strategy: str, batch: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("MASTER_PORT", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), str(devices), strategy, str(batch)],
        capture_output=True,
        text=True,
        timeout=150,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_process_ddp_replicas_identical(tmp_path):
    _run(tmp_path / "ddp", 2, "ddp", 4)
    r0 = torch.load(tmp_path / "ddp" / "rank0.pt")
    r1 = torch.load(tmp_path / "ddp" / "rank1.pt")
    assert r0["world_size"] == r1["world_size"] == 2
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k]), k
    # DDP averages gradients of the two 4-sample shards = one process on the same 8-sample global batch
    task = TinyTask(stochastic=False)
    cfg = TrainingConfig(
        seed=3,
        max_steps=6,
        batch_size=8,
        checkpoint_every=3,
        log_every=2,
        out_dir=str(tmp_path / "single"),
        accelerator="cpu",
        devices=1,
        progress=False,
        tensorboard=False,
    )
    fit(task, tiny_data(), cfg)
    for k, v in task.model.state_dict().items():
        torch.testing.assert_close(r0["state"][k], v, rtol=1e-5, atol=1e-6)
    # training moved the weights between the step-3 and step-6 checkpoints (guards a no-op loop)
    w3 = load_checkpoint(tmp_path / "ddp" / "checkpoints" / "step_000000003").module_state("model")
    assert not torch.equal(w3["0.weight"], r0["state"]["0.weight"])
