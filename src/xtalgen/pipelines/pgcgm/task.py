"""PGCGM training configuration and the WGAN-GP + physics-loss step, as a :class:`TrainingTask`.

One loop step = one critic update (WGAN-GP, penalty weight 10) on a fresh minibatch; every
``n_critic``-th step also updates the generator on the same minibatch with
``-E[D(G(z))] + physics terms``. Physics terms and the adversarial term share one generator optimizer
(the seed gives both the learning rate 5e-4). Adam betas (0.5, 0.9) for both networks, as usual for
WGAN-GP (Gulrajani et al. 2017); the seed does not state them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from xtalgen.models.pgcgm import (
    Conditions,
    PGCGMCritic,
    PGCGMGenerator,
    PhysicsLossConfig,
    critic_loss,
    critic_scores_and_penalty,
    generator_adversarial_loss,
    physics_loss_terms,
)
from xtalgen.models.pgcgm.conditions import SITE_FEATURES, site_symmetry_features
from xtalgen.pipelines.training import ConfigError, OptimizerConfig, TrainingConfig
from xtalgen.representations.basesites.symops import ops_table
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays

GEN_METRICS = ("g_adv", "inter", "intra", "volume", "abc", "physics", "g_total")


@dataclass
class PGCGMModelConfig:
    """Network sizes. ``n_sites`` K and ``n_sets`` S must match the training arrays.

    ``wyckoff_features``: condition each base site on its Wyckoff multiplicity as well as its element
    (the general model; :func:`xtalgen.models.pgcgm.conditions.site_symmetry_features`); off for the
    paper's ternary model.
    """

    n_sites: int = 3
    n_sets: int = 3
    noise_dim: int = 64
    hidden: int = 256
    n_layers: int = 3
    ops_hidden: int = 64
    angle_span: float = 50.0
    coord_activation: str = "sigmoid"
    coord_harmonics: int = 1
    wyckoff_features: bool = False

    @property
    def site_dim(self) -> int:
        """Wyckoff features per base site the networks take (0 without ``wyckoff_features``)."""
        return SITE_FEATURES if self.wyckoff_features else 0

    def validate(self) -> None:
        for name in ("n_sites", "n_sets", "noise_dim", "hidden", "n_layers", "ops_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0 < self.angle_span < 90:
            raise ConfigError(f"angle_span: must be in (0, 90) degrees, got {self.angle_span}")
        if self.coord_activation not in ("sigmoid", "periodic"):
            raise ConfigError(f"coord_activation: must be sigmoid or periodic, got {self.coord_activation!r}")
        if self.coord_harmonics < 1:
            raise ConfigError(f"coord_harmonics: must be >= 1, got {self.coord_harmonics}")


@dataclass
class PGCGMDataConfig:
    """Which materials of a prepared dataset are used and how they are augmented.

    Empty ``nelements`` / ``n_base_sites`` lists mean "no filter"; ``max_materials`` 0 = all.
    """

    split: str = "train"
    nelements: list[int] = field(default_factory=lambda: [3])
    n_base_sites: list[int] = field(default_factory=lambda: [3])
    max_materials: int = 0
    n_augment: int = 32
    symprec: float = 0.1

    def validate(self) -> None:
        if self.split not in ("train", "val", "test", "all"):
            raise ConfigError(f"split: must be train, val, test or all, got {self.split!r}")
        if self.n_augment < 1:
            raise ConfigError(f"n_augment: must be >= 1, got {self.n_augment}")
        if self.max_materials < 0:
            raise ConfigError(f"max_materials: must be >= 0, got {self.max_materials}")
        if self.symprec <= 0:
            raise ConfigError(f"symprec: must be > 0, got {self.symprec}")


def _adam(lr: float) -> OptimizerConfig:
    return OptimizerConfig(name="adam", lr=lr, betas=(0.5, 0.9))


@dataclass
class PGCGMConfig(TrainingConfig):
    """Everything a PGCGM training run needs (learning rates and loss weights from the seed).

    ``torch_threads`` > 0 sets torch's intra-op thread count for the run (1 is fastest for the small
    CPU models on a shared machine); 0 leaves torch's default. ``matmul_tf32``: let float32 matrix
    products use TensorFloat-32 on GPUs that have it (``torch.set_float32_matmul_precision("high")``);
    unlike bf16 autocast it keeps the generated coordinates in float32.
    """

    model: PGCGMModelConfig = field(default_factory=PGCGMModelConfig)
    data: PGCGMDataConfig = field(default_factory=PGCGMDataConfig)
    physics: PhysicsLossConfig = field(default_factory=PhysicsLossConfig)
    critic_optimizer: OptimizerConfig = field(default_factory=lambda: _adam(2e-4))
    generator_optimizer: OptimizerConfig = field(default_factory=lambda: _adam(5e-4))
    n_critic: int = 5
    gp_weight: float = 10.0
    torch_threads: int = 0
    matmul_tf32: bool = False

    def validate(self) -> None:
        super().validate()
        if self.torch_threads < 0:
            raise ConfigError(f"torch_threads: must be >= 0 (0 = torch default), got {self.torch_threads}")
        if self.n_critic < 1:
            raise ConfigError(f"n_critic: must be >= 1, got {self.n_critic}")
        if self.gp_weight < 0:
            raise ConfigError(f"gp_weight: must be >= 0, got {self.gp_weight}")


def lattice_stats(arrays: BaseSiteArrays) -> tuple[float, float]:
    """Mean and standard deviation of ln(length / Å) over all a, b, c of the training samples."""
    logs = np.log(arrays.lattice[:, :3].astype(np.float64))
    return float(logs.mean()), float(max(logs.std(), 1e-3))


def build_networks(
    model: PGCGMModelConfig, stats: tuple[float, float] = (1.5, 0.4), element_dim: int = 23
) -> tuple[PGCGMGenerator, PGCGMCritic]:
    """Generator and critic for ``model`` with log-length statistics ``stats`` (mean, std)."""
    common = dict(
        n_sites=model.n_sites, n_sets=model.n_sets, hidden=model.hidden, n_layers=model.n_layers,
        element_dim=element_dim, ops_hidden=model.ops_hidden,
        log_length_mean=stats[0], log_length_std=stats[1], site_dim=model.site_dim,
    )  # fmt: skip
    gen = PGCGMGenerator(noise_dim=model.noise_dim, angle_span=model.angle_span,
                         coord_activation=model.coord_activation, **common)  # fmt: skip
    return gen, PGCGMCritic(coord_harmonics=model.coord_harmonics, **common)


class BaseSiteBatches:
    """:class:`BatchSource` over :class:`BaseSiteArrays`: each batch is a dict of tensors."""

    def __init__(self, arrays: BaseSiteArrays) -> None:
        if len(arrays) == 0:
            raise ValueError("no training samples")
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays)

    def get_batch(self, indices: np.ndarray) -> dict[str, torch.Tensor]:
        a = self.arrays
        return {
            "coords": torch.from_numpy(a.coords[indices]),
            "lattice": torch.from_numpy(a.lattice[indices]),
            "element_features": torch.from_numpy(a.element_features[indices]),
            "site_mask": torch.from_numpy(a.site_mask[indices]),
            "element_z": torch.from_numpy(a.element_z[indices]),
            "radii": torch.from_numpy(a.radii[indices]),
            "spacegroup": torch.from_numpy(a.spacegroup[indices]),
            "crystal_system": torch.from_numpy(a.crystal_system[indices]),
            "multiplicity": torch.from_numpy(a.multiplicity[indices]),
        }


class OpsLookup:
    """Space-group number -> padded ops (192, 4, 4) and mask, as tensors on one device."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        ops, mask = ops_table()
        self.ops = torch.tensor(np.asarray(ops), device=device)
        self.mask = torch.tensor(np.asarray(mask), device=device)

    def conditions(
        self, spacegroup: torch.Tensor, element_features: torch.Tensor, site_mask: torch.Tensor,
        crystal_system: torch.Tensor, multiplicity: torch.Tensor | None = None,
    ) -> Conditions:  # fmt: skip
        """Conditions of a batch; with ``multiplicity`` (M, K) also the per-site Wyckoff features."""
        sg = spacegroup.long().to(self.ops.device)
        mask = self.mask[sg]
        site = None
        if multiplicity is not None:
            site = site_symmetry_features(multiplicity.to(self.ops.device), mask.sum(1))
        return Conditions(
            element_features.float(), site_mask.bool(), self.ops[sg], mask, crystal_system,
            group_id=sg, site_features=site,
        )


