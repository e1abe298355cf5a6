"""One generic training loop on Lightning Fabric: CPU, one GPU, or DDP over many GPUs/nodes, unchanged.

The loop owns seeding, batch sampling, logging, progress and checkpoints; a :class:`TrainingTask`
owns the models, optimisers and what one step does. Exact resume: the batch of step ``s`` depends
only on (seed, s, rank) (:class:`SeededSampler`) and the global RNGs are re-seeded from
(seed, s, rank) before every step, so a resumed run replays the same batches and the same noise.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from xtalgen.pipelines.training.checkpoint import CHECKPOINT_DIR, load_checkpoint, save_checkpoint
from xtalgen.pipelines.training.config import TrainingConfig, config_to_dict, save_config
from xtalgen.pipelines.training.metrics_log import MetricsLogger
from xtalgen.pipelines.training.sampler import ArrayBatchSource, BatchSource, SeededSampler


@runtime_checkable
class TrainingTask(Protocol):
    """What a model brings to the loop.

    - ``setup(fabric)``: build modules and optimisers and wrap them with ``fabric.setup(module, opt)``
      (keep the fabric to call ``fabric.backward``); called once, after seeding, identically on every rank.
    - ``training_step(batch, step) -> {name: float}``: one optimisation iteration on ``batch`` (already on
      the device); ``step`` counts from 0. Returns the loss terms to log (plain floats).
    - ``modules()`` / ``optimizers()``: name -> object, everything whose state must be checkpointed.

    Optional: ``extra_state() -> dict`` (JSON-serialisable) and ``load_extra_state(dict)``.
    """

    def setup(self, fabric: Any) -> None: ...

    def training_step(self, batch: Any, step: int) -> dict[str, float]: ...

    def modules(self) -> dict[str, torch.nn.Module]: ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...


def seed_all(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def seed_step(seed: int, step: int, rank: int) -> None:
    """Seed the global RNGs for one step of one rank, from a SeedSequence of (seed, step, rank)."""
    state = np.random.SeedSequence([seed, step, rank]).generate_state(2, dtype=np.uint32)
    seed_all(int(state[0]) << 32 | int(state[1]))


def make_fabric(config: TrainingConfig) -> Any:
    """A (not yet launched) Fabric for the run settings in ``config``."""
    from lightning.fabric import Fabric

    return Fabric(
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,  # type: ignore[arg-type]
    )


def _mean_across_ranks(fabric: Any, metrics: Mapping[str, float]) -> dict[str, float]:
    if fabric.world_size == 1 or not metrics:
        return dict(metrics)
    keys = sorted(metrics)
    vec = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=fabric.device)
    vec = fabric.all_reduce(vec, reduce_op="mean")
    return {k: float(v) for k, v in zip(keys, vec.tolist(), strict=True)}


@contextlib.contextmanager
def _progress(enabled: bool, total: int, start: int) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from xtalgen.progress import progress_bar

    with progress_bar("train", extra=("{task.fields[metrics]}",)) as progress:
        progress.add_task("train", total=total, completed=start, metrics="")
        yield progress


def _as_source(data: Any) -> BatchSource:
    if isinstance(data, BatchSource):
        return data
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return ArrayBatchSource(data)
    raise TypeError(
        f"data: expected a BatchSource (len + get_batch), numpy array or tensor, got {type(data)}"
    )


def fit(
    task: TrainingTask,
    data: Any,
    config: TrainingConfig,
    *,
    resume: bool = False,
    fabric: Any = None,
) -> Path:
    """Train ``task`` on ``data`` for ``config.max_steps`` steps; return the final checkpoint folder.

    ``data``: a :class:`BatchSource` or an array/tensor (M, ...). ``resume=True`` continues from the
    ``latest`` checkpoint in ``config.out_dir`` (starts fresh if none). ``fabric``: an already launched
    Fabric to use instead of one built from ``config`` (which is launched here; with strategy "ddp" this
    starts the other processes).
    """
    if not isinstance(task, TrainingTask):
        raise TypeError(f"task: {type(task).__name__} lacks setup/training_step/modules/optimizers")
    source = _as_source(data)
    if fabric is None:
        fabric = make_fabric(config)
        fabric.launch()
    out_dir = Path(config.out_dir)
    ckpt_root = out_dir / CHECKPOINT_DIR
    rank, world = fabric.global_rank, fabric.world_size

    if not resume and _has_checkpoint(out_dir):
        raise ValueError(
            f"{out_dir} already holds checkpoints of a run; pass resume=True (--resume) to continue it "
            "or choose another output folder"
        )
    ckpt = load_checkpoint(out_dir) if resume and _has_checkpoint(out_dir) else None
    sampler = SeededSampler(len(source), config.batch_size, config.seed, rank, world)
    if ckpt is not None:
        _check_resumable(ckpt.state.get("sampler", {}), sampler)

    start, logger = _open_run(task, fabric, config, ckpt, out_dir)

    def checkpoint(step: int) -> Path:
        return _save_step(task, fabric, config, sampler, ckpt_root, step)

    final = ckpt.path if ckpt is not None else ckpt_root
    t0, done_since = time.perf_counter(), 0
    with _progress(config.progress and fabric.is_global_zero, config.max_steps, start) as bar:
        for step in range(start, config.max_steps):
            seed_step(config.seed, step, rank)
            batch = fabric.to_device(source.get_batch(sampler.indices(step)))
            metrics = task.training_step(batch, step)
            completed, done_since = step + 1, done_since + 1
            if completed % config.log_every == 0 or completed == config.max_steps:
                metrics = _mean_across_ranks(fabric, metrics)
                elapsed = time.perf_counter() - t0
                rate = done_since * config.batch_size * world / max(elapsed, 1e-9)
                t0, done_since = time.perf_counter(), 0
                if logger is not None:
                    logger.log(
                        completed, {**metrics, "epoch": sampler.epoch(completed), "samples_per_s": rate}
                    )
                if bar is not None:
                    text = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
                    bar.update(bar.task_ids[0], metrics=text)
            if bar is not None:
                bar.update(bar.task_ids[0], completed=completed)
            if completed % config.checkpoint_every == 0 or completed == config.max_steps:
                final = checkpoint(completed)
    if logger is not None:
        logger.close()
    return Path(final)


def _open_run(task: TrainingTask, fabric: Any, config: TrainingConfig, ckpt: Any, out_dir: Path) -> tuple[int, Any]:
    """Seed, set up the task, restore a checkpoint; write the config; return (first step, metrics logger)."""
    seed_all(config.seed)
    task.setup(fabric)
    start = 0
    if ckpt is not None:
        ckpt.restore(task.modules(), task.optimizers(), rng=True)
        if hasattr(task, "load_extra_state"):
            task.load_extra_state(ckpt.state.get("extra", {}))
        start = ckpt.step
    if fabric.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, out_dir / "config.yaml")
    logger = (
        MetricsLogger(
            out_dir / "logs", resume_step=start if ckpt is not None else None, tensorboard=config.tensorboard
        )
        if fabric.is_global_zero
        else None
    )
    return start, logger


def _save_step(task: TrainingTask, fabric: Any, config: TrainingConfig, sampler: SeededSampler, ckpt_root: Path,
               step: int) -> Path:  # fmt: skip
    """Save the checkpoint of ``step`` (first process), then wait for every process."""
    folder = ckpt_root / f"step_{step:09d}"
    if fabric.is_global_zero:
        extra = task.extra_state() if hasattr(task, "extra_state") else {}
        folder = save_checkpoint(
            ckpt_root,
            step,
            task.modules(),
            task.optimizers(),
            config={**config_to_dict(config), "_class": type(config).__name__},
            sampler=sampler.state(step),
            extra={"task": type(task).__name__, **extra},
            keep_last=config.keep_last,
        )
    fabric.barrier()
    return folder


def _has_checkpoint(out_dir: Path) -> bool:
    from xtalgen.pipelines.training.checkpoint import find_checkpoint

    return (out_dir / CHECKPOINT_DIR).is_dir() and find_checkpoint(out_dir) is not None


def _check_resumable(saved: Mapping[str, Any], sampler: SeededSampler) -> None:
    for key in ("n", "seed"):
        if key in saved and saved[key] != getattr(sampler, key):
            raise ValueError(
                f"cannot resume: checkpoint was trained with {key}={saved[key]}, "
                f"now {key}={getattr(sampler, key)} (same data and seed are needed to continue exactly)"
            )
    for key in ("batch_size", "world_size"):
        if key in saved and saved[key] != getattr(sampler, key):
            import warnings

            warnings.warn(
                f"resuming with {key}={getattr(sampler, key)} (checkpoint: {saved[key]}); "
                "the run continues but will not match an uninterrupted one",
                stacklevel=3,
            )
