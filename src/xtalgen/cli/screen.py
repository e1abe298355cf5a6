"""``xtalgen screen``: candidates -> ranked shortlist with E_hull and SUN flags -> VASP inputs of the top K."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xtalgen.cli.main import app
from xtalgen.cli.output_paths import claim_output_dir, fail

if TYPE_CHECKING:
    from xtalgen.pipelines.screen.potential import NamedScreenPotential
    from xtalgen.pipelines.screen.runner import ScreenResult

console = Console()


def _print_stage(stage) -> None:  # noqa: ANN001 - a StageReport
    cached = f", {stage.n_cached} reused" if stage.n_cached else ""
    note = f" ({escape(stage.note)})" if stage.note else ""
    line = (f"{stage.name}: {stage.n_in} in, {stage.n_removed} removed, {stage.n_out} left{cached}; "
            f"{stage.wall_s:.1f} s wall, {stage.cpu_s:.1f} CPU-s{note}")
    console.print(line, highlight=False, soft_wrap=True)


def _check_reference_table(spec: str, potential) -> None:  # noqa: ANN001 - a ScreenPotential
    """Fail in one line, before any work, when no reference table matches the potential."""
    from xtalgen.evaluation.stability import resolve_reference_table

    try:
        table = resolve_reference_table(spec, potential)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(console, f"--reference-energies: {exc}") from None
    if table is None:
        raise fail(console, f"--reference-energies: no table ships for {potential.reference_tag!r}; make one with "
                   "`xtalgen data energies` and pass it")  # fmt: skip


def _screen_potential(
    potential: str, steps: int, fmax: float, prescreen_steps: int, relax_engine: str
) -> NamedScreenPotential:
    """The one potential --potential names with the relaxation flags, checked now (errors name the flag)."""
    from xtalgen.pipelines.screen.potential import NamedScreenPotential
    from xtalgen.postprocess.potentials import parse_potentials

    try:
        names = parse_potentials(potential)
    except (ImportError, ValueError) as exc:
        raise fail(console, f"--potential: {exc}") from None
    if len(names) != 1:
        raise fail(console, f"--potential: screen relaxes with one potential, got {potential!r}")
    engine = relax_engine.strip().lower()
    if engine not in ("auto", "batched", "ase"):
        raise fail(console, f"--relax-engine: choose auto, batched or ase, got {relax_engine!r}")
    chosen = NamedScreenPotential(names[0], steps=steps, fmax=fmax, prescreen_steps=prescreen_steps,
                                  engine=None if engine == "auto" else engine)  # fmt: skip
    try:
        chosen.relax_settings()
    except ValueError as exc:
        raise fail(console, f"--relax-engine: {exc}") from None
    return chosen


def _print_result(result: ScreenResult, output: Path, known: Path | None) -> None:
    """The top of the shortlist, its SUN counts and where the shortlist, VASP inputs and report are."""
    table = Table("rank", "id", "formula", "E_hull", "SUN", "MetaSUN", "sym kept", title="shortlist (top 10)")
    for row in result.shortlist[:10]:
        table.add_row(str(row["rank"]), escape(str(row["id"])), str(row["formula"]), f"{row['e_hull']:.3f}",
                      "yes" if row["sun"] else "", "yes" if row["metasun"] else "",
                      "yes" if row["symmetry_kept"] else "")  # fmt: skip
    console.print(table)
    sun = sum(bool(r["sun"]) for r in result.shortlist)
    metasun = sum(bool(r["metasun"]) for r in result.shortlist)
    console.print(f"{len(result.shortlist)} relaxed candidates ranked ({sun} SUN, {metasun} MetaSUN) in "
                  f"{output / 'shortlist.csv'}; VASP inputs for {len(result.exported)} in {output / 'vasp'}; "
                  f"report: {output / 'report.md'}", highlight=False)  # fmt: skip
    if known is None:
        console.print("[yellow]note:[/] no --known set: novelty was not checked (SUN flags assume novel)")
    if result.export_message:
        console.print(f"[yellow]note:[/] {escape(result.export_message)}", soft_wrap=True)


@app.command("screen")
def screen_cmd(
    candidates: Path = typer.Argument(..., help="Candidates: generation dir, folder of CIFs, CSV with a 'cif' column."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for shortlist.csv, report, relaxed CIFs, vasp/."),
    top: int = typer.Option(10, min=1, help="Export VASP inputs for the best K unique candidates."),
    known: Path | None = typer.Option(
        None, help="Known structures (CSV with a 'cif' column, prepared dataset, folder): candidates matching one "
        "are dropped as not novel [default: novelty unchecked]."),
    reference_energies: str = typer.Option(
        "auto", help="Hull reference-energy table (.parquet); 'auto': the table shipped for the potential."),
    prescreen_steps: int = typer.Option(10, min=0, help="FIRE steps of the energy pre-screen (0: static energy)."),
    prescreen_max_ehull: float = typer.Option(
        1.85, help="Drop candidates whose pre-screen E_hull estimate is above this (eV/atom; 'inf': keep all)."),
    potential: str = typer.Option("chgnet", help="Potential: chgnet, or sevennet (extra xtalgen[sevennet])."),
    steps: int = typer.Option(200, min=0, help="Maximum FIRE steps of the full relaxation."),
    fmax: float = typer.Option(0.1, min=1e-4, help="Force convergence of the relaxation (eV/Å)."),
    relax_engine: str = typer.Option(
        "auto", help="auto, batched (many structures per potential call and per task; CHGNet) or ase (one "
        "structure per task); auto: batched for CHGNet, ase for SevenNet."),
    max_sites: int | None = typer.Option(None, min=1, help="Drop candidates with more sites than this."),
    scheduler: str = typer.Option(
        "local", help="'local': a Dask LocalCluster of --workers processes; 'none': in this process; or the "
        "address of a running Dask scheduler (tcp://host:8786)."),
    workers: int = typer.Option(2, min=1, help="Worker processes of the local Dask cluster."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the screen in OUTPUT: reuse its stored stage results whose structure and "
        "settings match."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier screen in OUTPUT."),
) -> None:
    """Screen candidates in stages (cheap filters, dedupe, energy pre-screen, relaxation, E_hull) into a
    ranked shortlist and VASP inputs of the top K; resumable with --resume."""
    from xtalgen.pipelines.screen.runner import OWNED, STAGES_DIR, ScreenSettings, run_screen
    from xtalgen.pipelines.screen.scheduler import open_scheduler

    if not candidates.exists():
        raise fail(console, f"candidates not found: {candidates}")
    if known is not None and not known.exists():
        raise fail(console, f"--known: not found: {known}")
    if math.isnan(prescreen_max_ehull):
        raise fail(console, "--prescreen-max-ehull: give a number of eV/atom or inf")
    chosen = _screen_potential(potential, steps, fmax, prescreen_steps, relax_engine)
    _check_reference_table(reference_energies, chosen)
    claim_output_dir(console, output, OWNED, overwrite=overwrite, resume=resume, resume_files={STAGES_DIR},
                     inputs=[candidates, known])  # fmt: skip
    settings = ScreenSettings(top=top, prescreen_max_ehull=prescreen_max_ehull, max_sites=max_sites, known=known,
                              reference_energies=reference_energies)  # fmt: skip
    try:
        with open_scheduler(scheduler, workers) as runner:
            console.print(f"screening {escape(str(candidates))} on {escape(runner.name)}", highlight=False)
            result = run_screen(candidates, output, scheduler=runner, potential=chosen, settings=settings,
                                on_stage=_print_stage)  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise fail(console, exc) from None
    _print_result(result, output, known)
