"""``xtalgen evaluate``, ``xtalgen relax`` and ``xtalgen export vasp``: judge generated structures."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xtalgen.cli.evaluate_properties import PROPERTIES_HELP, PROPERTIES_N_HELP, with_properties
from xtalgen.cli.evaluate_stability import (
    EARLY_STOP_HELP,
    RELAX_ENGINE_HELP,
    energy_models,
    fail_line,
    note_stability,
    parse_relax_engine,
    potential_names,
    with_stability,
)
from xtalgen.cli.main import app
from xtalgen.cli.output_paths import claim_output_dir, fail

console = Console()
#: ``xtalgen relax``'s resume record in its output folder (one JSON line per relaxed id).
RELAX_RECORD = "relax.jsonl"
export_app = typer.Typer(help="Export structures for other codes (VASP inputs).", no_args_is_help=True)
app.add_typer(export_app, name="export")


def _naming(source: Path, exc: Exception) -> str:
    """The error text, prefixed with SOURCE when it does not name it already."""
    return str(exc) if str(source) in str(exc) else f"{source}: {exc}"


def _default_cache() -> Path:
    root = os.environ.get("XTALGEN_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "xtalgen")
    return Path(root) / "evaluation"


def _cutoffs(text: str) -> tuple[float, float]:
    from xtalgen.evaluation.coverage import MP_CUTOFFS, SMALL_CUTOFFS

    named = {"mp": MP_CUTOFFS, "small": SMALL_CUTOFFS}
    if text in named:
        return named[text]
    try:
        struct, comp = (float(x) for x in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--coverage-cutoffs: use 'mp', 'small' or 'STRUCT,COMP', got {text!r}") from None
    return struct, comp




def _shipped_training_set(generated: Path) -> tuple[Path | None, str, str]:
    """(training structures, model name, note) when GENERATED was made by a shipped pretrained model that
    ships its training structures (``generation.json``); (None, name or "", why not) otherwise."""
    from xtalgen.data.generation_folder import read_generation_meta
    from xtalgen.pretrained import pretrained_info, pretrained_training_structures

    record = read_generation_meta(generated) if generated.is_dir() else {}
    name = record.get("pretrained")
    if not name:
        return None, "", ""
    try:
        path = pretrained_training_structures(name)
        n = pretrained_info(name).data.get("training_structures", {}).get("n_structures")
    except (ValueError, FileNotFoundError) as exc:
        return None, name, str(exc)
    what = f"the {n:,} training structures" if n else "the training structures"
    return path, name, f"{what} shipped with pretrained model {name}"


#: Help of --stability-n.
STABILITY_N_HELP = "Relax only a seeded random subset of N valid samples (0: all of them)."


@app.command("evaluate")
def evaluate_cmd(
    generated: Path = typer.Argument(..., help="Generation dir (summary.csv + cifs/), folder, CSV, or structure file."),
    output: Path = typer.Option(..., "-o", "--output", help="Report directory to write."),
    train: Path | None = typer.Option(None, "--train", help="Training structures (prepared dataset or any source)."),
    test: Path | None = typer.Option(None, "--test", help="Test structures (prepared dataset or any source)."),
    stability: bool = typer.Option(False, "--stability", help="Relax (--potential) and compute E_hull and S.U.N."),
    potential: str = typer.Option(
        "chgnet", "--potential",
        help="Potential(s) for --stability: chgnet, sevennet (extra xtalgen[sevennet]) or chgnet,sevennet "
        "(each reported, with their agreement; the first drives S.U.N.).",
    ),  # fmt: skip
    workers: int = typer.Option(2, min=1, help="Worker processes."),
    cache_dir: Path | None = typer.Option(None, help="Cache of per-sample results [default: ~/.cache/xtalgen]."),
    limit: int | None = typer.Option(None, min=1, help="Evaluate only the first N generated samples."),
    train_limit: int | None = typer.Option(None, min=1, help="Use only the first N training structures."),
    test_limit: int | None = typer.Option(None, min=1, help="Use only the first N test structures."),
    generated_split: str | None = typer.Option(None, help="Split of GENERATED to use if it has splits."),
    train_split: str = typer.Option("train", help="Split of --train to use if it has splits."),
    test_split: str = typer.Option("test", help="Split of --test to use if it has splits."),
    coverage_cutoffs: str = typer.Option("mp", help="COV thresholds: 'mp' (0.4,10), 'small' (0.2,4) or 'S,C'."),
    stability_n: int = typer.Option(0, "--stability-n", min=0, help=STABILITY_N_HELP),
    stability_seed: int = typer.Option(0, help="Seed of the --stability-n subset."),
    properties: bool = typer.Option(False, "--properties", help=PROPERTIES_HELP),
    properties_n: int = typer.Option(100, "--properties-n", min=1, help=PROPERTIES_N_HELP),
    steps: int = typer.Option(200, min=0, help="Maximum FIRE steps per relaxation."),
    fmax: float = typer.Option(0.1, min=1e-4, help="Force convergence (eV/Å)."),
    relax_references: bool = typer.Option(False, help="Relax hull references too (default: static energies)."),
    relax_engine: str = typer.Option("auto", help=RELAX_ENGINE_HELP),
    early_stop: bool = typer.Option(False, "--early-stop", help=EARLY_STOP_HELP),
    reference_energies: str = typer.Option(
        "auto",
        help="Hull reference energies: a table from `xtalgen data energies`, 'auto' (the table shipped "
        "for the model if any, else computed from --train) or 'train' (computed from --train).",
    ),
    known: str = typer.Option(
        "auto",
        help="Known structures for novelty: 'auto' (the table of all Materials Project structures shipped with "
        "xtalgen), a table made by xtalgen.evaluation.known_structures, or 'none' (novelty against --train only).",
    ),
    skip: str = typer.Option("", help="Metrics to leave out, e.g. 'coverage' (the slowest) or 'novelty,coverage'."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the report files of an earlier run in OUTPUT (other files stay)."
    ),
) -> None:
    """Score GENERATED (validity, uniqueness, novelty, coverage, distributions, stability) and write a report;
    without --train, a shipped pretrained model's output is compared with the training structures it ships."""
    from xtalgen.evaluation.report import REPORT_ENTRIES, write_report
    from xtalgen.evaluation.runner import evaluate

    settings = _settings(coverage_cutoffs, skip, known)
    names = potential_names(potential)
    if not stability and names != ["chgnet"]:
        fail_line("--potential chooses the potential of --stability; add --stability")
    if not generated.exists():
        raise fail(console, f"generated source not found: {generated}")
    claim_output_dir(console, output, REPORT_ENTRIES, overwrite=overwrite, inputs=[generated, train, test])
    train, shipped, notes = _training_set(generated, train)
    models = energy_models(names, steps, fmax, relax_references, relax_engine, early_stop) if stability else {}
    if stability:
        settings = with_stability(settings, names, models, reference_energies, train, shipped, stability_n or None,
                                  stability_seed)  # fmt: skip
    settings = with_properties(settings, properties, properties_n, stability_seed, models.get(names[0]),
                               reference_energies, train, test)  # fmt: skip
    try:
        result = evaluate(
            generated, train, test,
            stability=stability, energy_model=models.get(names[0]), workers=workers, settings=settings,
            cache_dir=cache_dir or _default_cache(), progress=not quiet,
            generated_split=generated_split, train_split=train_split, test_split=test_split,
            limit=limit, train_limit=train_limit, test_limit=test_limit,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise fail(console, exc) from None
    result.meta.update(notes=notes, shipped_training_model=shipped or None)
    if stability:
        note_stability(result, names, models, {"steps": steps, "fmax": fmax, "subset": stability_n or None,
                                               "seed": stability_seed})  # fmt: skip
    _print(result, write_report(result, output, source=generated, generation=_generation_record(generated)))




def _training_set(generated: Path, train: Path | None) -> tuple[Path | None, str, list[str]]:
    """(--train, or the training structures shipped with the model that made GENERATED; that model's name
    or ""; notes for the report)."""
    if train is not None:
        return train, "", []
    path, name, note = _shipped_training_set(generated)
    if path is not None:
        return path, name, [f"Training set: {note} (no --train given)."]
    if note:
        console.print(f"[yellow]note:[/] no training set: {note}", soft_wrap=True)
    return None, "", []


def _print(result, page: Path) -> None:  # type: ignore[no-untyped-def]
    """The metrics table, the skipped metrics and the plain summary the report wrote."""
    from xtalgen.evaluation.report import SUMMARY_FILE, skipped_lines

    table = Table("metric", "value", title=f"{result.meta['n_samples']} samples")
    for key, value in result.metrics.items():
        table.add_row(key, f"{value:.4g}")
    console.print(table)
    for line in skipped_lines(result.meta.get("skipped", {})):
        console.print(f"[yellow]skipped[/] {line}", soft_wrap=True)
    console.print("\n[bold]What this shows[/]", highlight=False)
    for line in (page.parent / SUMMARY_FILE).read_text(encoding="utf-8").splitlines()[1:]:
        console.print(line, soft_wrap=True, highlight=False, markup=False)


def _settings(coverage_cutoffs: str, skip: str, known: str):  # type: ignore[no-untyped-def]
    """The metric settings the flags ask for (errors name the flag)."""
    from xtalgen.evaluation.assembly import MetricSettings, resolve_known

    struct_cut, comp_cut = _cutoffs(coverage_cutoffs)
    try:
        table = resolve_known(known)
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"--known: {exc}") from None
    try:
        return MetricSettings(coverage_cutoffs=(struct_cut, comp_cut), known_structures=table,
                              skip=frozenset(n.strip() for n in skip.split(",") if n.strip()))  # fmt: skip
    except ValueError as exc:
        raise typer.BadParameter(f"--skip: {exc}") from None


