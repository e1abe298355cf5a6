"""``xtalgen screen``: turn candidate structures into a ranked, DFT-ready shortlist, stage by stage.

Stages (each reports what it removed and its cost, wall and CPU seconds):

1. ``read``: candidates that cannot be parsed are dropped;
2. ``cheap filters``: :func:`xtalgen.pipelines.screen.cheap_filters.cheap_check` (ms per structure);
3. ``dedupe``: duplicates within the set (:func:`xtalgen.postprocess.dedupe.find_duplicates`, first kept),
   then matches of a known-structure set when one is given (:mod:`xtalgen.pipelines.screen.known`);
4. ``prescreen``: the potential's cheap energy (static or a few FIRE steps) gives an E_hull estimate
   against the reference-energy table; candidates above ``prescreen_max_ehull`` are dropped;
5. ``relax``: full relaxation of the rest;
6. ``e_hull``: E_hull of the relaxed structures (:func:`xtalgen.evaluation.stability.hull_energies`),
   symmetry kept (spglib group of relaxed == generated), uniqueness among relaxed structures and novelty
   of the relaxed structures against the known set;
7. ``export``: ranked ``shortlist.csv``, relaxed CIFs and VASP inputs of the top K.

Per-structure results of stages 2-5 are stored under ``<out>/stages/`` keyed by structure content hash and
the stage's settings (:mod:`xtalgen.pipelines.screen.store`), so a re-run (``--resume``) reuses every result
whose structure and settings are unchanged. The costly stages (4, 5) run on the scheduler
(:mod:`xtalgen.pipelines.screen.scheduler`: in-process or Dask).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition, Structure

from xtalgen.data.content_hash import structure_hash
from xtalgen.evaluation.stability import hull_energies, subsystems
from xtalgen.pipelines.screen.assess import assess
from xtalgen.pipelines.screen.cheap_filters import cheap_check, cheap_settings
from xtalgen.pipelines.screen.known import KnownStructures
from xtalgen.pipelines.screen.potential import NamedScreenPotential, ScreenPotential
from xtalgen.pipelines.screen.scheduler import BatchTask, InProcess, Task
from xtalgen.pipelines.screen.store import read_result, result_path, settings_hash, write_result

#: Pre-screen threshold (eV/atom): candidates whose E_hull estimate after the pre-screen's 10 FIRE steps is
#: above this are not relaxed; the cheapest threshold keeping >= 95 % of the S.U.N. candidates of a PGCGM
#: calibration set (docs/benchmarks/screen_scale.md); ``--prescreen-max-ehull inf`` relaxes everything.
PRESCREEN_MAX_EHULL = 1.85
#: The folder of stored per-structure results (kept by ``--resume``).
STAGES_DIR = "stages"
SHORTLIST_FILE = "shortlist.csv"
REJECTED_FILE = "rejected.csv"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
RELAXED_DIR = "relaxed"
VASP_DIR = "vasp"
#: Everything the screen writes at the top of its output folder.
OWNED = frozenset({STAGES_DIR, SHORTLIST_FILE, REJECTED_FILE, REPORT_JSON, REPORT_MD, RELAXED_DIR, VASP_DIR})


#: A candidate on its way through the stages: (id, structure, content hash).
Item = tuple[str, Structure, str]


@dataclass(frozen=True)
class ScreenSettings:
    """What the screen keeps: ``top`` exported; ``known``: known-structure source (None: novelty unchecked);
    ``reference_energies``: hull reference table ("auto": the shipped table of the potential)."""

    top: int = 10
    prescreen_max_ehull: float = PRESCREEN_MAX_EHULL
    max_sites: int | None = None
    known: str | Path | None = None
    reference_energies: str | Path = "auto"


@dataclass
class StageReport:
    """One stage: candidates in, removed, out; results reused from an earlier run; wall and CPU seconds."""

    name: str
    n_in: int
    n_removed: int = 0
    n_cached: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    note: str = ""

    @property
    def n_out(self) -> int:
        return self.n_in - self.n_removed


@dataclass
class ScreenResult:
    """The stages' reports, the ranked shortlist (rows as dicts) and what was exported."""

    out_dir: Path
    scheduler: str
    stages: list[StageReport] = field(default_factory=list)
    shortlist: list[dict[str, Any]] = field(default_factory=list)
    exported: list[str] = field(default_factory=list)
    export_message: str = ""


