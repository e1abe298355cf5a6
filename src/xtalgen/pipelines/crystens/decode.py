"""Decode sampled CrysTens into candidates: symmetrise, decode in worker processes, add the diagnostics.

Each candidate's row carries the decoder's diagnostics, the self-consistency metrics of the model's raw
output (``var_length``, ``coord_agreement``, ...: before mirrored entries are averaged, as in the paper's
Tables 1 and 2), the same metrics of the symmetrised tensor that was decoded (``sym_*``) and
``asymmetry`` (mean |change| made by symmetrisation, normalised units).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.data.generation_folder import Candidate, write_generation
from xtalgen.models.crystens import asymmetry, symmetrise
from xtalgen.postprocess.sample_cleanup import CleanupOptions, clean_structure
from xtalgen.postprocess.volume import ElementVolumes
from xtalgen.representations.crystens import CrysTensConfig, DecodeOptions, consistency_metrics, decode
from xtalgen.representations.crystens.config import FIRST_ATOM


@lru_cache(maxsize=1)
def _volumes() -> ElementVolumes:
    return ElementVolumes.default()


def _decode_one(
    args: tuple[np.ndarray, np.ndarray, dict[str, Any], DecodeOptions, CleanupOptions | None, int | None],
) -> tuple[Any, dict[str, Any]]:
    sym, raw, ct_dict, options, cleanup, requested = args
    ct = CrysTensConfig.from_dict(ct_dict)
    result = decode(sym, ct, options)
    raw_metrics = {k: v for k, v in consistency_metrics(raw, ct).as_dict().items() if k != "n_atoms"}
    # the decoder's metrics describe the symmetrised tensor: keep them as sym_*, and give the plain
    # names (read by xtalgen.evaluation.consistency) to the raw output's metrics, as in the paper
    info = {(f"sym_{k}" if k in raw_metrics else k): v for k, v in result.row().items()}
    info.update(raw_metrics)
    structure = result.structure
    if structure is not None and cleanup is not None:
        target = requested if requested is not None else result.spacegroup_stated
        structure, steps = clean_structure(structure, cleanup, target, _volumes())
        info.update(steps)
    return structure, info


def tensor_writer(raw: np.ndarray) -> Callable[[Path], None]:
    """A writer that saves ``raw`` (float32) as ``tensors.npy`` in the folder it is called with."""

    def write(out: Path) -> None:
        from xtalgen.data.atomic import atomic_path

        with atomic_path(out / "tensors.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(raw, dtype=np.float32))

    return write


def decode_candidates(
    raw: np.ndarray,
    ct: CrysTensConfig,
    *,
    label: str,
    info: dict[str, Any] | None = None,
    per_sample: list[dict[str, Any]] | None = None,
    workers: int = 2,
    decode_options: DecodeOptions | None = None,
    cleanup: CleanupOptions | None = None,
    spacegroup: int | Sequence[int | None] | None = None,
    progress: bool = True,
) -> list[Candidate]:
    """Symmetrise and decode raw CrysTens (n, 4, N, N) into candidates (ids ``<label>-00000``...).

    ``per_sample``: extra columns for each sample's row (one dict per sample). ``cleanup``: the steps
    that make each decoded cell a crystal (:mod:`xtalgen.postprocess.sample_cleanup`; None: none), whose
    symmetry step prefers ``spacegroup`` (the requested group; a sequence: one per sample), else the group the
    tensor states.
    """
    center, thr = float(ct.difference.normalise(0.0)), ct.presence_threshold
    raw = np.asarray(raw, dtype=np.float32)
    raw_t = torch.from_numpy(raw)
    sym = symmetrise(raw_t, FIRST_ATOM, center=center, presence_threshold=thr).numpy()
    asym = asymmetry(raw_t, FIRST_ATOM, center=center, presence_threshold=thr).numpy()
    options = decode_options or DecodeOptions()
    groups = list(spacegroup) if isinstance(spacegroup, Sequence) else [spacegroup] * len(raw)
    if len(groups) != len(raw):
        raise ValueError(f"spacegroup: {len(groups)} groups given for {len(raw)} samples")
    jobs = [(sym[i], raw[i], ct.to_dict(), options, cleanup, groups[i]) for i in range(len(raw))]
    candidates = []
    for i, (structure, row) in enumerate(_run(jobs, workers, progress)):
        own = per_sample[i] if per_sample is not None else {}
        row = {"model": label, **(info or {}), **own, "asymmetry": float(asym[i]), **row}
        reason = str(row.pop("reason", "") or "")
        candidates.append(Candidate(f"{label}-{i:05d}", structure, row, structure is not None, reason))
    return candidates


def decode_to_generation(
    raw: np.ndarray,
    ct: CrysTensConfig,
    out_dir: str | Path,
    *,
    label: str,
    symprec: float = 0.1,
    save_tensors: bool = False,
    meta: dict[str, Any] | None = None,
    **decode_kwargs: Any,
) -> Path:
    """Decode raw CrysTens (:func:`decode_candidates`) and write them as a generation folder; return summary.csv.

    Also usable on encoded real tensors (the representation's own round trip, a reference row).
    """
    candidates = decode_candidates(raw, ct, label=label, **decode_kwargs)
    summary = write_generation(out_dir, candidates, symprec=symprec, meta=meta)
    if save_tensors:
        tensor_writer(raw)(Path(out_dir))
    return summary


def _run(jobs: list[Any], workers: int, progress: bool) -> list[tuple[Any, dict[str, Any]]]:
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("decoding", total=len(jobs))
        if workers <= 1 or len(jobs) < 4:
            out = []
            for job in jobs:
                out.append(_decode_one(job))
                bar.advance(task)
            return out
        import multiprocessing as mp

        # spawn: the parent has torch's thread pools initialised, which fork does not copy safely
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            out = []
            for res in pool.map(_decode_one, jobs, chunksize=max(1, len(jobs) // (8 * workers))):
                out.append(res)
                bar.advance(task)
            return out
