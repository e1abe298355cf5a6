"""Two-process CPU DDP (Fabric, gloo): replicas stay identical and match one process on the global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from _tiny_task import TinyTask, tiny_data

from xtalgen.pipelines.training import TrainingConfig, fit, load_checkpoint

SCRIPT = Path(__file__).resolve().parent / "_ddp_script.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_ddp(out: Path, world: int = 2, batch: int = 4) -> None:
    """Start the ranks together, as torchrun/SLURM do (Fabric sees LOCAL_RANK and does not re-launch)."""
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port,
               "WORLD_SIZE": str(world), "NODE_RANK": "0", "LOCAL_RANK": str(rank), "RANK": str(rank)}  # fmt: skip
        cmd = [sys.executable, str(SCRIPT), str(out), str(world), "ddp", str(batch)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    for rank, proc in enumerate(procs):
        _, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, f"rank {rank}: {err[-3000:]}"


def test_two_process_ddp_replicas_identical(tmp_path):
    _run_ddp(tmp_path / "ddp")
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
