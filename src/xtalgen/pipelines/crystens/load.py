"""Load a CrysTens training run or packaged model: its kind, sampling network and configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from xtalgen.models.crystens import CrysTensDiffusion, build_gan, build_wgan
from xtalgen.pipelines.crystens.tasks import CONFIG_CLASSES
from xtalgen.pipelines.training import load_checkpoint, load_config
from xtalgen.pipelines.training.checkpoint import find_checkpoint, read_state
from xtalgen.representations.crystens import CrysTensConfig


def load_crystens_model(
    checkpoint: str | Path, use_ema: bool = True
) -> tuple[str, torch.nn.Module, Any, CrysTensConfig]:
    """(kind, sampling module, training config, CrysTens config) from a run folder or checkpoint.

    The module is the generator for GANs and the (EMA, when ``use_ema``) diffusion model, in eval mode.
    """
    ckpt = load_checkpoint(checkpoint)
    extra = ckpt.state.get("extra", {})
    kind = extra.get("kind")
    if kind not in CONFIG_CLASSES or "crystens" not in extra:
        raise ValueError(f"{ckpt.path} is not a CrysTens checkpoint (kind={kind!r})")
    raw_cfg = {k: v for k, v in ckpt.config.items() if not k.startswith("_")}
    cfg = load_config(CONFIG_CLASSES[kind], raw_cfg)
    ct = CrysTensConfig.from_dict(extra["crystens"])
    size = int(extra["size"])
    if kind in ("gan", "wgan"):
        gen = (build_gan if kind == "gan" else build_wgan)(size, cfg.model)[0]
        gen.load_state_dict(ckpt.module_state("generator"))
        module: torch.nn.Module = gen
    else:
        model = CrysTensDiffusion(size, cfg.model, cfg.conditioning, ct)
        modules = ckpt.state.get("modules", [])
        if not use_ema and "model" not in modules:
            raise ValueError(f"{ckpt.path} holds only the EMA weights (a packaged model): load it with use_ema=True")
        if use_ema and "ema" in modules:
            state = ckpt.module_state("ema")
            model.load_state_dict({k[len("shadow.") :]: v for k, v in state.items() if k.startswith("shadow.")})
        else:
            model.load_state_dict(ckpt.module_state("model"))
        module = model
    return kind, module.eval(), cfg, ct


def checkpoint_kind(checkpoint: str | Path) -> str:
    """``gan``, ``wgan`` or ``diffusion``: the CrysTens kind a run folder or checkpoint holds (ValueError if none)."""
    folder = find_checkpoint(checkpoint)
    if folder is None:
        raise FileNotFoundError(f"no complete checkpoint found at {checkpoint}")
    extra = read_state(folder).get("extra", {})  # the state alone, not the weights
    if extra.get("kind") not in CONFIG_CLASSES or "crystens" not in extra:
        raise ValueError(f"{folder} is not a CrysTens checkpoint (kind={extra.get('kind')!r})")
    return str(extra["kind"])
