"""Checkpoints: safetensors weights (modules + flattened optimiser states) + a JSON state file.

Layout under a run's ``checkpoints/`` folder::

    step_000000100/weights.safetensors   module.<name>.<param>, optimizer.<name>.state.<id>.<key>
    step_000000100/state.json            step, config, RNG states, sampler position, versions, ...
    latest                               text: the folder name of the newest complete checkpoint

Every file is written atomically; ``state.json`` is written after the weights and ``latest`` last, so
a checkpoint folder is complete iff its ``state.json`` exists. Older checkpoints beyond ``keep_last``
are removed.
"""

from __future__ import annotations

import base64
import json
import platform
import random
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from xtalgen.data.atomic import atomic_path, atomic_write
from xtalgen.data.versioned_json import read_versioned_json

CHECKPOINT_DIR = "checkpoints"
WEIGHTS_FILE = "weights.safetensors"
STATE_FILE = "state.json"
LATEST_FILE = "latest"
FORMAT_VERSION = 1


def unwrap(obj: Any) -> Any:
    """The plain module/optimizer inside a Fabric wrapper (or ``obj`` itself)."""
    from lightning.fabric.wrappers import _FabricModule, _FabricOptimizer

    if isinstance(obj, _FabricModule):
        return obj._original_module
    if isinstance(obj, _FabricOptimizer):
        return obj.optimizer
    return obj


def _check_name(kind: str, name: str) -> None:
    if not name or "." in name:
        raise ValueError(f"{kind} name {name!r}: must be non-empty and contain no '.'")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that determine numerics (recorded in every checkpoint)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "numpy", "lightning", "safetensors", "diffusers", "xtalgen"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# ----------------------------------------------------------------------------- RNG


