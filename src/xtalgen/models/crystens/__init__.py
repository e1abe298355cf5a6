"""CrysTens generative models (torch only): GAN, WGAN-GP, (conditional) diffusion, EMA, symmetrisation.

Training and generation live in ``xtalgen.pipelines.crystens`` (train, sample).
"""

from xtalgen.models.crystens.conditioning import (
    ConditionEncoder,
    ConditioningConfig,
    composition_fractions,
    drop_conditions,
    guided,
)
from xtalgen.models.crystens.diffusion import (
    CrysTensDiffusion,
    DiffusionConfig,
    build_unet,
    denoise,
    make_sampler,
    make_scheduler,
)
from xtalgen.models.crystens.ema import EMA
from xtalgen.models.crystens.gan import (
    CrysTensDiscriminator,
    CrysTensGenerator,
    GANConfig,
    build_gan,
    discriminator_loss,
)
from xtalgen.models.crystens.imputation import Imputation
from xtalgen.models.crystens.mirror_average import asymmetry, symmetrise
from xtalgen.models.crystens.occupancy_lock import OccupancyLock
from xtalgen.models.crystens.wgan import WGANConfig, build_wgan, critic_loss, gradient_penalty, interpolate

__all__ = [
    "EMA",
    "ConditionEncoder",
    "ConditioningConfig",
    "CrysTensDiffusion",
    "CrysTensDiscriminator",
    "CrysTensGenerator",
    "DiffusionConfig",
    "GANConfig",
    "Imputation",
    "OccupancyLock",
    "WGANConfig",
    "asymmetry",
    "build_gan",
    "build_unet",
    "build_wgan",
    "composition_fractions",
    "critic_loss",
    "denoise",
    "discriminator_loss",
    "drop_conditions",
    "gradient_penalty",
    "guided",
    "interpolate",
    "make_sampler",
    "make_scheduler",
    "symmetrise",
]
