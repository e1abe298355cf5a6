"""Fit a WGAN-GP critic to a frozen PGCGM generator (for ``critic_top_fraction`` with a shipped model).

Shipped models hold only their generator. This trains a fresh critic (the model config's size, its
``critic_optimizer``, ``gp_weight``) on real training samples against the frozen generator's samples under the
same conditions, as the critic half of the training step (:class:`xtalgen.pipelines.pgcgm.task.PGCGMTask`),
and writes a checkpoint holding both (``OUT/checkpoints/step_*``) that ``--set critic=OUT`` reads. This is the
post-hoc discriminator of discriminator rejection sampling (Azadi et al., ICLR 2019), not the critic the
generator was trained against.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.models.pgcgm import critic_loss, critic_scores_and_penalty
from xtalgen.pipelines.pgcgm.sample import load_pgcgm_generator
from xtalgen.pipelines.pgcgm.task import BaseSiteBatches, OpsLookup, build_networks, lattice_stats
from xtalgen.pipelines.pgcgm.train import load_training_arrays
from xtalgen.pipelines.training.checkpoint import save_checkpoint
from xtalgen.representations.basesites.training_arrays import N_FEATURES


def fit_critic(checkpoint: str | Path, data: str | Path, out: str | Path, *, steps: int = 500, batch_size: int = 256,
               seed: int = 0, max_materials: int = 0, log: Any = print) -> Path:  # fmt: skip
    """Train a critic for ``checkpoint``'s generator on ``data`` (as ``xtalgen train`` takes it) for ``steps``
    critic updates of ``batch_size`` samples; return the checkpoint folder (generator + critic).

    ``max_materials`` (0: the config's) limits the training materials drawn from ``data``.
    """
    if steps < 1 or batch_size < 2:
        raise ValueError(f"fit_critic: steps must be >= 1 and batch_size >= 2, got {steps}, {batch_size}")
    generator, cfg, _ = load_pgcgm_generator(checkpoint)
    generator.requires_grad_(False)
    if max_materials:
        cfg.data.max_materials = max_materials
    arrays = load_training_arrays(data, cfg.data, seed=cfg.seed, n_sets=cfg.model.n_sets,
                                  max_base_sites=cfg.model.n_sites)  # fmt: skip
    torch.manual_seed(seed)
    _, critic = build_networks(cfg.model, lattice_stats(arrays), element_dim=N_FEATURES)
    opt = cfg.critic_optimizer.build(critic.parameters())
    batches, lookup = BaseSiteBatches(arrays), OpsLookup("cpu")
    rng, gen_rng = np.random.default_rng([seed, 11]), torch.Generator().manual_seed(seed)
    general = cfg.model.wyckoff_features
    for step in range(steps):
        b = batches.get_batch(rng.choice(len(batches), size=min(batch_size, len(batches)), replace=False))
        cond = lookup.conditions(b["spacegroup"], b["element_features"], b["site_mask"], b["crystal_system"],
                                 b["multiplicity"] if general else None)  # fmt: skip
        real_coords, real_lat = b["coords"].float(), b["lattice"].float()
        with torch.no_grad():
            fake_coords, fake_lat = generator(generator.sample_noise(len(real_coords), generator=gen_rng), cond)
        d_real, d_fake, gp = critic_scores_and_penalty(
            critic, (real_coords, critic.scaler.encode(real_lat)), (fake_coords, critic.scaler.encode(fake_lat)),
            cond, gen_rng,
        )  # fmt: skip
        loss = critic_loss(d_real, d_fake) + cfg.gp_weight * gp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 50 == 0 or step == steps - 1):
            log(f"critic step {step}: loss {float(loss):.4f}, W {float(d_real.mean() - d_fake.mean()):.4f}")
    extra = {"critic_fit": {"steps": steps, "seed": seed, "batch_size": batch_size, "generator": str(checkpoint),
                            "data": str(data), "materials": int(len(arrays))}}  # fmt: skip
    return save_checkpoint(Path(out) / "checkpoints", steps, {"generator": generator, "critic": critic}, {},
                           config={"_class": "PGCGMConfig", **asdict(cfg)}, extra=extra, keep_last=1)  # fmt: skip
