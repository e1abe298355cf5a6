"""Baseline generator: random symmetric crystals from PyXtal with (composition, space group) drawn from data.

Each sample draws one training material and takes its space group and its composition in the
conventional cell (Wyckoff multiplicities from spglib at ``symprec``), so the pair is real and the
atom counts are compatible with the group. PyXtal (Fredericks et al., Comput. Phys. Commun. 2021)
then places atoms on randomly chosen Wyckoff positions of that group (``pyxtal.from_random``). If
PyXtal cannot realise the draw, another material is drawn (failures are counted per sample).

Volume: by default the cell is rescaled to the volume per atom of a training material with the same
reduced formula (drawn at random among its polymorphs; ``volume="formula"``), i.e. volumes follow the
training distribution for that chemistry; ``volume="pyxtal"`` keeps PyXtal's radius-based estimate.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure
from rich.progress import Progress

from xtalgen.data.symmetry import analyse_symmetry
from xtalgen.evaluation.sources import load_reference
from xtalgen.pipelines.output import Candidate, write_generation

#: Draws tried per sample before it is recorded as failed.
MAX_DRAWS = 20


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


def generate_pyxtal_random(
    n: int,
    out_dir: str | Path,
    *,
    train: Any,
    seed: int = 0,
    workers: int = 2,
    symprec: float = 0.1,
    volume: str = "formula",
    factor: float = 1.1,
    progress: bool = True,
) -> Path:
    """Generate ``n`` random symmetric structures into ``out_dir`` (CIFs + summary.csv); return summary path.

    ``train``: a PreparedDataset, a prepared-dataset file, a CSV with a ``cif`` column (its ``train``
    split if it has a split column) or any structure source. ``volume``: ``"formula"`` or ``"pyxtal"``.
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if volume not in ("formula", "pyxtal"):
        raise ValueError(f"volume must be 'formula' or 'pyxtal', got {volume!r}")
    draws = _TrainingDraws(train, symprec)
    rngs = [np.random.default_rng([seed, k]) for k in range(n)]
    failures = [0] * n
    last_error = [""] * n
    sources: list[int] = [-1] * n
    results: list[Structure | None] = [None] * n

    def next_task(k: int) -> dict[str, Any] | None:
        while failures[k] < MAX_DRAWS:
            j = int(rngs[k].integers(len(draws)))
            spec = draws.spec(j)
            if spec is None:
                failures[k] += 1
                last_error[k] = "training material without usable symmetry"
                continue
            sg, species, counts = spec
            vpa = None
            if volume == "formula":
                vpa = draws.volume_per_atom(int(rngs[k].choice(draws.by_formula[draws.formulas[j]])))
            sources[k] = j
            return {"k": k, "spacegroup": sg, "species": species, "counts": counts, "factor": factor,
                    "seed": int(rngs[k].integers(2**31)), "volume_per_atom": vpa}  # fmt: skip
        return None

    def finish(task: dict[str, Any], out: dict[str, Any]) -> dict[str, Any] | None:
        k = task["k"]
        if "structure" in out:
            results[k] = Structure.from_dict(out["structure"])
            return None
        failures[k] += 1
        last_error[k] = out["error"]
        return next_task(k)

    with Progress(transient=False, disable=not progress) as prog:
        bar = prog.add_task("PyXtal random structures", total=n)
        queue = [t for t in (next_task(k) for k in range(n)) if t is not None]
        prog.advance(bar, n - len(queue))
        if workers <= 1:
            while queue:
                task = queue.pop()
                nxt = finish(task, _pyxtal_job(task))
                if nxt is not None:
                    queue.append(nxt)
                else:
                    prog.advance(bar)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                pending = {pool.submit(_pyxtal_job, t): t for t in queue}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = pending.pop(fut)
                        nxt = finish(task, fut.result())
                        if nxt is not None:
                            pending[pool.submit(_pyxtal_job, nxt)] = nxt
                        else:
                            prog.advance(bar)

    candidates = []
    for k in range(n):
        j = sources[k]
        info = {
            "source_id": _entry_id(draws, j) if j >= 0 else "",
            "target_spacegroup": draws.spec(j)[0] if j >= 0 and draws.spec(j) else "",
            "failed_draws": failures[k],
            "model": "pyxtal-random",
            "seed": seed,
        }
        s = results[k]
        reason = "" if s is not None else f"no structure after {failures[k]} draws: {last_error[k]}"
        candidates.append(Candidate(f"pyxtal-{k:06d}", s, info, accepted=s is not None, reason=reason))
    source = str(train) if isinstance(train, str | Path) else type(train).__name__
    meta = {"model": "pyxtal-random", "train": source, "n": n, "seed": seed}
    return write_generation(out_dir, candidates, symprec=symprec, meta=meta)


def _entry_id(draws: _TrainingDraws, j: int) -> str:
    return str(draws.prepared.frame["id"].iat[j]) if draws.prepared is not None else draws.ref.ids[j]