def _generation_record(generated: Path) -> dict:
    """The generation record of a generation folder (empty otherwise), with its rejected-list file name."""
    from xtalgen.data.generation_folder import REJECTED_FILE, read_generation_meta

    record = read_generation_meta(generated) if generated.is_dir() else {}
    return {**record, "rejected_file": REJECTED_FILE}


@app.command("relax")
def relax_cmd(
    source: Path = typer.Argument(..., help="Structures: generation dir, folder, CSV with a 'cif' column, or file."),
    output: Path = typer.Option(..., "-o", "--output", help="Directory for relaxed CIFs, summary.csv, relax.jsonl."),
    steps: int = typer.Option(200, min=0, help="Maximum FIRE steps."),
    fmax: float = typer.Option(0.1, min=1e-4, help="Force convergence (eV/Å)."),
    workers: int = typer.Option(2, min=1, help="Worker processes."),
    limit: int | None = typer.Option(None, min=1, help="Relax only the first N structures."),
    potential: str = typer.Option("chgnet", "--potential", help="chgnet or sevennet (extra xtalgen[sevennet])."),
    relax_engine: str = typer.Option("auto", help=RELAX_ENGINE_HELP),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in OUTPUT: reuse its relax.jsonl records whose structure and "
        "settings match, relax the rest."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an earlier run in OUTPUT (its CIFs, tables and relax.jsonl)."
    ),
) -> None:
    """Relax structures with CHGNet or SevenNet (FIRE, cell free); resumable with --resume."""
    from pymatgen.core import Structure

    from xtalgen.data.generation_folder import GENERATION_ENTRIES, Candidate, write_generation
    from xtalgen.evaluation.sources import load_generated
    from xtalgen.postprocess.potentials import energy_model
    from xtalgen.postprocess.relax_resume import relax_resumable

    names = potential_names(potential)
    if len(names) > 1:
        fail_line(f"--potential: relax takes one potential, got {', '.join(names)}; run it once per potential")
    if not source.exists():
        raise fail(console, f"generated source not found: {source}")
    claim_output_dir(console, output, GENERATION_ENTRIES | {RELAX_RECORD}, overwrite=overwrite, resume=resume,
                     resume_files={RELAX_RECORD}, inputs=[source])  # fmt: skip
    try:
        gen = load_generated(source, limit=limit)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(console, _naming(source, exc)) from None
    if len(gen) == 0:
        raise fail(console, f"{source}: no structures found")
    items = [(i, s) for i, s in zip(gen.ids, gen.structures, strict=True) if s is not None]
    engine = parse_relax_engine(relax_engine)
    try:
        model = energy_model(names[0], steps=steps, fmax=fmax, engine=engine)
    except ValueError as exc:
        fail_line(f"--relax-engine: {exc}")
    done, stale = relax_resumable(model, items, output / RELAX_RECORD, workers=workers, progress=not quiet)
    for sid, why in list(stale.items())[:5]:
        console.print(f"[yellow]note:[/] relaxed {escape(sid)} again: {escape(why)}", soft_wrap=True, highlight=False)
    if len(stale) > 5:
        console.print(f"[yellow]note:[/] relaxed {len(stale) - 5} more structures again for the same reasons")
    candidates = []
    for sid, reason in zip(gen.ids, gen.reasons, strict=True):
        rec = done.get(sid)
        if rec is None or rec.get("error") or not rec.get("structure"):
            why = (rec or {}).get("error") or reason or "no structure"
            candidates.append(Candidate(sid, None, {}, accepted=False, reason=f"not relaxed: {why}"))
            continue
        info = {k: rec.get(k) for k in ("energy_per_atom", "initial_energy_per_atom", "max_force", "converged",
                                        "steps", "rmsd", "volume_change")}  # fmt: skip
        candidates.append(Candidate(sid, Structure.from_dict(rec["structure"]), info))
    summary = write_generation(output, candidates)
    ok = sum(c.accepted for c in candidates)
    console.print(f"relaxed {ok}/{len(candidates)} structures; {summary}", highlight=False)


