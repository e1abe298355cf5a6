"""Baseline generator: random symmetric crystals from PyXtal with (composition, space group) drawn from data.

Each sample draws one training material and takes its space group and its composition in the
conventional cell (Wyckoff multiplicities from spglib at ``symprec``), so the pair is real and the
atom counts are compatible with the group. PyXtal (Fredericks et al., Comput. Phys. Commun. 2021)
then places atoms on randomly chosen Wyckoff positions of that group (``pyxtal.from_random``). If
PyXtal cannot realise the draw, another material is drawn (failures are counted per sample).

Volume: by default the cell is rescaled to the volume per atom of a training material with the same
reduced formula (drawn at random among its polymorphs; ``volume="formula"``), i.e. volumes follow the
training distribution for that chemistry; ``volume="pyxtal"`` keeps PyXtal's radius-based estimate.

Paired mode (``conditions``): sample k takes row k of a conditions file instead of a training draw
(:mod:`xtalgen.pipelines.pyxtal.conditions`): exactly that space group and conventional-cell composition,
the cell rescaled to the row's ``volume_per_atom`` (PyXtal's estimate when the row has none). A failed
placement is retried with another PyXtal seed for the same condition.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pymatgen.core import Structure
from rich.progress import Progress

from xtalgen.data.generation_folder import Candidate
from xtalgen.data.symmetry import analyse_symmetry
from xtalgen.evaluation.sources import load_reference
from xtalgen.pipelines.families import GenerationRequest, SampleBatch, SamplingOptions
from xtalgen.pipelines.pyxtal.conditions import Condition, read_conditions

#: Draws tried per sample before it is recorded as failed.
MAX_DRAWS = 20
#: PyXtal's volume factor (its default) for the radius-based cell estimate.
PYXTAL_FACTOR = 1.1


class _TrainingDraws:
    """Draws (space group, species, conventional counts, target volume per atom) from training materials."""

    def __init__(self, train: Any, symprec: float) -> None:
        self.symprec = symprec
        self.prepared = train if hasattr(train, "multiplicities") and hasattr(train, "frame") else None
        frame = self.prepared.frame if self.prepared is not None else None
        if frame is not None and "split" in frame.columns and (frame["split"] == "train").any():
            self.prepared = self.prepared.subset(split="train")
        self.ref = None if self.prepared is not None else load_reference(train, split="train", name="train")
        formulas = list(self.prepared.frame["formula"]) if self.prepared is not None else self.ref.formulas
        if not formulas:
            raise ValueError("the training set is empty: nothing to draw compositions from")
        self.formulas = formulas
        self.by_formula: dict[str, list[int]] = defaultdict(list)
        for j, f in enumerate(formulas):
            self.by_formula[f].append(j)
        self._spec: dict[int, tuple[int, list[str], list[int]] | None] = {}

    def __len__(self) -> int:
        return len(self.formulas)

    def _structure(self, j: int) -> Structure:
        return self.prepared.structure(j) if self.prepared is not None else self.ref.structure(j)

    def volume_per_atom(self, j: int) -> float:
        if self.prepared is not None:
            row = self.prepared.frame.iloc[j]
            return float(row["volume"]) / int(row["nsites"])
        s = self._structure(j)
        return s.volume / len(s)

    def spec(self, j: int) -> tuple[int, list[str], list[int]] | None:
        """(space group, species, atoms of each in the conventional cell) of material j, None if unusable."""
        if j not in self._spec:
            try:
                if self.prepared is not None:
                    sg = int(self.prepared.frame["spacegroup"].iat[j])
                    numbers = self.prepared.structure(j).atomic_numbers
                    mult = self.prepared.multiplicities(j)
                    equiv = self.prepared.equivalent_atoms(j)
                else:
                    s = self._structure(j)
                    info = analyse_symmetry(s, self.symprec)
                    sg, numbers, mult, equiv = (
                        info.spacegroup,
                        s.atomic_numbers,
                        info.multiplicities,
                        info.equivalent_atoms,
                    )
                counts: dict[int, int] = defaultdict(int)
                for rep in sorted(set(equiv)):
                    counts[int(numbers[rep])] += int(mult[rep])
                from pymatgen.core import Element

                species = [Element.from_Z(z).symbol for z in counts]
                self._spec[j] = (sg, species, [counts[z] for z in counts]) if all(counts.values()) else None
            except Exception:  # symmetry analysis failed: this material cannot seed a draw
                self._spec[j] = None
        return self._spec[j]


def _pyxtal_job(task: dict[str, Any]) -> dict[str, Any]:
    """Worker: one PyXtal attempt. Returns the structure (dict) or the error."""
    from pyxtal import pyxtal

    warnings.filterwarnings("ignore")
    try:
        crystal = pyxtal()
        crystal.from_random(
            3, task["spacegroup"], task["species"], task["counts"], factor=task["factor"], random_state=task["seed"]
        )
        if not crystal.valid:
            return {"error": "pyxtal gave no valid crystal"}
        structure = crystal.to_pymatgen()
    except Exception as exc:  # incompatible composition/group, or no placement found
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    if task.get("volume_per_atom"):
        structure.scale_lattice(task["volume_per_atom"] * len(structure))
    return {"structure": structure.as_dict()}


@dataclass
class PyXtalOptions(SamplingOptions):
    """PyXtal baseline options.

    ``train``: the training materials compositions and space groups are drawn from (a prepared dataset
    file, a CSV with a ``cif`` column (its ``train`` split if it has one) or any structure source).
    ``volume``: "formula" (a training polymorph's volume per atom) or "pyxtal" (PyXtal's estimate).
    ``conditions``: a conditions CSV (space group, conventional-cell composition, optional volume per
    atom; :mod:`~xtalgen.pipelines.pyxtal.conditions`): sample k uses row k, no training data needed.
    """

    train: Any = None
    volume: Literal["formula", "pyxtal"] = "formula"
    conditions: str | None = None


class _Draws:
    """Per-sample state of the baseline: rngs, failed draws, the material each sample came from."""

    def __init__(self, draws: _TrainingDraws | None, n: int, seed: int, volume: str,
                 conditions: list[Condition] | None = None) -> None:  # fmt: skip
        self.draws, self.volume, self.conditions = draws, volume, conditions
        self.rngs = [np.random.default_rng([seed, k]) for k in range(n)]
        self.failures = [0] * n
        self.last_error = [""] * n
        self.sources: list[int] = [-1] * n
        self.results: list[Structure | None] = [None] * n

    def next_task(self, k: int) -> dict[str, Any] | None:
        if self.conditions is not None:
            return self._condition_task(k)
        draws, rng = self.draws, self.rngs[k]
        while self.failures[k] < MAX_DRAWS:
            j = int(rng.integers(len(draws)))
            spec = draws.spec(j)
            if spec is None:
                self.failures[k] += 1
                self.last_error[k] = "training material without usable symmetry"
                continue
            sg, species, counts = spec
            vpa = None
            if self.volume == "formula":
                vpa = draws.volume_per_atom(int(rng.choice(draws.by_formula[draws.formulas[j]])))
            self.sources[k] = j
            return {"k": k, "spacegroup": sg, "species": species, "counts": counts, "factor": PYXTAL_FACTOR,
                    "seed": int(rng.integers(2**31)), "volume_per_atom": vpa}  # fmt: skip
        return None

    def _condition_task(self, k: int) -> dict[str, Any] | None:
        """The task of sample k in paired mode: row k of the conditions, a fresh PyXtal seed per try."""
        if self.failures[k] >= MAX_DRAWS:
            return None
        c = self.conditions[k]
        self.sources[k] = k
        return {"k": k, "spacegroup": c.spacegroup, "species": list(c.species), "counts": list(c.counts),
                "factor": PYXTAL_FACTOR, "seed": int(self.rngs[k].integers(2**31)),
                "volume_per_atom": c.volume_per_atom}  # fmt: skip

    def finish(self, task: dict[str, Any], out: dict[str, Any]) -> dict[str, Any] | None:
        k = task["k"]
        if "structure" in out:
            self.results[k] = Structure.from_dict(out["structure"])
            return None
        self.failures[k] += 1
        self.last_error[k] = out["error"]
        return self.next_task(k)


def _run_draws(state: _Draws, n: int, workers: int, progress: bool) -> None:
    """Run PyXtal until every sample has a structure or ran out of draws (serial or in a process pool)."""
    with Progress(transient=False, disable=not progress) as prog:
        bar = prog.add_task("PyXtal random structures", total=n)
        queue = [t for t in (state.next_task(k) for k in range(n)) if t is not None]
        prog.advance(bar, n - len(queue))
        if workers <= 1:
            while queue:
                task = queue.pop()
                nxt = state.finish(task, _pyxtal_job(task))
                if nxt is not None:
                    queue.append(nxt)
                else:
                    prog.advance(bar)
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending = {pool.submit(_pyxtal_job, t): t for t in queue}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    nxt = state.finish(task, fut.result())
                    if nxt is not None:
                        pending[pool.submit(_pyxtal_job, nxt)] = nxt
                    else:
                        prog.advance(bar)


def check_pyxtal(request: GenerationRequest, opts: PyXtalOptions) -> None:
    """The baseline needs training data or a conditions file with a row per sample (ValueError before any
    work otherwise)."""
    if opts.conditions is not None:
        rows = read_conditions(opts.conditions)
        if request.n > len(rows):
            raise ValueError(f"conditions file {opts.conditions}: {len(rows)} rows for {request.n} samples "
                             "(one row per sample)")  # fmt: skip
        return
    if opts.train is None:
        raise ValueError("pyxtal-random needs training data: --set train=DATASET (compositions and space groups "
                         "are drawn from it)")  # fmt: skip
    if isinstance(opts.train, str | Path) and not Path(opts.train).exists():
        raise ValueError(f"training data {opts.train} does not exist")


def sample_pyxtal(request: GenerationRequest, opts: PyXtalOptions) -> SampleBatch:
    """``request.n`` random symmetric structures, each from a (composition, space group) of a training material."""
    check_pyxtal(request, opts)
    n, seed = request.n, request.seed
    conditions = read_conditions(opts.conditions)[:n] if opts.conditions is not None else None
    draws = _TrainingDraws(opts.train, opts.symprec) if conditions is None else None
    state = _Draws(draws, n, seed, opts.volume, conditions)
    _run_draws(state, n, request.workers, request.progress)
    candidates = []
    for k in range(n):
        j = state.sources[k]
        if conditions is not None:
            source_id, target = conditions[k].source_id, conditions[k].spacegroup
        else:
            source_id = _entry_id(draws, j) if j >= 0 else ""
            target = draws.spec(j)[0] if j >= 0 and draws.spec(j) else ""
        info = {
            "source_id": source_id,
            "target_spacegroup": target,
            "failed_draws": state.failures[k],
            "model": "pyxtal-random",
            "seed": seed,
        }
        s = state.results[k]
        reason = "" if s is not None else f"no structure after {state.failures[k]} draws: {state.last_error[k]}"
        candidates.append(Candidate(f"pyxtal-{k:06d}", s, info, accepted=s is not None, reason=reason))
    source = str(opts.train) if isinstance(opts.train, str | Path) else type(opts.train).__name__
    record = {"model": "pyxtal-random", "train": source, "n": n, "seed": seed, **request.meta}
    if conditions is not None:
        record.update(train=None, conditions=str(opts.conditions))
    return SampleBatch(candidates, record)


def generate_pyxtal_random(
    n: int,
    out_dir: str | Path,
    *,
    train: Any,
    seed: int = 0,
    workers: int = 2,
    symprec: float = 0.1,
    volume: str = "formula",
    conditions: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Generate ``n`` random symmetric structures into ``out_dir`` (CIFs + summary.csv); return summary path.

    ``train``, ``volume`` and ``conditions``: see :class:`PyXtalOptions`.
    """
    from xtalgen.pipelines.generation import generate

    request = GenerationRequest(n, seed, workers, progress=progress)
    options = {"symprec": symprec, "train": train, "volume": volume,
               "conditions": None if conditions is None else str(conditions)}  # fmt: skip
    return generate("pyxtal-random", request, out_dir, options).summary


def _entry_id(draws: _TrainingDraws, j: int) -> str:
    return str(draws.prepared.frame["id"].iat[j]) if draws.prepared is not None else draws.ref.ids[j]
