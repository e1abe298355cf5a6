"""PGCGM: physics-guided crystal generative model (a conditional WGAN-GP over base atom sites).

Torch modules and loss functions only; data preparation lives in ``xtalgen.representations.basesites``
and training/generation in ``xtalgen.pipelines.pgcgm`` (train, sample).
"""

from xtalgen.data.crystal_systems import CRYSTAL_SYSTEMS
from xtalgen.models.pgcgm.conditions import ConditionEncoder, Conditions, OpsEncoder
from xtalgen.models.pgcgm.critic import PGCGMCritic
from xtalgen.models.pgcgm.expansion import expand_base_sites, periodic_distance, to_cartesian
from xtalgen.models.pgcgm.generator import PGCGMGenerator
from xtalgen.models.pgcgm.lattice import (
    LatticeScaler,
    cell_volume,
    constrain_lattice,
    lattice_matrix,
)
from xtalgen.models.pgcgm.physics_losses import (
    PhysicsLossConfig,
    box_losses,
    distance_losses,
    overlap_penalty,
    physics_loss_terms,
)
from xtalgen.models.pgcgm.wgan import (
    critic_loss,
    critic_scores_and_penalty,
    generator_adversarial_loss,
    gradient_penalty,
)

__all__ = [
    "CRYSTAL_SYSTEMS", "ConditionEncoder", "Conditions", "LatticeScaler", "OpsEncoder", "PGCGMCritic",
    "PGCGMGenerator", "PhysicsLossConfig", "box_losses", "cell_volume", "constrain_lattice",
    "critic_loss", "critic_scores_and_penalty", "distance_losses", "expand_base_sites",
    "generator_adversarial_loss",
    "gradient_penalty", "lattice_matrix", "overlap_penalty", "periodic_distance",
    "physics_loss_terms", "to_cartesian",
]
