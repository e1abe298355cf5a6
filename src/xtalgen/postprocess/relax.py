"""Relax structures with the CHGNet universal potential and record their energies (eV/atom).

CHGNet (Deng et al., Nat. Mach. Intell. 2023) ships its weights inside the ``chgnet`` package, so this
works offline. Relaxation: FIRE with the cell free (Fréchet cell filter), at most ``steps`` steps, stopping
when every force is below ``fmax`` (eV/Å). Two engines give the same relaxation: ``"batched"`` (the
default for CHGNet) steps many structures together with one CHGNet pass per step
(:mod:`xtalgen.postprocess.batched_fire`), ``"ase"`` relaxes one structure at a time with CHGNet's
``StructOptimizer`` (ASE's ``FIRE`` on ``FrechetCellFilter``); the energy recorded is CHGNet's energy of the
final structure. Results are appended to a JSON-lines file as each structure finishes, so an interrupted
run resumes without redoing finished structures.

Reference energies for convex hulls (:meth:`CHGNetEnergyModel.energies`) are by default *static*
CHGNet energies of the given (DFT-relaxed, e.g. Materials Project) structures: fast, and close to the
CHGNet minimum because CHGNet was trained on those relaxations. Since generated samples are relaxed
with CHGNet but references are not, hull energies are biased slightly low (references sit a little
above their CHGNet minimum); pass ``relax_references=True`` to relax references too.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing as mp
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.data.json_values import json_ready

#: CHGNet model version used by default (trained on MPtrj, PBE/PBE+U energies).
DEFAULT_MODEL = "0.3.0"

#: ASE filter that lets the cell relax with the atoms (CHGNet's default since 0.3).
CELL_FILTER = "FrechetCellFilter"
#: Relaxation engines: many structures per CHGNet pass (our FIRE), or one at a time (ASE's FIRE).
ENGINES = ("batched", "ase")
#: Structures stepped together by the batched engine on a CPU (larger batches pay off on a GPU).
BATCH_SIZE = 8

_MODEL: dict[str, Any] = {}


def chgnet_model(name: str = DEFAULT_MODEL, device: str = "cpu") -> Any:
    """The CHGNet model, loaded once per process and device (``cpu`` or ``cuda``).

    Its graph converter always refuses structures with an isolated atom (no neighbour within
    CHGNet's 6 Å cutoff): CHGNet's ASE calculator switches the shared converter to "warn" when a
    relaxation starts, which would make later static energies of such structures silently succeed.
    """
    key = name if device == "cpu" else f"{name}@{device}"
    if key not in _MODEL:
        from chgnet.model import CHGNet

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # "CHGNet ... initialized"
            warnings.simplefilter("ignore")
            _MODEL[key] = CHGNet.load(model_name=name, use_device=device, verbose=False)
    model = _MODEL[key]
    model.graph_converter.set_isolated_atom_response("error")
    return model


def _as_structure(payload: Structure | str | dict[str, Any]) -> Structure:
    if isinstance(payload, Structure):
        return payload
    if isinstance(payload, dict):
        return Structure.from_dict(payload)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(payload, fmt="cif")


def displacement_rmsd(initial: Structure, final: Structure) -> float:
    """Root-mean-square atomic displacement (Å) between two versions of the same structure.

    Fractional displacements are wrapped to the nearest image, converted with the final lattice,
    and the net translation is removed. Sites must be in the same order (relaxation keeps it).
    """
    if len(initial) != len(final):
        raise ValueError(f"cannot compare structures with {len(initial)} and {len(final)} sites")
    dfrac = final.frac_coords - initial.frac_coords
    dfrac -= np.round(dfrac)
    dcart = dfrac @ final.lattice.matrix
    dcart -= dcart.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum(dcart**2, axis=1))))


def static_energy(structure: Structure, model_name: str = DEFAULT_MODEL, device: str = "cpu") -> tuple[float, float]:
    """(CHGNet energy in eV/atom, largest force in eV/Å) of a structure as given."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = chgnet_model(model_name, device).predict_structure(structure, task="ef")
    return float(pred["e"]), float(np.max(np.linalg.norm(pred["f"], axis=1)))


def relax_structure(
    structure: Structure, *, steps: int = 200, fmax: float = 0.1, model_name: str = DEFAULT_MODEL, device: str = "cpu"
) -> dict[str, Any]:
    """Relax one structure (FIRE, cell free); return energies (eV/atom), RMSD (Å), steps and the result.

    Keys: ``energy_per_atom``, ``initial_energy_per_atom``, ``max_force`` (eV/Å), ``converged``
    (max force ≤ fmax), ``steps``, ``rmsd``, ``volume_change`` (relative), ``structure`` (dict).
    """
    from chgnet.model import StructOptimizer

    e0, _ = static_energy(structure, model_name, device)
    with contextlib.redirect_stdout(io.StringIO()):  # "CHGNet will run on cpu", once per structure
        optimizer = StructOptimizer(
            model=chgnet_model(model_name, device), optimizer_class="FIRE", use_device=device,
            on_isolated_atoms="error",
        )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = optimizer.relax(
            structure, fmax=fmax, steps=steps, relax_cell=True, ase_filter=CELL_FILTER, verbose=False
        )
    final: Structure = result["final_structure"]
    energy, max_force = static_energy(final, model_name, device)
    steps_taken = max(len(result["trajectory"].energies) - 1, 0)
    return relaxation_record(structure, final, e0, energy, max_force, fmax=fmax, steps=steps_taken)


def relaxation_record(
    initial: Structure, final: Structure, e0: float, energy: float, max_force: float, *, fmax: float, steps: int
) -> dict[str, Any]:
    """The record every potential's ``relax_structure`` returns: energies (eV/atom) before and after,
    largest final force (eV/Å), converged (≤ ``fmax``), FIRE steps taken, RMSD (Å), relative volume change
    and the final structure (dict)."""
    return {
        "energy_per_atom": energy,
        "initial_energy_per_atom": e0,
        "max_force": max_force,
        "converged": bool(max_force <= fmax),
        "steps": int(steps),
        "rmsd": displacement_rmsd(initial, final),
        "volume_change": float(final.volume / initial.volume - 1.0),
        "structure": final.as_dict(),
    }


def relax_job(
    payload: Any, relax: Callable[..., dict[str, Any]], steps: int, fmax: float, model_name: str
) -> dict[str, Any]:
    """Worker job: relax one structure (or CIF text / dict) with the potential's ``relax`` function."""
    return relax(_as_structure(payload), steps=steps, fmax=fmax, model_name=model_name)


def energy_job(
    payload: Any, relax: Callable[..., dict[str, Any]], static: Callable[..., tuple[float, float]] | None,
    steps: int, fmax: float, model_name: str,
) -> dict[str, Any]:  # fmt: skip
    """Worker job: a reference energy (eV/atom) with its formula; relaxed when ``static`` is None."""
    structure = _as_structure(payload)
    if static is None:
        energy = relax(structure, steps=steps, fmax=fmax, model_name=model_name)["energy_per_atom"]
    else:
        energy, _ = static(structure, model_name)
    return {"energy_per_atom": energy, "formula": structure.composition.formula}


def relax_many(
    items: Iterable[tuple[str, Any]],
    *,
    steps: int = 200,
    fmax: float = 0.1,
    model_name: str = DEFAULT_MODEL,
    device: str = "cpu",
    batch_size: int = BATCH_SIZE,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Relax each ``(key, structure or CIF text or dict)`` with the batched engine; yield ``(key, record)`` as
    each finishes. Records carry the keys of :func:`relax_structure` (``steps``: FIRE steps taken) or
    ``error``."""
    from xtalgen.postprocess.batched_fire import relax_batched
    from xtalgen.postprocess.chgnet_forces import chgnet_batch_forces

    failed: list[tuple[str, str]] = []

    def parsed() -> Iterator[tuple[str, Structure]]:
        for key, payload in items:
            try:
                yield key, _as_structure(payload)
            except Exception as exc:
                failed.append((key, f"{type(exc).__name__}: {exc}"[:300]))

    forces = chgnet_batch_forces(chgnet_model(model_name, device))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for out in relax_batched(parsed(), forces, steps=steps, fmax=fmax, batch_size=batch_size):
            while failed:
                key, error = failed.pop()
                yield key, {"error": error}
            if out.error is not None or out.final is None:
                yield str(out.key), {"error": out.error or "no result"}
                continue
            record = {
                "energy_per_atom": out.energy_per_atom,
                "initial_energy_per_atom": out.initial_energy_per_atom,
                "max_force": out.max_force,
                "converged": bool(out.max_force <= fmax),
                "steps": out.steps,
                "rmsd": displacement_rmsd(out.initial, out.final),
                "volume_change": float(out.final.volume / out.initial.volume - 1.0),
                "structure": out.final.as_dict(),
            }
            yield str(out.key), record
    for key, error in failed:
        yield key, {"error": error}


# --- resumable JSON-lines store and a small process pool ------------------------------------------
def read_jsonl(path: Path | None) -> dict[str, dict[str, Any]]:
    """Finished records by ``id`` from a JSON-lines file (a cut-off last line is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    if path is None or not path.is_file():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                done[str(row["id"])] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.filterwarnings("ignore")
    import scipy.linalg  # noqa: F401 - load scipy's BLAS now so that the limit below applies to it
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    # ASE's Fréchet cell filter does many 3x3 scipy solves; with a multi-threaded BLAS on a busy
    # machine each one costs milliseconds, which made relaxations ~7x slower.
    threadpool_limits(1)


@contextmanager
def _progress(description: str, total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    if not enabled or total == 0:
        yield lambda: None
        return
    from xtalgen.progress import progress_bar

    with progress_bar(description) as prog:
        task = prog.add_task(description, total=total)
        yield lambda: prog.advance(task)


def _safe(func: Callable[[Any], dict[str, Any]], key: str, payload: Any) -> dict[str, Any]:
    try:
        out = func(payload)
    except Exception as exc:  # one failing structure is recorded, the run goes on
        out = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"id": key, **{k: json_ready(v) for k, v in out.items()}}


#: Runs a job on many ``(id, payload)`` items at once; yields ``(id, record)`` as each finishes, in any order.
ManyJob = Callable[[Sequence[tuple[str, Any]]], Iterable[tuple[str, dict[str, Any]]]]


def _safe_many(many: ManyJob, chunk: Sequence[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows of ``many`` on ``chunk``; if it fails as a whole, an error row for each id it had not finished."""
    left = dict(chunk)
    error = "no result"
    try:
        for key, out in many(chunk):
            if key in left:
                del left[key]
                yield {"id": key, **{k: json_ready(v) for k, v in out.items()}}
    except Exception as exc:  # e.g. the model failed to load: every unfinished id is recorded as failed
        error = f"{type(exc).__name__}: {exc}"[:300]
    for key in left:
        yield {"id": key, "error": error}


def _safe_many_list(many: ManyJob, chunk: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    return list(_safe_many(many, chunk))


def run_resumable(
    func: Callable[[Any], dict[str, Any]],
    items: Sequence[tuple[str, Any]],
    cache_path: str | Path | None,
    *,
    workers: int = 1,
    description: str = "CHGNet",
    progress: bool = True,
    item_meta: Mapping[str, Mapping[str, Any]] | None = None,
    many: ManyJob | None = None,
    chunk_size: int = 32,
) -> dict[str, dict[str, Any]]:
    """Run ``func`` on each ``(id, payload)`` not yet in ``cache_path``; append one JSON line per result.

    ``item_meta``: fields stored with each id's record (e.g. a content hash and the settings); a recorded
    result is reused only when its stored fields equal them, otherwise the id is run again and its new
    record (the last line of that id) replaces the old one. Returns every requested id's record.
    Workers are spawned processes with one torch thread each.
    ``many``: a job that takes many items at once (e.g. a batched relaxation) used instead of ``func``: in this
    process it gets every item at once, in workers ``chunk_size`` items per task.
    """
    path = Path(cache_path) if cache_path is not None else None
    done = read_jsonl(path)
    meta = {k: dict(v) for k, v in (item_meta or {}).items()}
    for key, fields in meta.items():
        if key in done and any(done[key].get(f) != v for f, v in fields.items()):
            del done[key]
    todo = [(k, p) for k, p in dict(items).items() if k not in done]
    fh = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the whole run

    def record(row: dict[str, Any]) -> None:
        row.update(meta.get(row["id"], {}))
        done[row["id"]] = row
        if fh is not None:
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
            fh.flush()

    try:
        with _progress(description, len(todo), progress) as advance:
            if workers <= 1 or len(todo) <= 1:
                import scipy.linalg  # noqa: F401 - load scipy's BLAS before limiting its threads
                import torch
                from threadpoolctl import threadpool_limits

                threads = torch.get_num_threads()
                torch.set_num_threads(1)  # one thread is faster than two on a shared 2-core machine
                try:
                    with threadpool_limits(1):  # see _init_worker
                        rows = (_safe(func, k, p) for k, p in todo) if many is None else _safe_many(many, todo)
                        for row in rows:
                            record(row)
                            advance()
                finally:
                    torch.set_num_threads(threads)
            elif many is not None:
                ctx = mp.get_context("spawn")
                chunks = [todo[i : i + max(chunk_size, 1)] for i in range(0, len(todo), max(chunk_size, 1))]
                with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
                    futures = [pool.submit(_safe_many_list, many, chunk) for chunk in chunks]
                    for fut in as_completed(futures):
                        for row in fut.result():
                            record(row)
                            advance()
            else:
                ctx = mp.get_context("spawn")
                with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
                    queue = iter(todo)
                    pending = set()
                    for key, payload in queue:
                        pending.add(pool.submit(_safe, func, key, payload))
                        if len(pending) >= 2 * workers:
                            break
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            record(fut.result())
                            advance()
                            nxt = next(queue, None)
                            if nxt is not None:
                                pending.add(pool.submit(_safe, func, *nxt))
    finally:
        if fh is not None:
            fh.close()
    return {k: done[k] for k, _ in items}


class FireEnergyModel:
    """FIRE relaxations (cell free) of samples and energies of reference structures with one ML potential,
    both cached on disk. Implements the energy-model interface of :mod:`xtalgen.evaluation.stability`.

    A potential subclasses it with its ``potential`` name, display ``label``, ``default_model``, its two
    module-level functions (``relax_structure``, ``static_energy``) that the worker processes run, and its
    relaxation ``engines`` (the first is the default): ``"ase"`` runs ``relax_structure`` per structure,
    ``"batched"`` runs ``relax_many`` (many structures per potential call; ``device`` and ``batch_size`` apply
    to it only).
    """

    potential: str
    label: str
    default_model: str
    relax_structure: Callable[..., dict[str, Any]]
    static_energy: Callable[..., tuple[float, float]]
    engines: tuple[str, ...] = ("ase",)
    relax_many: Callable[..., Iterator[tuple[str, dict[str, Any]]]] | None = None

    def __init__(
        self,
        steps: int = 200,
        fmax: float = 0.1,
        relax_references: bool = False,
        model_name: str | None = None,
        *,
        engine: str | None = None,
        device: str = "cpu",
        batch_size: int = BATCH_SIZE,
    ) -> None:
        if steps < 0 or fmax <= 0:
            raise ValueError(f"steps must be ≥ 0 and fmax > 0, got steps={steps}, fmax={fmax}")
        engine = engine or self.engines[0]
        if engine not in self.engines:
            raise ValueError(f"engine {engine!r}: {self.label} relaxes with {' or '.join(self.engines)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.steps, self.fmax = steps, fmax
        self.relax_references = relax_references
        self.model_name = model_name or self.default_model
        self.engine, self.device, self.batch_size = engine, device, batch_size
        self.name = f"{self.label} {self.model_name} (FIRE, ≤{steps} steps, fmax {fmax} eV/Å)"

    @property
    def relax_tag(self) -> str:
        """Identifies the relaxation settings (part of the relaxation cache file name)."""
        tag = f"{self.potential}-{self.model_name}-fire{self.steps}-{self.fmax}"
        return tag if self.engine == "ase" else f"{tag}-{self.engine}"

    @property
    def relax_settings(self) -> dict[str, Any]:
        """Every setting that changes a relaxation's result (part of ``xtalgen relax``'s resume key); no
        ``engine`` key means the per-structure ASE engine (records written before engines existed)."""
        settings = {"potential": self.potential, "model": self.model_name, "optimizer": "FIRE", "steps": self.steps,
                    "fmax": self.fmax, "cell_filter": CELL_FILTER}  # fmt: skip
        return settings if self.engine == "ase" else {**settings, "engine": self.engine}

    @property
    def reference_tag(self) -> str:
        """Identifies how reference energies are made (part of their cache file name)."""
        return f"{self.potential}-{self.model_name}-" + (
            f"relaxed{self.steps}-{self.fmax}" if self.relax_references else "static"
        )

    def relax(
        self,
        items: Sequence[tuple[str, Any]],
        *,
        cache_path: Path | None,
        workers: int = 1,
        progress: bool = True,
        item_meta: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Relax each ``(key, structure)``; records as the potential's ``relax_structure`` returns them (or
        ``error``). ``item_meta``: see :func:`run_resumable` (a recorded result is reused only if its fields
        match). The batched engine on a GPU runs in this process (one process feeds the device)."""
        job = partial(relax_job, relax=type(self).relax_structure, steps=self.steps, fmax=self.fmax,
                      model_name=self.model_name)  # fmt: skip
        many = None
        if self.engine != "ase" and self.relax_many is not None:
            many = partial(type(self).relax_many, steps=self.steps, fmax=self.fmax, model_name=self.model_name,
                           device=self.device, batch_size=self.batch_size)  # fmt: skip
            workers = workers if self.device == "cpu" else 1
        return run_resumable(
            job, items, cache_path, workers=workers, description=f"{self.label} relax", progress=progress,
            item_meta=item_meta, many=many, chunk_size=4 * self.batch_size,
        )  # fmt: skip

    def energies(
        self,
        items: Sequence[tuple[str, Any]],
        *,
        cache_path: Path | None,
        workers: int = 1,
        progress: bool = True,
    ) -> dict[str, dict[str, Any]]:
        """Energy (eV/atom) of each ``(key, structure or CIF text)``: ``{"energy_per_atom", "formula"}``."""
        static = None if self.relax_references else type(self).static_energy
        job = partial(energy_job, relax=type(self).relax_structure, static=static, steps=self.steps, fmax=self.fmax,
                      model_name=self.model_name)  # fmt: skip
        return run_resumable(
            job, items, cache_path, workers=workers, description=f"{self.label} reference energies",
            progress=progress,
        )  # fmt: skip


class CHGNetEnergyModel(FireEnergyModel):
    """CHGNet relaxations of samples and energies of reference structures, both cached on disk; relaxations
    use the batched engine unless ``engine="ase"``."""

    potential, label, default_model = "chgnet", "CHGNet", DEFAULT_MODEL
    relax_structure = staticmethod(relax_structure)
    static_energy = staticmethod(static_energy)
    engines = ENGINES
    relax_many = staticmethod(relax_many)
