"""CrysTens training configs and :class:`~xtalgen.pipelines.training.TrainingTask` steps (GAN, WGAN-GP, diffusion).

One loop step = one batch. GAN: one discriminator and one generator update. WGAN-GP: one critic
update; every ``n_critic``-th step also one generator update. Diffusion: one denoiser update, then the
EMA weights follow. Learning rates follow Alverson et al. 2024, appendix B (GAN 1e-5, WGAN 1e-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from xtalgen.models.crystens import (
    EMA,
    ConditioningConfig,
    CrysTensDiffusion,
    DiffusionConfig,
    GANConfig,
    WGANConfig,
    build_gan,
    build_wgan,
    critic_loss,
    discriminator_loss,
    gradient_penalty,
    interpolate,
)
from xtalgen.models.crystens.gan import generator_loss as gan_generator_loss
from xtalgen.models.crystens.wgan import generator_loss as wgan_generator_loss
from xtalgen.pipelines.training import OptimizerConfig, TrainingConfig
from xtalgen.pipelines.training.checkpoint import unwrap
from xtalgen.representations.crystens.config import CrysTensConfig

Kind = Literal["gan", "wgan", "diffusion"]
KINDS: tuple[str, ...] = ("gan", "wgan", "diffusion")


@dataclass
class CrysTensDataConfig:
    """How a prepared dataset is encoded when ``data`` is not already a CrysTens ``.npy``.

    ``size`` N (32 holds 20 atoms, 64 holds 52), ``split`` of the prepared dataset ("all" = every row),
    ``max_samples`` (0 = all) drawn with the run seed, ``workers`` encoding processes.
    """

    size: int = 32
    cell: Literal["auto", "conventional", "primitive", "as_given"] = "auto"
    distance: Literal["fractional", "cartesian"] = "fractional"
    split: str = "train"
    max_samples: int = 0
    workers: int = 2

    def validate(self) -> None:
        if self.size < 16:
            raise ValueError(f"size: must be >= 16, got {self.size}")
        if self.max_samples < 0 or self.workers < 1:
            raise ValueError("max_samples must be >= 0 and workers >= 1")


@dataclass
class GANTrainConfig(TrainingConfig):
    """Vanilla GAN run: Adam 1e-5 for both networks (appendix B.1), betas (0.5, 0.999)."""

    model: GANConfig = field(default_factory=GANConfig)
    optimizer_g: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-5, betas=(0.5, 0.999)))
    optimizer_d: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-5, betas=(0.5, 0.999)))
    data: CrysTensDataConfig = field(default_factory=CrysTensDataConfig)


@dataclass
class WGANTrainConfig(TrainingConfig):
    """WGAN-GP run: Adam 1e-4, betas (0, 0.9) for both networks (appendix B.2; Gulrajani et al. 2017)."""

    model: WGANConfig = field(default_factory=WGANConfig)
    optimizer_g: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-4, betas=(0.0, 0.9)))
    optimizer_d: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-4, betas=(0.0, 0.9)))
    data: CrysTensDataConfig = field(default_factory=CrysTensDataConfig)


@dataclass
class DiffusionTrainConfig(TrainingConfig):
    """Diffusion run: AdamW, EMA of the weights (``ema_decay``), gradient-norm clipping (0 = off)."""

    model: DiffusionConfig = field(default_factory=DiffusionConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(name="adamw", lr=1e-4))
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    data: CrysTensDataConfig = field(default_factory=CrysTensDataConfig)

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay: must be in [0, 1), got {self.ema_decay}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip: must be >= 0, got {self.grad_clip}")


CONFIG_CLASSES: dict[str, type[TrainingConfig]] = {
    "gan": GANTrainConfig,
    "wgan": WGANTrainConfig,
    "diffusion": DiffusionTrainConfig,
}


class CrysTensBatches:
    """Batches of CrysTens (float32 tensors) from an (M, 4, N, N) array, optionally with conditions.

    ``rows`` restricts/reorders the samples; ``spacegroup`` (M,) and ``composition`` (M, E) are
    returned alongside when given: ``(x, spacegroup, composition)``.
    """

    def __init__(
        self, tensors: np.ndarray, rows: np.ndarray | None = None, spacegroup: np.ndarray | None = None,
        composition: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.tensors = tensors
        self.rows = np.arange(len(tensors)) if rows is None else np.asarray(rows, dtype=np.int64)
        if len(self.rows) == 0:
            raise ValueError("no CrysTens to train on (empty array or selection)")
        self.spacegroup, self.composition = spacegroup, composition

    def __len__(self) -> int:
        return len(self.rows)

    def get_batch(self, indices: np.ndarray) -> Any:
        rows = self.rows[indices]
        x = torch.from_numpy(np.asarray(self.tensors[rows], dtype=np.float32))
        if self.spacegroup is None and self.composition is None:
            return x
        sg = torch.from_numpy(self.spacegroup[rows].astype(np.int64)) if self.spacegroup is not None else None
        comp = torch.from_numpy(self.composition[rows].astype(np.float32)) if self.composition is not None else None
        return x, sg, comp


class _Task:
    kind = ""

    def __init__(self, config: Any, size: int, meta: dict[str, Any]) -> None:
        self.config, self.size, self.meta = config, size, dict(meta)

    def extra_state(self) -> dict[str, Any]:
        return {"kind": self.kind, "size": self.size, **self.meta}


class GANTask(_Task):
    """Vanilla GAN: BCE discriminator update on a real+fake batch, then a non-saturating generator update."""

    kind = "gan"

    def setup(self, fabric: Any) -> None:
        self.fabric = fabric
        cfg: GANTrainConfig = self.config
        gen, disc = build_gan(self.size, cfg.model)
        self.gen, self.opt_g = fabric.setup(gen, cfg.optimizer_g.build(gen.parameters()))
        self.disc, self.opt_d = fabric.setup(disc, cfg.optimizer_d.build(disc.parameters()))

    def _latent(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.model.latent_dim, device=self.fabric.device)

    def training_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        b = real.shape[0]
        with torch.no_grad():
            fake = self.gen(self._latent(b))
        logits = self.disc(torch.cat([real, fake]))  # one forward per backward (DDP-safe)
        loss_d = discriminator_loss(logits[:b], logits[b:])
        self.opt_d.zero_grad(set_to_none=True)
        self.fabric.backward(loss_d)
        self.opt_d.step()

        # the discriminator's batch norm sees a real+fake batch in both steps, so it normalises fakes the
        # same way when judging them for the generator (a fakes-only batch would be normalised apart)
        fake_logits = self.disc(torch.cat([real, self.gen(self._latent(b))]))[b:]
        loss_g = gan_generator_loss(fake_logits)
        self.opt_g.zero_grad(set_to_none=True)
        self.fabric.backward(loss_g)
        self.opt_g.step()
        return {
            "d_loss": loss_d.item(),
            "g_loss": loss_g.item(),
            "d_real": torch.sigmoid(logits[:b]).mean().item(),
            "d_fake": torch.sigmoid(logits[b:]).mean().item(),
        }

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.gen, "discriminator": self.disc}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "discriminator": self.opt_d}


class WGANTask(_Task):
    """WGAN-GP: a critic update every step, a generator update every ``n_critic`` steps."""

    kind = "wgan"

    def setup(self, fabric: Any) -> None:
        self.fabric = fabric
        cfg: WGANTrainConfig = self.config
        gen, critic = build_wgan(self.size, cfg.model)
        self.gen, self.opt_g = fabric.setup(gen, cfg.optimizer_g.build(gen.parameters()))
        self.critic, self.opt_d = fabric.setup(critic, cfg.optimizer_d.build(critic.parameters()))
        self.last_g = float("nan")

    def _latent(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.model.latent_dim, device=self.fabric.device)

    def training_step(self, real: torch.Tensor, step: int) -> dict[str, float]:
        cfg: WGANConfig = self.config.model
        b = real.shape[0]
        with torch.no_grad():
            fake = self.gen(self._latent(b))
        points = interpolate(real, fake)
        scores = self.critic(torch.cat([real, fake, points]))
        s_real, s_fake, s_mid = scores[:b], scores[b : 2 * b], scores[2 * b :]
        gp = gradient_penalty(s_mid, points)
        loss_d = critic_loss(s_real, s_fake) + cfg.gp_weight * gp
        self.opt_d.zero_grad(set_to_none=True)
        self.fabric.backward(loss_d)
        self.opt_d.step()
        if (step + 1) % cfg.n_critic == 0:
            loss_g = wgan_generator_loss(self.critic(self.gen(self._latent(b))))
            self.opt_g.zero_grad(set_to_none=True)
            self.fabric.backward(loss_g)
            self.opt_g.step()
            self.last_g = loss_g.item()
        return {
            "critic_loss": loss_d.item(),
            "wasserstein": (s_real.mean() - s_fake.mean()).item(),
            "gp": gp.item(),
            "g_loss": self.last_g,
        }

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.gen, "critic": self.critic}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "critic": self.opt_d}

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "last_g": self.last_g}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.last_g = float(state.get("last_g", float("nan")))


class DiffusionTask(_Task):
    """Denoising loss on a batch (conditions randomly dropped when conditional), AdamW step, EMA update."""

    kind = "diffusion"

    def setup(self, fabric: Any) -> None:
        self.fabric = fabric
        cfg: DiffusionTrainConfig = self.config
        tensor_config = CrysTensConfig.from_dict(self.meta["crystens"]) if "crystens" in self.meta else None
        model = CrysTensDiffusion(self.size, cfg.model, cfg.conditioning, tensor_config)
        ema = EMA(model, cfg.ema_decay)
        self.model, self.opt = fabric.setup(model, cfg.optimizer.build(model.parameters()))
        self.ema = ema.to(fabric.device)

    def training_step(self, batch: Any, step: int) -> dict[str, float]:
        if isinstance(batch, (tuple, list)):
            x0, sg, comp = batch
        else:
            x0, sg, comp = batch, None, None
        loss = self.model(x0, sg, comp)
        self.opt.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        out = {"loss": loss.item()}
        if self.config.grad_clip > 0:
            norm = self.fabric.clip_gradients(self.model, self.opt, max_norm=self.config.grad_clip)
            out["grad_norm"] = norm.item()
        self.opt.step()
        self.ema.update(unwrap(self.model))
        return out

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model, "ema": self.ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.opt}


TASKS: dict[str, type[_Task]] = {"gan": GANTask, "wgan": WGANTask, "diffusion": DiffusionTask}
