"""Load a shipped pretrained model: the sampling network the generation pipelines use, ready to generate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from xtalgen.pretrained.registry import TRAINING_STRUCTURES_FILE, PretrainedInfo, pretrained_checkpoint, pretrained_info

if TYPE_CHECKING:
    from xtalgen.data.structure_table import StructureTable


@dataclass
class PretrainedModel:
    """A loaded pretrained model.

    ``module``: the network the pipelines sample from (PGCGM / GAN generator, or the EMA diffusion model;
    eval mode, CPU); ``config``: its training config; ``crystens``: the CrysTens encoding config
    (CrysTens kinds only); ``checkpoint``: the verified checkpoint folder.
    """

    info: PretrainedInfo
    checkpoint: Path
    module: torch.nn.Module
    config: Any
    crystens: Any = None

    @property
    def kind(self) -> str:
        return self.info.kind

    @classmethod
    def from_pretrained(cls, name: str, root: str | Path | None = None) -> PretrainedModel:
        """Same as :func:`load_pretrained`."""
        return load_pretrained(name, root)

    @property
    def training_structures_path(self) -> Path:
        """The shipped table of the structures the model was trained on (FileNotFoundError if none ships)."""
        if TRAINING_STRUCTURES_FILE not in self.info.files:
            raise FileNotFoundError(f"pretrained model {self.info.name!r} ships without its training structures")
        return self.checkpoint / TRAINING_STRUCTURES_FILE  # checked against its sha256 when the model was loaded

    def training_structures(self) -> StructureTable:
        """The structures the model was trained on (ids, formulas, ``structure(i)``), from the shipped table."""
        from xtalgen.data.structure_table import load_structure_table

        return load_structure_table(self.training_structures_path)

    def generate(self, n: int, out_dir: str | Path, **kwargs: Any) -> Path:
        """Generate ``n`` candidates into ``out_dir`` (CIFs + ``summary.csv``); return the summary path.

        ``kwargs``: ``seed``, ``workers``, ``progress``, ``spacegroup`` (a number or a list), ``elements``
        (element sets), ``formula``, ``meta``, and the family's sampling options (``--help-options``);
        ``sampling_steps`` is the CrysTens option ``steps``.
        """
        from xtalgen.pipelines.families import GenerationRequest
        from xtalgen.pipelines.generation import generate

        meta = {"pretrained": self.info.name, "pretrained_version": self.info.version, **kwargs.pop("meta", {})}
        sg = kwargs.pop("spacegroup", None)
        spacegroup = () if sg is None else tuple(int(s) for s in (sg if isinstance(sg, list | tuple) else [sg]))
        request = GenerationRequest(
            n, kwargs.pop("seed", 0), kwargs.pop("workers", 2), spacegroup,
            tuple(tuple(e) for e in kwargs.pop("elements", None) or ()), kwargs.pop("formula", None),
            checkpoint=self.checkpoint, progress=kwargs.pop("progress", True), meta=meta,
        )  # fmt: skip
        if "sampling_steps" in kwargs:
            kwargs["steps"] = kwargs.pop("sampling_steps")
        return generate(self.kind, request, out_dir, kwargs).summary


def load_pretrained(name: str, root: str | Path | None = None) -> PretrainedModel:
    """Load pretrained model ``name`` (files checked against their sha256 first).

    Raises ValueError for an unknown name (listing the available ones) or a damaged file.
    """
    from xtalgen.pipelines.families import get_family

    info = pretrained_info(name, root)
    folder = pretrained_checkpoint(name, root)
    family = get_family(info.kind)
    if family.load is None:
        raise ValueError(f"pretrained model {name!r}: model {info.kind} cannot be loaded")
    try:
        loaded = family.load(folder)
    except ValueError as exc:
        raise ValueError(f"pretrained model {name!r}: registry says {info.kind}; {exc}") from None
    return PretrainedModel(info, folder, loaded.module, loaded.config, loaded.representation)