@export_app.command("vasp")
def export_vasp_cmd(
    source: Path = typer.Argument(..., help="Evaluation report dir (ranked by E_hull) or any structure source."),
    output: Path = typer.Option(..., "-o", "--output", help="Directory: one VASP input folder per candidate."),
    top: int | None = typer.Option(None, min=1, help="Export only the best N candidates."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an earlier export in OUTPUT (candidate folders, candidates.csv)."
    ),
) -> None:
    """Write MPRelaxSet inputs (POSCAR, INCAR, KPOINTS, POTCAR or POTCAR.spec) for candidates."""
    from xtalgen.pipelines.vasp_export import export_vasp, owned_by_export, select_candidates

    if not source.exists():
        raise fail(console, f"source not found: {source}")
    claim_output_dir(console, output, owned_by_export, overwrite=overwrite, inputs=[source])
    try:
        chosen = select_candidates(source, top=top)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(console, _naming(source, exc)) from None
    if not chosen:
        raise fail(console, f"no structures found in {source}")
    result = export_vasp(chosen, output)
    console.print(f"wrote VASP inputs for {len(result.written)} candidates into {result.out_dir}", highlight=False)
    for cid, why in result.failed.items():
        console.print(f"[yellow]skipped[/] {escape(cid)}: {escape(why)}", soft_wrap=True, highlight=False)
    if result.message:
        console.print(f"[yellow]note:[/] {result.message}")
