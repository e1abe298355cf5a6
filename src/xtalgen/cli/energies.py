"""``xtalgen data energies``: the reference-energy table (CHGNet or SevenNet, eV/atom) of a dataset, for E_hull."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from xtalgen.cli.data import data_app

console = Console(soft_wrap=True)


@data_app.command("energies")
def energies(
    dataset: Path = typer.Argument(..., help="Prepared dataset (.parquet) or any structure source (CSV, folder)."),
    output: Path = typer.Option(..., "-o", "--output", help="Reference-energy table to write (.parquet)."),
    split: str | None = typer.Option(None, help="Only this split (train, val or test) [default: all entries]."),
    batch_size: int = typer.Option(32, min=1, help="Structures per CHGNet forward pass."),
    chunk: int = typer.Option(2000, min=1, help="Structures per resumable chunk (written when finished)."),
    workers: int = typer.Option(1, min=1, help="Worker processes (each takes whole chunks, one thread)."),
    potential: str = typer.Option("chgnet", "--potential", help="chgnet or sevennet (extra xtalgen[sevennet])."),
    model: str | None = typer.Option(None, help="Model of the potential [default: CHGNet 0.3.0, SevenNet 7net-l3i5]."),
    limit: int | None = typer.Option(None, min=1, help="Only the first N entries (trial runs)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing table."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Static CHGNet or SevenNet energies of DATASET's structures as a compact table; re-run to resume."""
    from xtalgen.cli.evaluate_stability import fail_line, potential_names
    from xtalgen.cli.output_paths import claim_output_file
    from xtalgen.pipelines.reference_energies import compute_reference_energies, parts_dir

    names = potential_names(potential)
    if len(names) > 1:
        fail_line(f"--potential: one potential per table, got {', '.join(names)}")
    claim_output_file(console, output, "output table")  # a folder, under a file or read-only: before any work
    try:
        result = compute_reference_energies(
            dataset, output, split=split, batch_size=batch_size, chunk=chunk, workers=workers,
            model_name=model, limit=limit, overwrite=overwrite, progress=not quiet, potential=names[0],
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        done = len(list(parts_dir(output).glob("chunk-*.parquet")))
        console.print(f"[yellow]interrupted[/] with {done} chunk(s) finished; re-run the same command to continue")
        raise typer.Exit(130) from None
    console.print(
        f"wrote [bold]{result.path}[/]: {result.n_rows} entries, {result.size_bytes / 1e6:.2f} MB "
        f"({result.n_chunks} chunks, {result.chunks_reused} from an earlier run; "
        f"{result.wall_s:.0f} s wall, {result.cpu_s:.0f} CPU-s)"
    )
    if result.n_failed:
        from xtalgen.evaluation.reference_table import failures_path

        console.print(f"[yellow]{result.n_failed} entries failed[/]: see {failures_path(result.path)}")