def capture_rng_state() -> dict[str, Any]:
    """JSON-serialisable RNG states of python ``random``, numpy's global RNG and torch (CPU, CUDA)."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": list(py_state), "gauss_next": py_gauss},
        "numpy": {
            "name": np_name,
            "keys": np.asarray(np_keys, dtype=np.uint32).tolist(),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["torch_cuda"] = [
            base64.b64encode(s.numpy().tobytes()).decode("ascii") for s in torch.cuda.get_rng_state_all()
        ]
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]))
    nps = state["numpy"]
    np.random.set_state(
        (
            nps["name"],
            np.asarray(nps["keys"], dtype=np.uint32),
            nps["pos"],
            nps["has_gauss"],
            nps["cached_gaussian"],
        )
    )
    raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
    torch.set_rng_state(torch.from_numpy(raw))
    if "torch_cuda" in state and torch.cuda.is_available():
        cuda = [
            torch.from_numpy(np.frombuffer(base64.b64decode(s), dtype=np.uint8).copy())
            for s in state["torch_cuda"]
        ]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


# ----------------------------------------------------------------------------- flattening


def _jsonable(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    return v


def _flatten_optimizer(
    name: str, opt: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{name}.state.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = _jsonable(value)
    groups = []
    for gi, group in enumerate(sd["param_groups"]):
        g = {}
        for key, value in group.items():
            if torch.is_tensor(value):  # e.g. a tensor learning rate
                tensors[f"optimizer.{name}.group.{gi}.{key}"] = value
                g[key] = {"__tensor__": True}
            else:
                g[key] = _jsonable(value)
        groups.append(g)
    return tensors, {"param_groups": groups, "scalars": scalars, "class": type(opt).__name__}


def _unflatten_optimizer(name: str, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optimizer.{name}.state."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, sub = key[len(prefix) :].split(".", 1)
            state.setdefault(int(pid), {})[sub] = value
    for pid, subs in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(subs)
    groups = []
    for gi, group in enumerate(meta["param_groups"]):
        g = dict(group)
        for key, value in group.items():
            if isinstance(value, dict) and value.get("__tensor__"):
                g[key] = tensors[f"optimizer.{name}.group.{gi}.{key}"]
            elif key == "betas" and isinstance(value, list):
                g[key] = tuple(value)
        groups.append(g)
    return {"state": state, "param_groups": groups}


# ----------------------------------------------------------------------------- save / load


def _step_dirs(root: Path) -> list[Path]:
    dirs = [p for p in root.glob("step_*") if (p / STATE_FILE).is_file()]
    return sorted(dirs, key=lambda p: int(p.name.split("_")[1]))


def save_checkpoint(
    root: str | Path,
    step: int,
    modules: Mapping[str, torch.nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    *,
    config: Mapping[str, Any] | None = None,
    sampler: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    keep_last: int = 3,
) -> Path:
    """Write a checkpoint for ``step`` under ``root`` (a run's ``checkpoints/`` folder); return its folder.

    ``modules``/``optimizers`` may be Fabric-wrapped. ``extra`` must be JSON-serialisable.
    """
    root = Path(root)
    tensors: dict[str, torch.Tensor] = {}
    opt_meta: dict[str, Any] = {}
    for name, module in modules.items():
        _check_name("module", name)
        for key, value in unwrap(module).state_dict().items():
            tensors[f"module.{name}.{key}"] = value
    for name, opt in optimizers.items():
        _check_name("optimizer", name)
        t, meta = _flatten_optimizer(name, unwrap(opt))
        tensors.update(t)
        opt_meta[name] = meta
    # safetensors refuses shared storage and non-contiguous tensors: store independent CPU copies
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    folder = root / f"step_{step:09d}"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt", "step": str(step)})
    state = {
        "format_version": FORMAT_VERSION,
        "step": int(step),
        "modules": sorted(modules),
        "optimizers": opt_meta,
        "config": _jsonable(dict(config or {})),
        "sampler": _jsonable(dict(sampler or {})),
        "rng": capture_rng_state(),
        "versions": library_versions(),
        "extra": _jsonable(dict(extra or {})),
    }
    with atomic_write(folder / STATE_FILE) as fh:
        json.dump(state, fh)
    with atomic_write(root / LATEST_FILE) as fh:
        fh.write(folder.name + "\n")
    for old in _step_dirs(root)[:-keep_last] if keep_last > 0 else []:
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def find_checkpoint(path: str | Path) -> Path | None:
    """Resolve a run folder, its ``checkpoints/`` folder, a step folder or a ``latest`` file to a step folder.

    Returns None when there is no complete checkpoint yet.
    """
    p = Path(path)
    if p.is_file() and p.name == LATEST_FILE:
        p = p.parent
    if (p / STATE_FILE).is_file():
        return p
    if (p / CHECKPOINT_DIR).is_dir():
        p = p / CHECKPOINT_DIR
    latest = p / LATEST_FILE
    if latest.is_file():
        cand = p / latest.read_text().strip()
        if (cand / STATE_FILE).is_file():
            return cand
    dirs = _step_dirs(p) if p.is_dir() else []
    return dirs[-1] if dirs else None


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``state`` is the JSON file, ``tensors`` the flat safetensors content."""

    path: Path
    state: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @property
    def step(self) -> int:
        return int(self.state["step"])

    @property
    def config(self) -> dict[str, Any]:
        return self.state["config"]

    def module_state(self, name: str) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of module ``name``."""
        prefix = f"module.{name}."
        out = {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}
        if not out and name not in self.state.get("modules", []):
            raise KeyError(f"checkpoint {self.path}: no module {name!r} (has {self.state.get('modules')})")
        return out

    def optimizer_state(self, name: str) -> dict[str, Any]:
        """The ``state_dict`` of optimizer ``name``."""
        if name not in self.state["optimizers"]:
            raise KeyError(
                f"checkpoint {self.path}: no optimizer {name!r} (has {list(self.state['optimizers'])})"
            )
        return _unflatten_optimizer(name, self.tensors, self.state["optimizers"][name])

    def restore(
        self,
        modules: Mapping[str, torch.nn.Module],
        optimizers: Mapping[str, torch.optim.Optimizer] | None = None,
        *,
        rng: bool = False,
    ) -> None:
        """Load weights (strictly) into ``modules``, states into ``optimizers``, optionally the RNG states."""
        for name, module in modules.items():
            unwrap(module).load_state_dict(self.module_state(name), strict=True)
        for name, opt in (optimizers or {}).items():
            unwrap(opt).load_state_dict(self.optimizer_state(name))
        if rng:
            restore_rng_state(self.state["rng"])


def read_state(folder: str | Path) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint folder (without its weights); a one-line ValueError naming the
    file when it does not parse or is of a newer or unknown ``format_version``."""
    return read_versioned_json(Path(folder) / STATE_FILE, "a checkpoint state", FORMAT_VERSION)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint from a step folder, run folder or ``checkpoints/`` folder (follows ``latest``)."""
    folder = find_checkpoint(path)
    if folder is None:
        raise FileNotFoundError(f"no complete checkpoint found at {path}")
    state = read_state(folder)
    tensors = load_file(str(folder / WEIGHTS_FILE), device=str(map_location))
    return Checkpoint(path=folder, state=state, tensors=tensors)
