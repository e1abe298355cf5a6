"""Shared training machinery: typed configs, a Fabric loop with exact resume, checkpoints, logs."""

from xtalgen.pipelines.training.checkpoint import (
    Checkpoint,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from xtalgen.pipelines.training.config import (
    ConfigError,
    OptimizerConfig,
    TrainingConfig,
    config_to_dict,
    load_config,
    parse_overrides,
)
from xtalgen.pipelines.training.loop import TrainingTask, fit, make_fabric, seed_all
from xtalgen.pipelines.training.sampler import ArrayBatchSource, BatchSource, MapBatchSource, SeededSampler

__all__ = [
    "ArrayBatchSource",
    "BatchSource",
    "Checkpoint",
    "ConfigError",
    "MapBatchSource",
    "OptimizerConfig",
    "SeededSampler",
    "TrainingConfig",
    "TrainingTask",
    "config_to_dict",
    "find_checkpoint",
    "fit",
    "load_checkpoint",
    "load_config",
    "make_fabric",
    "parse_overrides",
    "save_checkpoint",
    "seed_all",
]