class _Clock:
    """Wall and CPU seconds of a stage: this process's CPU plus the CPU its remote tasks report."""

    def __init__(self, report: StageReport) -> None:
        self.report, self.remote_cpu = report, 0.0
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> StageReport:
        self.report.wall_s = time.perf_counter() - self.wall
        self.report.cpu_s = time.process_time() - self.cpu + self.remote_cpu
        return self.report


def _run_stage(
    scheduler: Any, stage: str, func: Callable[[Structure], dict[str, Any]], settings: dict[str, Any],
    items: Sequence[tuple[str, Structure, str]], root: Path, clock: _Clock,
    many: tuple[Callable[..., Any], int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Records by id of ``func`` on each ``(id, structure, hash)``; identical structures are computed once.
    ``many``: (a job on many structures at once, structures per task) used instead of ``func`` when given."""
    tasks: dict[str, Task] = {}
    hash_of: dict[str, str] = {}
    folder = settings_hash({"root": str(root.resolve())})  # two screens on one cluster never share a task
    for _, structure, h in items:
        key = f"{stage}-{h}-{settings_hash(settings)}-{folder}"
        if key not in tasks:
            tasks[key] = Task(key, func, structure.as_dict(), str(result_path(root, stage, h, settings)))
            hash_of[key] = h
    by_hash: dict[str, dict[str, Any]] = {}
    remote = not isinstance(scheduler, InProcess)
    jobs: list[Task | BatchTask] = list(tasks.values())
    if many is not None:
        job, size = many
        jobs = [BatchTask(f"{stage}-batch{i}-{tasks_chunk[0].key}", job, tuple(tasks_chunk))
                for i, tasks_chunk in enumerate(_chunks(list(tasks.values()), size))]  # fmt: skip
    for task, record in scheduler.map(jobs):
        by_hash[hash_of[task.key]] = record
        if record.get("cached"):
            clock.report.n_cached += 1
        elif remote:
            clock.remote_cpu += float(record.get("cpu_s") or 0.0)
    return {sid: by_hash[h] for sid, _, h in items}


def _chunks(tasks: list[Task], size: int) -> list[list[Task]]:
    return [tasks[i : i + max(size, 1)] for i in range(0, len(tasks), max(size, 1))]


def _hull(pairs: Sequence[tuple[Composition, float]], table: Any) -> list[tuple[float, str]]:
    """E_hull (eV/atom, note) of each (composition, energy per atom) against the reference table."""
    wanted = {sub for comp, _ in pairs for sub in subsystems(el.symbol for el in comp.elements)}
    return hull_energies(pairs, table.references(wanted)) if pairs else []


def _many(potential: Any, name: str) -> tuple[Callable[..., Any], int] | None:
    """The potential's batched job ``name`` and its structures per task, when it offers one."""
    job, size = getattr(potential, name, None), getattr(potential, "batch_task_size", None)
    return (job, size) if job is not None and size else None


class _Screen:
    """One screen's state: where results go, the candidates' rows, the rejects, and the stages' reports."""

    def __init__(self, out: Path, scheduler: Any, potential: ScreenPotential, settings: ScreenSettings,
                 on_stage: Callable[[StageReport], None] | None) -> None:  # fmt: skip
        from xtalgen.evaluation.stability import resolve_reference_table

        self.root, self.scheduler, self.local = out / STAGES_DIR, scheduler, InProcess()
        self.potential, self.settings, self.on_stage = potential, settings, on_stage
        self.result = ScreenResult(out, getattr(scheduler, "name", "?"))
        self.rejected: list[dict[str, str]] = []
        self.rows: dict[str, dict[str, Any]] = {}
        self.table = resolve_reference_table(settings.reference_energies, potential)  # type: ignore[arg-type]
        if self.table is None:
            raise ValueError(f"no reference-energy table for {potential.reference_tag!r}; pass one "
                             "(made by `xtalgen data energies`)")  # fmt: skip

    def drop(self, sid: str, stage: str, reason: str) -> None:
        self.rejected.append({"id": sid, "stage": stage, "reason": reason})

    def done(self, clock: _Clock, items: Sequence[Any]) -> None:
        clock.report.n_removed = clock.report.n_in - len(items)
        self.result.stages.append(clock.stop())
        if self.on_stage is not None:
            self.on_stage(self.result.stages[-1])

    def read(self, source: Any) -> list[Item]:
        from xtalgen.evaluation.sources import load_generated

        clock = _Clock(StageReport("read", 0))
        gen = load_generated(source)
        clock.report.n_in = len(gen)
        items = []
        for sid, structure, reason in zip(gen.ids, gen.structures, gen.reasons, strict=True):
            if structure is None:
                self.drop(sid, "read", reason or "no structure")
            else:
                items.append((sid, structure, structure_hash(structure)))
        self.done(clock, items)
        return items

    def cheap(self, items: list[Item]) -> list[Item]:
        clock = _Clock(StageReport("cheap filters", len(items)))
        max_sites = self.settings.max_sites
        checks = _run_stage(self.local, "cheap", partial(cheap_check, max_sites=max_sites), cheap_settings(max_sites),
                            items, self.root, clock)  # fmt: skip
        kept = []
        for sid, structure, h in items:
            rec = checks[sid]
            if not rec.get("passed"):
                self.drop(sid, "cheap filters", rec.get("reason") or rec.get("error") or "failed")
                continue
            kept.append((sid, structure, h))
            self.rows[sid] = {"id": sid, "formula": rec.get("formula"), "n_sites": rec.get("n_sites"),
                              "structure_hash": h, "spacegroup_generated": rec.get("spacegroup")}  # fmt: skip
        self.done(clock, kept)
        return kept

    def dedupe(self, items: list[Item]) -> tuple[list[Item], KnownStructures | None]:
        clock = _Clock(StageReport("dedupe", len(items)))
        items = _dedupe(items, self.root, clock, self.drop)
        known = KnownStructures(self.settings.known) if self.settings.known is not None else None
        clock.report.note = "within the set only (no known-structure set given: novelty unchecked)"
        if known is not None:
            found = _run_stage(self.local, "known", known.match, {"known": known.fingerprint, "stage_version": 1},
                               items, self.root, clock)  # fmt: skip
            for sid, _, _ in items:
                if not found[sid].get("novel", True):
                    self.drop(sid, "dedupe", f"matches known structure {found[sid].get('matched_id')}")
            items = [item for item in items if found[item[0]].get("novel", True)]
            clock.report.note = f"against {len(known):,} known structures"
        self.done(clock, items)
        return items, known

    def prescreen(self, items: list[Item]) -> list[Item]:
        clock = _Clock(StageReport("prescreen", len(items)))
        limit = self.settings.prescreen_max_ehull
        pre = _run_stage(self.scheduler, "prescreen", self.potential.prescreen, self.potential.prescreen_settings(),
                         items, self.root, clock, _many(self.potential, "prescreen_many"))  # fmt: skip
        ok = [(sid, s, h) for sid, s, h in items if pre[sid].get("energy_per_atom") is not None]
        for sid, _, _ in items:
            if pre[sid].get("energy_per_atom") is None:
                self.drop(sid, "prescreen", f"potential failed: {pre[sid].get('error', 'no energy')}")
        hulls = _hull([(s.composition, float(pre[sid]["energy_per_atom"])) for sid, s, _ in ok], self.table)
        kept = []
        for (sid, structure, h), (e_hull, note) in zip(ok, hulls, strict=True):
            self.rows[sid]["prescreen_e_hull"] = e_hull
            if not np.isfinite(e_hull):
                self.drop(sid, "prescreen", f"no E_hull estimate: {note}")
            elif e_hull > limit:
                self.drop(sid, "prescreen", f"E_hull estimate {e_hull:.3f} eV/atom > {limit}")
            else:
                kept.append((sid, structure, h))
        clock.report.note = f"threshold {limit} eV/atom"
        self.done(clock, kept)
        return kept

    def relax(self, items: list[Item]) -> list[Item]:
        """The relaxed structures (in place of the candidates) of those whose relaxation succeeded."""
        clock = _Clock(StageReport("relax", len(items)))
        relaxed = _run_stage(self.scheduler, "relax", self.potential.relax, self.potential.relax_settings(), items,
                             self.root, clock, _many(self.potential, "relax_many"))  # fmt: skip
        kept = []
        for sid, _, h in items:
            rec = relaxed[sid]
            if rec.get("energy_per_atom") is None or not rec.get("structure"):
                self.drop(sid, "relax", f"relaxation failed: {rec.get('error', 'no energy')}")
                continue
            kept.append((sid, Structure.from_dict(rec["structure"]), h))
            self.rows[sid].update(energy_per_atom=rec["energy_per_atom"], relax_steps=rec.get("steps"),
                                  converged=rec.get("converged"), rmsd=rec.get("rmsd"))  # fmt: skip
        self.done(clock, kept)
        return kept


def run_screen(
    source: Any,
    out_dir: str | Path,
    *,
    scheduler: Any,
    potential: ScreenPotential | None = None,
    settings: ScreenSettings | None = None,
    on_stage: Callable[[StageReport], None] | None = None,
) -> ScreenResult:
    """Screen the candidates of ``source`` (any source :func:`xtalgen.evaluation.sources.load_generated`
    reads) into ``out_dir``; ``scheduler``: from :func:`xtalgen.pipelines.screen.scheduler.open_scheduler`."""
    from xtalgen.pipelines.screen.report import write_outputs, write_report

    potential = potential or NamedScreenPotential()
    settings = settings or ScreenSettings()
    run = _Screen(Path(out_dir), scheduler, potential, settings, on_stage)
    items, known = run.dedupe(run.cheap(run.read(source)))
    relaxed = run.relax(run.prescreen(items))
    clock = _Clock(StageReport("e_hull", len(relaxed)))
    final = assess(relaxed, run.rows, lambda pairs: _hull(pairs, run.table), known, run.drop)
    run.done(clock, final)
    clock = _Clock(StageReport("export", len(final)))
    write_outputs(run.result, final, {sid: s for sid, s, _ in relaxed}, run.rejected, settings)
    clock.report.note = f"top {settings.top}: {len(run.result.exported)} VASP input folders"
    run.done(clock, final)
    write_report(run.result, settings, potential)
    return run.result


def _dedupe(items: list[tuple[str, Structure, str]], root: Path, clock: _Clock,
            drop: Callable[[str, str, str], None]) -> list[tuple[str, Structure, str]]:  # fmt: skip
    """Items without duplicates within the set (first kept); the verdicts are stored by the set's hashes."""
    from xtalgen.postprocess.dedupe import DEFAULT_MATCHER, find_duplicates

    key = {"hashes": [h for _, _, h in items], "matcher": DEFAULT_MATCHER, "stage_version": 1}
    path = root / "dedupe" / f"{settings_hash(key)}.json"
    stored = read_result(path)
    if stored is not None:
        clock.report.n_cached += len(items)
        dup = stored["duplicate_of"]
    else:
        dup = find_duplicates([s for _, s, _ in items])
        write_result(path, {"duplicate_of": dup})
    out = []
    for (sid, structure, h), d in zip(items, dup, strict=True):
        if d is None:
            out.append((sid, structure, h))
        else:
            drop(sid, "dedupe", f"duplicate of {items[d][0]}")
    return out


def stage_table(result: ScreenResult) -> list[dict[str, Any]]:
    """The stages' reports as plain rows (name, in, removed, out, cached, wall_s, cpu_s, note)."""
    return [{**asdict(s), "n_out": s.n_out} for s in result.stages]
