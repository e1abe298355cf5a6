"""Run by test_training_ddp.py: train the tiny task with Fabric DDP (CPU, gloo), save each rank's weights.

Usage: python _ddp_script.py OUT_DIR DEVICES STRATEGY BATCH
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tiny_task import TinyTask, tiny_data  # noqa: E402

from xtalgen.pipelines.training import TrainingConfig, fit, make_fabric  # noqa: E402

if __name__ == "__main__":
    out, devices, strategy, batch = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    torch.set_num_threads(1)
    cfg = TrainingConfig(
        seed=3,
        max_steps=6,
        batch_size=batch,
        checkpoint_every=3,
        log_every=2,
        out_dir=str(out),
        accelerator="cpu",
        devices=devices,
        strategy=strategy,
        progress=False,
        tensorboard=False,
    )
    fabric = make_fabric(cfg)
    fabric.launch()
    task = TinyTask(stochastic=False)
    fit(task, tiny_data(), cfg, fabric=fabric)
    state = {k: v.detach().clone() for k, v in task.model.state_dict().items()}
    torch.save({"world_size": fabric.world_size, "state": state}, out / f"rank{fabric.global_rank}.pt")
