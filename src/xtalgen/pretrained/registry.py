"""The registry of pretrained models shipped with the package (``registry.json`` + ``models/<name>/``).

Layout of a registry folder (the package's own ``xtalgen/pretrained/`` by default; another one via the
``registry_dir`` argument or the ``XTALGEN_PRETRAINED_DIR`` environment variable, e.g. in tests)::

    registry.json               {"format_version": 1, "defaults": {kind: name}, "models": [entry, ...]}
    models/<name>/weights.safetensors   generation weights only (no optimiser state)
    models/<name>/state.json            checkpoint state (step, config, kind, ...): a loadable checkpoint folder
    models/<name>/config.yaml           the training config, human-readable
    models/<name>/conditions.csv        PGCGM: the training (space group, elements) table; CrysTens
                                        diffusion: (space group, formula) pairs for conditions=drawn
    models/<name>/training_structures.parquet   the structures the model was trained on, compact
                                        (:mod:`xtalgen.data.structure_table`): novelty reference without the dataset

Every file's sha256 and size are recorded in the entry and checked before a model is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xtalgen.data.atomic import atomic_write
from xtalgen.data.hashing import file_sha256
from xtalgen.data.versioned_json import read_versioned_json
from xtalgen.pipelines.families import get_family, trainable_kinds

REGISTRY_FILE = "registry.json"
MODELS_DIR = "models"
ENV_VAR = "XTALGEN_PRETRAINED_DIR"
TRAINING_STRUCTURES_FILE = "training_structures.parquet"
FORMAT_VERSION = 1


@dataclass
class PretrainedInfo:
    """One registry entry. Sizes in bytes; ``training_time_s`` in seconds (None when unknown).

    ``data``: what the model was trained on (``description``, ``file``, ``split``, ``filters``,
    ``n_materials``); ``metrics``: free-form evaluation figures (filled in when measured).
    """

    name: str
    kind: str
    version: str
    path: str
    files: dict[str, dict[str, Any]]
    sha256: str
    size_bytes: int
    config: str
    data: dict[str, Any]
    steps: int
    training_time_s: float | None
    date: str
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def size_mb(self) -> float:
        """Total size of the model's files, MB (10^6 bytes)."""
        return self.size_bytes / 1e6

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PretrainedInfo:
        known = set(cls.__dataclass_fields__)
        missing = [k for k in known if k not in raw and k not in ("metrics", "description")]
        if missing:
            raise ValueError(f"pretrained registry entry {raw.get('name')!r}: missing fields {sorted(missing)}")
        return cls(**{k: v for k, v in raw.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def registry_dir(root: str | Path | None = None) -> Path:
    """The registry folder: ``root`` if given, else ``$XTALGEN_PRETRAINED_DIR``, else the package's own."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(__file__).resolve().parent


def read_registry(root: str | Path | None = None) -> dict[str, Any]:
    """The raw registry dict (an empty registry when the folder has no ``registry.json`` yet); a one-line
    ValueError for a file that does not parse or is of a newer or unknown ``format_version``."""
    path = registry_dir(root) / REGISTRY_FILE
    if not path.is_file():
        return {"format_version": FORMAT_VERSION, "defaults": {}, "models": []}
    raw = read_versioned_json(path, "a pretrained registry", FORMAT_VERSION)
    if not isinstance(raw.get("models"), list):
        raise ValueError(f"pretrained registry {path}: expected an object with a 'models' list")
    raw.setdefault("defaults", {})
    return raw


def write_registry(raw: Mapping[str, Any], root: str | Path | None = None) -> Path:
    """Write the registry dict (atomic, sorted by name)."""
    path = registry_dir(root) / REGISTRY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    out = dict(raw)
    out["models"] = sorted(out["models"], key=lambda m: m["name"])
    with atomic_write(path) as fh:
        json.dump(out, fh, indent=2, sort_keys=False)
        fh.write("\n")
    return path


def list_pretrained(root: str | Path | None = None) -> list[PretrainedInfo]:
    """Every registered pretrained model, sorted by name."""
    return [PretrainedInfo.from_dict(m) for m in read_registry(root)["models"]]


def default_pretrained(kind: str, root: str | Path | None = None) -> str | None:
    """The name of the default pretrained model of ``kind`` (e.g. ``"pgcgm"``), None if none ships."""
    try:  # one family's lookup imports only that family where it can (get_family)
        trainable = get_family(kind).train is not None
    except ValueError:
        trainable = False
    if not trainable:
        raise ValueError(f"kind: must be one of {trainable_kinds()}, got {kind!r}")
    return read_registry(root)["defaults"].get(kind)


def pretrained_info(name: str, root: str | Path | None = None) -> PretrainedInfo:
    """The registry entry ``name``; ValueError listing the available names when unknown."""
    models = list_pretrained(root)
    for info in models:
        if info.name == name:
            return info
    available = ", ".join(m.name for m in models) or "none ship yet"
    raise ValueError(f"unknown pretrained model {name!r}; available: {available} (see `xtalgen models`)")


def verify_files(info: PretrainedInfo, root: str | Path | None = None) -> Path:
    """Check every file of ``info`` against its recorded size and sha256; return the model folder.

    Raises FileNotFoundError for a missing file and ValueError for a changed one.
    """
    folder = registry_dir(root) / info.path
    for fname, meta in info.files.items():
        path = folder / fname
        if not path.is_file():
            raise FileNotFoundError(f"pretrained model {info.name!r}: file {path} is missing (reinstall xtalgen)")
        size = path.stat().st_size
        digest = file_sha256(path)
        if size != meta["size"] or digest != meta["sha256"]:
            raise ValueError(
                f"pretrained model {info.name!r}: {fname} does not match the registry (sha256 {digest[:12]}..., "
                f"{size} bytes; recorded {meta['sha256'][:12]}..., {meta['size']} bytes): the file is damaged "
                "or was changed; reinstall xtalgen or package the model again"
            )
    return folder


def pretrained_checkpoint(name: str, root: str | Path | None = None, *, verify: bool = True) -> Path:
    """The checkpoint folder of pretrained model ``name`` (checked against its sha256 unless ``verify=False``).

    The folder loads with the generation pipelines (``checkpoint=`` of ``generate_pgcgm`` /
    ``generate_crystens``) like a training run's checkpoint.
    """
    info = pretrained_info(name, root)
    if verify:
        return verify_files(info, root)
    return registry_dir(root) / info.path


def resolve_pretrained(kind: str, name: str | None = None, root: str | Path | None = None) -> PretrainedInfo:
    """The model to use for ``kind``: ``name`` if given (its kind must match), else the kind's default.

    Raises ValueError when ``name`` is of another kind or no pretrained model of ``kind`` ships.
    """
    if name is not None:
        info = pretrained_info(name, root)
        if info.kind != kind:
            raise ValueError(f"pretrained model {name!r} is a {info.kind} model, not {kind}")
        return info
    default = default_pretrained(kind, root)
    if default is None:
        of_kind = [info.name for info in list_pretrained(root) if info.kind == kind]
        if of_kind:
            raise ValueError(f"no default pretrained {kind} model is set; choose one with --pretrained "
                             f"({', '.join(of_kind)})")  # fmt: skip
        raise ValueError(f"no pretrained {kind} model ships (see `xtalgen models`)")
    return pretrained_info(default, root)


def pretrained_training_structures(name: str, root: str | Path | None = None, *, verify: bool = True) -> Path:
    """The compact table of the structures pretrained model ``name`` was trained on (sha256-checked).

    Load it with :func:`xtalgen.data.structure_table.load_structure_table`, or pass the path as a
    training set to :func:`xtalgen.evaluation.runner.evaluate`. Raises FileNotFoundError when the
    model ships without one.
    """
    info = pretrained_info(name, root)
    if TRAINING_STRUCTURES_FILE not in info.files:
        raise FileNotFoundError(
            f"pretrained model {name!r} ships without its training structures ({TRAINING_STRUCTURES_FILE}); "
            "give the training set explicitly (--train)"
        )
    folder = verify_files(info, root) if verify else registry_dir(root) / info.path
    return folder / TRAINING_STRUCTURES_FILE