class PGCGMTask:
    """WGAN-GP with physics losses for the generic Fabric loop (``xtalgen.pipelines.training.fit``)."""

    def __init__(self, config: PGCGMConfig, stats: tuple[float, float], element_dim: int = 23) -> None:
        self.config = config
        self.stats = stats
        self.element_dim = element_dim
        self.last_gen: dict[str, float] = {k: math.nan for k in GEN_METRICS}

    # --- TrainingTask protocol --------------------------------------------------------------
    def setup(self, fabric: Any) -> None:
        self.fabric = fabric
        if self.config.matmul_tf32:
            torch.set_float32_matmul_precision("high")
        gen, critic = build_networks(self.config.model, self.stats, self.element_dim)
        opt_g = self.config.generator_optimizer.build(gen.parameters())
        opt_c = self.config.critic_optimizer.build(critic.parameters())
        self.generator, self.opt_g = fabric.setup(gen, opt_g)
        self.critic, self.opt_c = fabric.setup(critic, opt_c)
        self.lookup = OpsLookup(fabric.device)

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "critic": self.critic}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "critic": self.opt_c}

    def extra_state(self) -> dict[str, Any]:
        return {"last_generator_metrics": dict(self.last_gen), "lattice_stats": list(self.stats)}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.last_gen.update(state.get("last_generator_metrics", {}))

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, float]:
        cfg = self.config
        cond = self.lookup.conditions(
            batch["spacegroup"], batch["element_features"], batch["site_mask"], batch["crystal_system"],
            batch["multiplicity"] if cfg.model.wyckoff_features else None,
        )
        real_coords, real_lat = batch["coords"].float(), batch["lattice"].float()
        m = real_coords.shape[0]
        scaler = self.critic.scaler

        # --- critic update ---
        with torch.no_grad():
            noise = self.generator.sample_noise(m, device=real_coords.device)
            fake_coords, fake_lat = self.generator(noise, cond)
        real_feat, fake_feat = scaler.encode(real_lat), scaler.encode(fake_lat)
        d_real, d_fake, gp = critic_scores_and_penalty(
            self.critic, (real_coords, real_feat), (fake_coords, fake_feat), cond
        )
        loss_c = critic_loss(d_real, d_fake) + cfg.gp_weight * gp
        self.opt_c.zero_grad(set_to_none=True)
        self.fabric.backward(loss_c)
        self.opt_c.step()
        metrics = {
            "critic_loss": float(loss_c.detach()),
            "w_dist": float((d_real.mean() - d_fake.mean()).detach()),
            "gp": float(gp.detach()),
        }

        # --- generator update every n_critic steps ---
        if (step + 1) % cfg.n_critic == 0:
            self._generator_step(cond, batch, real_lat)
        metrics.update(self.last_gen)
        return metrics

    def _generator_step(
        self, cond: Conditions, batch: dict[str, torch.Tensor], real_lat: torch.Tensor
    ) -> None:
        cfg = self.config
        self.critic.requires_grad_(False)
        try:
            m = real_lat.shape[0]
            coords, lat = self.generator(self.generator.sample_noise(m, device=real_lat.device), cond)
            adv = generator_adversarial_loss(self.critic(coords, self.critic.scaler.encode(lat), cond))
            total = adv
            terms: dict[str, torch.Tensor] = {}
            if cfg.physics.any_enabled:
                terms = physics_loss_terms(
                    cfg.physics, coords, lat, real_lat, batch["radii"].float(), batch["element_z"],
                    cond.site_mask, cond.ops, cond.ops_mask,
                )  # fmt: skip
                total = total + terms["total"]
            self.opt_g.zero_grad(set_to_none=True)
            self.fabric.backward(total)
            self.opt_g.step()
        finally:
            self.critic.requires_grad_(True)
        out = {k: math.nan for k in GEN_METRICS}
        out.update({k: float(v.detach()) for k, v in terms.items() if k != "total"})
        out["physics"] = float(terms["total"].detach()) if terms else 0.0
        out["g_adv"], out["g_total"] = float(adv.detach()), float(total.detach())
        self.last_gen = out
