"""Denoising diffusion over CrysTens with diffusers: ``UNet2DModel`` + DDPM training, DDIM/DDPM sampling.

The paper used a two-stage Imagen cascade (appendix B.3); here one UNet works at full resolution
(N = 32 or 64), with 2-D convolutions over the 4 channels, a DDPM noise schedule of 1,000 training
steps, and DDIM (deterministic, few steps) or DDPM (ancestral) sampling with a chosen number of steps.
Optional conditioning (space group, composition) with classifier-free guidance: :mod:`.conditioning`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch import nn
from torch.nn import functional as F

from xtalgen.models.crystens.axis_context import (
    CONTEXT_FACTOR,
    HEADER_CONTEXT_FACTOR,
    with_axis_context,
    with_header_context,
)
from xtalgen.models.crystens.conditioning import ConditionEncoder, ConditioningConfig, drop_conditions, guided
from xtalgen.models.crystens.imputation import Imputation, x0_from_output
from xtalgen.models.crystens.loss_weights import ENTRY_WEIGHTINGS, entry_weights, min_snr_weights
from xtalgen.models.crystens.pair_skip import PairSkip
from xtalgen.representations.crystens.config import CrysTensConfig

CHANNELS = 4


@dataclass
class DiffusionConfig:
    """UNet size and noise schedule.

    ``block_out_channels``: channels per UNet level (each level but the last halves the resolution);
    ``attention``: per level, whether its blocks use self-attention. ``sampler``/``sampling_steps``
    are the defaults used at generation time.
    """

    block_out_channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    attention: list[bool] = field(default_factory=lambda: [False, False, True])
    layers_per_block: int = 1
    norm_num_groups: int = 8
    attention_head_dim: int = 8
    dropout: float = 0.0
    num_train_timesteps: int = 1000
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "linear"
    # "sample" (the network predicts the clean tensor x0): CrysTens tensors are mostly empty entries at -1,
    # a data mean epsilon prediction sees only through sqrt(alpha_bar) (provenance: docs/models/crystens.md).
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = "sample"
    clip_sample: bool = True
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sampling_steps: int = 100
    # loss weights (:mod:`.loss_weights`): per entry type ("uniform" = plain MSE, "inverse_frequency",
    # "header" = header entries x header_weight) and per timestep (min-SNR-gamma; 0 = off)
    loss_weights: Literal["uniform", "inverse_frequency", "header"] = "uniform"
    header_weight: float = 10.0
    min_snr_gamma: float = 0.0
    # the UNet also reads each position's mirror entry and its row's / column's consensus over the atom slots
    # (:mod:`.axis_context`)
    axis_context: bool = False
    # self-conditioning (Chen, Zhang & Hinton, "Analog Bits", ICLR 2023): the UNet also reads its previous
    # estimate of the clean tensor and, at every (i, j), that estimate's layer-0 header entries of row i and
    # column j; trained with the estimate on half of the batches (zeros on the others)
    self_condition: bool = False
    # pair-block skip (:mod:`.pair_skip`): the atom-pair block of the x0 estimate is the differences / distances
    # of the estimate's own header coordinates plus the UNet's residual. Needs prediction_type "sample".
    pair_skip: bool = False

    def validate(self) -> None:
        if not self.block_out_channels:
            raise ValueError("block_out_channels: needs at least one level")
        levels = len(self.block_out_channels)
        if len(self.attention) != levels:
            raise ValueError(f"attention: needs {levels} entries (one per level), got {len(self.attention)}")
        bad = [c for c in self.block_out_channels if c < 1 or c % self.norm_num_groups]
        if bad:
            raise ValueError(
                f"block_out_channels: each must be a positive multiple of norm_num_groups, got {bad}"
            )
        if self.layers_per_block < 1 or self.num_train_timesteps < 2:
            raise ValueError("layers_per_block must be >= 1 and num_train_timesteps >= 2")
        if not 1 <= self.sampling_steps <= self.num_train_timesteps:
            raise ValueError(
                f"sampling_steps: must be in 1..{self.num_train_timesteps}, got {self.sampling_steps}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.loss_weights not in ENTRY_WEIGHTINGS:
            raise ValueError(f"loss_weights: must be one of {list(ENTRY_WEIGHTINGS)}, got {self.loss_weights!r}")
        if not self.header_weight > 0:
            raise ValueError(f"header_weight: must be > 0, got {self.header_weight}")
        if self.min_snr_gamma < 0:
            raise ValueError(f"min_snr_gamma: must be >= 0 (0 = off), got {self.min_snr_gamma}")
        if self.pair_skip and self.prediction_type != "sample":
            raise ValueError(f"pair_skip: needs prediction_type 'sample' (x0), got {self.prediction_type!r}")


def input_channels(config: DiffusionConfig) -> int:
    """UNet input channels: the 4 tensor channels plus the context channels the config switches on."""
    factor = CONTEXT_FACTOR if config.axis_context else 1
    return CHANNELS * factor + (CHANNELS + HEADER_CONTEXT_FACTOR if config.self_condition else 0)


def self_condition_channels(x0_estimate: torch.Tensor) -> torch.Tensor:
    """(B, 4, N, N) clean-tensor estimate -> (B, 28, N, N): the estimate and its layer-0 header context."""
    return torch.cat([x0_estimate, with_header_context(x0_estimate[:, :1])], dim=1)


def build_unet(size: int, config: DiffusionConfig, class_conditioned: bool = False) -> UNet2DModel:
    """A diffusers UNet2DModel for (4, size, size) inputs."""
    levels = len(config.block_out_channels)
    if size % 2 ** (levels - 1):
        raise ValueError(f"size {size} is not divisible by 2^{levels - 1} ({levels} UNet levels)")
    down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in config.attention)
    up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.attention))
    return UNet2DModel(
        sample_size=size,
        in_channels=input_channels(config),
        out_channels=CHANNELS,
        block_out_channels=tuple(config.block_out_channels),
        down_block_types=down,
        up_block_types=up,
        layers_per_block=config.layers_per_block,
        norm_num_groups=config.norm_num_groups,
        attention_head_dim=config.attention_head_dim,
        dropout=config.dropout,
        class_embed_type="identity" if class_conditioned else None,
    )


def make_scheduler(config: DiffusionConfig) -> DDPMScheduler:
    """The training noise schedule (DDPM, ``num_train_timesteps`` steps)."""
    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type=config.prediction_type,
        clip_sample=config.clip_sample,
    )


def make_sampler(config: DiffusionConfig, kind: str | None = None) -> DDPMScheduler | DDIMScheduler:
    """A fresh sampling scheduler (``"ddim"`` or ``"ddpm"``) sharing the training schedule."""
    kind = kind or config.sampler
    base = make_scheduler(config)
    if kind == "ddim":
        return DDIMScheduler.from_config(base.config)
    if kind == "ddpm":
        return base
    raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {kind!r}")


def denoise(
    model_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    scheduler: DDPMScheduler | DDIMScheduler,
    x: torch.Tensor,
    steps: int,
    generator: torch.Generator | None = None,
    progress: Callable[[int], None] | None = None,
    impute: Imputation | None = None,
) -> torch.Tensor:
    """Reverse process from noise ``x`` in ``steps`` scheduler steps; ``model_fn(x, t)`` predicts.

    ``impute``: known entries replaced in every step's x0 estimate and in the final sample (exactly).
    """
    scheduler.set_timesteps(steps, device=x.device)
    prediction_type = scheduler.config.prediction_type
    for i, t in enumerate(scheduler.timesteps):
        out = model_fn(x, t)
        if impute is not None:
            out = impute.model_output(out, x, t, scheduler.alphas_cumprod, prediction_type)
        x = scheduler.step(out, t, x, generator=generator).prev_sample
        if progress is not None:
            progress(i + 1)
    return impute.apply(x) if impute is not None else x


class CrysTensDiffusion(nn.Module):
    """UNet denoiser (+ optional condition encoder); ``forward`` returns the training loss of a batch."""

    def __init__(
        self, size: int, config: DiffusionConfig, conditioning: ConditioningConfig | None = None,
        tensor_config: CrysTensConfig | None = None,
    ) -> None:  # fmt: skip
        """``tensor_config``: the training tensors' CrysTens config; needed (its scales) by ``pair_skip``."""
        super().__init__()
        self.size, self.config = size, config
        if config.pair_skip and tensor_config is None:
            raise ValueError("pair_skip: the model needs the training tensors' CrysTens config (tensor_config=)")
        self.pair_skip = PairSkip(tensor_config) if config.pair_skip and tensor_config is not None else None
        self.cond_config = conditioning if conditioning is not None and conditioning.enabled else None
        self.unet = build_unet(size, config, class_conditioned=self.cond_config is not None)
        time_dim = config.block_out_channels[0] * 4
        self.condition = ConditionEncoder(time_dim, self.cond_config) if self.cond_config else None
        self.scheduler = make_scheduler(config)
        # not persistent: rebuilt from the config, so checkpoints keep their keys
        weights = entry_weights(size, config.loss_weights, config.header_weight)
        self.register_buffer("entry_weights", weights, persistent=False)

    @property
    def conditional(self) -> bool:
        return self.condition is not None

    def predict(
        self, x: torch.Tensor, t: torch.Tensor, spacegroup: torch.Tensor | None = None,
        composition: torch.Tensor | None = None, x0_estimate: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The model's prediction (noise, velocity or sample per ``prediction_type``) at timesteps ``t``:
        the UNet output, or with ``pair_skip`` that output plus its pair-block skip (:mod:`.pair_skip`).

        ``x0_estimate``: the previous clean-tensor estimate for a self-conditioned model (None: zeros).
        """
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        raw = self.network(x, t, spacegroup, composition, x0_estimate)
        return self.pair_skip(raw) if self.pair_skip is not None else raw

    def network(
        self, x: torch.Tensor, t: torch.Tensor, spacegroup: torch.Tensor | None = None,
        composition: torch.Tensor | None = None, x0_estimate: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """The UNet's own output for inputs ``x`` (with context channels) at timesteps ``t`` (B,)."""
        labels = self.condition(spacegroup, composition) if self.condition is not None else None
        x_in = with_axis_context(x) if self.config.axis_context else x
        if self.config.self_condition:
            estimate = torch.zeros_like(x) if x0_estimate is None else x0_estimate
            x_in = torch.cat([x_in, self_condition_channels(estimate)], dim=1)
        return self.unet(x_in, t, class_labels=labels).sample

    def clean_estimate(self, out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The clean-tensor estimate implied by a network output (clipped to [-1, 1] like the scheduler)."""
        if t.ndim == 0:
            t = t.expand(xt.shape[0])
        x0 = x0_from_output(out, xt, t, self.scheduler.alphas_cumprod, self.config.prediction_type)
        return x0.clamp(-1.0, 1.0) if self.config.clip_sample else x0

    def forward(
        self,
        x0: torch.Tensor,
        spacegroup: torch.Tensor | None = None,
        composition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Weighted mean-squared denoising loss at uniformly drawn timesteps (conditions randomly dropped).

        Entry weights (mean 1) and min-SNR-γ timestep weights per ``config``; plain MSE by default.
        """
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.config.num_train_timesteps, (x0.shape[0],), device=x0.device)
        xt = self.scheduler.add_noise(x0, noise, t)
        if self.cond_config is not None and self.training:
            spacegroup, composition = drop_conditions(
                spacegroup, composition, self.cond_config.p_uncond, self.cond_config.p_drop_each
            )
        if self.condition is not None and spacegroup is None and composition is None:
            spacegroup = torch.zeros(x0.shape[0], dtype=torch.long, device=x0.device)
        estimate = None
        if self.config.self_condition and torch.rand(()) < 0.5:  # half the batches see a first estimate
            with torch.no_grad():
                estimate = self.clean_estimate(self.predict(xt, t, spacegroup, composition), xt, t)
        pred = self.predict(xt, t, spacegroup, composition, estimate)
        if self.config.prediction_type == "epsilon":
            target = noise
        elif self.config.prediction_type == "v_prediction":
            target = self.scheduler.get_velocity(x0, noise, t)
        else:
            target = x0
        return self.weighted_loss(pred, target, t)

    def weighted_loss(self, pred: torch.Tensor, target: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of the entry-weighted squared error, each sample scaled by its timestep weight."""
        if self.config.loss_weights == "uniform" and not self.config.min_snr_gamma:
            return F.mse_loss(pred, target)
        per_sample = ((pred - target) ** 2 * self.entry_weights).flatten(1).mean(dim=1)
        if self.config.min_snr_gamma:
            per_sample = per_sample * min_snr_weights(
                self.scheduler.alphas_cumprod, t, self.config.min_snr_gamma, self.config.prediction_type
            )
        return per_sample.mean()

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        steps: int | None = None,
        sampler: str | None = None,
        spacegroup: torch.Tensor | None = None,
        composition: torch.Tensor | None = None,
        guidance_scale: float = 1.0,
        generator: torch.Generator | None = None,
        progress: Callable[[int], None] | None = None,
        impute: Imputation | None = None,
    ) -> torch.Tensor:
        """Draw ``n`` tensors (n, 4, N, N). Conditions (if any) are (n,) space groups / (n, E) compositions.

        ``guidance_scale`` s mixes conditional and unconditional predictions (s = 1: conditional only).
        ``impute``: entries fixed by the request, enforced at every step (:mod:`.imputation`); works with
        or without learned conditions, also for an unconditional model.
        """
        device = next(self.parameters()).device
        steps = steps or self.config.sampling_steps
        x = torch.randn(n, CHANNELS, self.size, self.size, generator=generator, device=device)
        conditioned = spacegroup is not None or composition is not None
        if conditioned and self.condition is None:
            raise ValueError("this diffusion model was trained without conditioning; omit spacegroup/formula")
        if self.condition is None:
            net = lambda xt, t, est: self.predict(xt, t, x0_estimate=est)  # noqa: E731
        elif not conditioned:
            null = torch.zeros(n, dtype=torch.long, device=device)
            net = lambda xt, t, est: self.predict(xt, t, null, None, est)  # noqa: E731
        else:

            def net(xt: torch.Tensor, t: torch.Tensor, est: torch.Tensor | None) -> torch.Tensor:
                sg_c, comp_c = _batch_conditions(spacegroup, composition, n, self.cond_config, device)
                sg_u, comp_u = torch.zeros_like(sg_c), torch.zeros_like(comp_c)
                est2 = None if est is None else torch.cat([est, est])
                out = self.predict(
                    torch.cat([xt, xt]), t, torch.cat([sg_c, sg_u]), torch.cat([comp_c, comp_u]), est2
                )
                cond, uncond = out.chunk(2)
                return guided(cond, uncond, guidance_scale)

        previous: list[torch.Tensor] = []  # self-conditioning: the last step's clean-tensor estimate

        def fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out = net(xt, t, previous[-1] if previous else None)
            if self.config.self_condition:
                previous[:] = [self.clean_estimate(out, xt, t)]
            return out

        self.eval()
        return denoise(fn, make_sampler(self.config, sampler), x, steps, generator, progress, impute)


def _batch_conditions(
    spacegroup: torch.Tensor | None, composition: torch.Tensor | None, n: int, cfg: ConditioningConfig | None,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    n_el = cfg.n_elements if cfg is not None else 100
    sg = (
        torch.zeros(n, dtype=torch.long, device=device)
        if spacegroup is None
        else spacegroup.to(device).long()
    )
    comp = torch.zeros(n, n_el, device=device) if composition is None else composition.to(device).float()
    if sg.shape != (n,) or comp.shape != (n, n_el):
        raise ValueError(
            f"conditions must have shapes ({n},), ({n}, {n_el}); got {tuple(sg.shape)}, {tuple(comp.shape)}"
        )
    return sg, comp
