"""``critic_top_fraction``: critic-guided rejection sampling of PGCGM candidates.

The trained WGAN critic scores each generated sample (all its sets of base sites and its lattice, under its
condition; higher = more like the training materials). Accepted mode then draws until ``ceil(n / fraction)``
candidates pass post-processing and keeps the ``n`` best-scored of them; the others are rejected as
:data:`REASON_CRITIC`. Every candidate of such a run gets the summary column ``critic_score`` (unitless: the
critic's Wasserstein score). The critic comes from ``critic`` (a training run or checkpoint holding module
``critic`` for this generator) or else from the generation checkpoint itself; shipped models hold only their
generator, so they need ``critic``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.pipelines.pgcgm.conditions import condition_tensors
from xtalgen.pipelines.pgcgm.task import OpsLookup, build_networks
from xtalgen.representations.basesites.training_arrays import N_FEATURES

REASON_CRITIC = "critic score"


def load_critic(checkpoint: str | Path, generator: torch.nn.Module) -> torch.nn.Module:
    """The trained critic (eval mode, CPU) stored in ``checkpoint``, checked against ``generator``'s shape."""
    from xtalgen.pipelines.pgcgm.task import PGCGMConfig
    from xtalgen.pipelines.training import load_checkpoint, load_config

    ckpt = load_checkpoint(checkpoint)
    modules = list(ckpt.state.get("modules", []))
    if "critic" not in modules:
        raise ValueError(f"critic: checkpoint {ckpt.path} holds no critic (modules: {', '.join(modules)}); "
                         "give a training run of this model with --set critic=RUN")  # fmt: skip
    cfg = load_config(PGCGMConfig, {k: v for k, v in ckpt.config.items() if k != "_class"})
    if (cfg.model.n_sites, cfg.model.site_dim > 0) != (generator.n_sites, getattr(generator.cond, "site_dim", 0) > 0):
        raise ValueError(f"critic: checkpoint {ckpt.path} was trained for another model shape than the generator's")
    _, critic = build_networks(cfg.model, element_dim=N_FEATURES)
    critic.load_state_dict(ckpt.module_state("critic"), strict=True)
    return critic.eval()


def critic_scores(critic: torch.nn.Module, conditions: list[Any], coords: np.ndarray, lattices: np.ndarray,
                  batch_size: int = 512) -> np.ndarray:  # fmt: skip
    """Critic scores (n,) of generated coords (n, S, K, 3) and lattices (n, 6) (Å, degrees) under ``conditions``."""
    general = getattr(critic.cond, "site_dim", 0) > 0
    lookup = OpsLookup("cpu")
    out = []
    with torch.no_grad():
        for start in range(0, len(conditions), batch_size):
            sl = slice(start, min(len(conditions), start + batch_size))
            cond = lookup.conditions(*condition_tensors(conditions[sl], critic.n_sites, general))
            c = torch.from_numpy(np.ascontiguousarray(coords[sl], np.float32))
            lat = torch.from_numpy(np.ascontiguousarray(lattices[sl], np.float32))
            out.append(critic.score(c, lat, cond).numpy())
    return np.concatenate(out) if out else np.zeros(0)
