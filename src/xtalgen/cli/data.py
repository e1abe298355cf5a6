"""``xtalgen data``: prepare datasets, describe them, fetch public benchmarks."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xtalgen.cli.main import app
from xtalgen.cli.output_paths import claim_output_file, fail
from xtalgen.progress import progress_bar

data_app = typer.Typer(help="Prepare, describe and fetch structure datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()


def _int_set(text: str | None, what: str) -> frozenset[int] | None:
    if not text:
        return None
    values: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                values.update(range(lo, hi + 1))
            else:
                values.add(int(part))
        except ValueError:
            raise typer.BadParameter(f"{what}: {part!r} is not a number or range like 3-5") from None
    return frozenset(values)


def _species(text: str | None) -> tuple[str, ...] | None:
    """``--species``: comma-separated element symbols, checked."""
    if not text:
        return None
    from pymatgen.core import Element

    symbols = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [s for s in symbols if not Element.is_valid_symbol(s)]
    if bad or not symbols:
        raise typer.BadParameter(f"--species: {bad or text!r} are not element symbols (e.g. 'Na,Cl')")
    return symbols


#: File suffixes of a prepared dataset (`data prepare -o NAME` without one writes NAME.parquet).
PREPARED_SUFFIXES = (".parquet", ".pq")


def _count_entries(source: Path) -> int | None:
    """Number of raw entries (files, or CSV rows) for the progress bar; ValueError for an unusable CSV."""
    from xtalgen.data.readers import iter_raw_entries

    if source.is_dir():
        return sum(1 for _ in iter_raw_entries(source))
    if source.name.lower().endswith((".csv", ".csv.gz")):
        from xtalgen.data.csv_table import read_csv_table

        header = read_csv_table(source, nrows=0).columns
        if "cif" not in header:
            raise ValueError(f"{source}: a structure table needs a 'cif' column; found {list(header)}")
        return len(read_csv_table(source, usecols=["cif"]))
    return 1


def _dataset_path(output: Path) -> Path:
    """OUTPUT with the .parquet suffix a prepared dataset is recognised by (added, and said, when missing)."""
    if output.suffix.lower() in PREPARED_SUFFIXES:
        return output
    named = output.with_name(output.name + ".parquet")
    console.print(f"[yellow]note:[/] writing {escape(str(named))} (a prepared dataset is a .parquet file)",
                  soft_wrap=True, highlight=False)  # fmt: skip
    return named


@data_app.command("prepare")
def prepare(
    source: Path = typer.Argument(..., help="CSV/CSV.GZ with a 'cif' column, a folder of structure files, or a file."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Prepared dataset file to write (.parquet is added when missing)."
    ),
    symprec: float = typer.Option(0.1, help="spglib symmetry tolerance in Å (recorded in the dataset)."),
    max_sites: int | None = typer.Option(None, help="Reject structures with more sites than this."),
    elements: str | None = typer.Option(None, help="Keep only structures made of these elements, e.g. 'Ba,Ti,O'."),
    n_elements: str | None = typer.Option(None, help="Allowed numbers of distinct elements, e.g. '3' or '2-4'."),
    spacegroups: str | None = typer.Option(None, help="Allowed space group numbers, e.g. '225,221,62' or '195-230'."),
    n_base_sites: str | None = typer.Option(None, help="Allowed numbers of symmetry-independent sites, e.g. '3'."),
    split_seed: int = typer.Option(0, help="Seed of the hash split used when the source has no 'split' column."),
    workers: int = typer.Option(2, min=1, help="Worker processes."),
    timeout: float = typer.Option(10.0, help="Seconds allowed to parse one entry."),
    strict: bool = typer.Option(False, "--strict", help="Stop with an error at the first bad entry."),
    species: str | None = typer.Option(
        None, help="Element symbols, in order, for POSCARs without a species line, e.g. 'Na,Cl'."
    ),
) -> None:
    """Parse SOURCE once, analyse symmetry, filter, split and write one cached dataset file."""
    from xtalgen.data.prepare import PrepareFilters, prepare_dataset

    try:
        filters = PrepareFilters(
            max_sites=max_sites,
            elements=frozenset(e.strip() for e in elements.split(",")) if elements else None,
            n_elements=_int_set(n_elements, "--n-elements"),
            spacegroups=_int_set(spacegroups, "--spacegroups"),
            n_base_sites=_int_set(n_base_sites, "--n-base-sites"),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    species_list = _species(species)
    if not source.exists():
        console.print(f"[red]error:[/] {source} does not exist", soft_wrap=True)
        raise typer.Exit(2)
    output = _dataset_path(output)
    claim_output_file(console, output, "output dataset")
    start = time.perf_counter()
    try:
        total = _count_entries(source)
    except (ValueError, FileNotFoundError) as exc:
        raise fail(console, exc, code=1) from None
    with progress_bar("preparing", console=console, remaining=False) as bar:
        task = bar.add_task("prepare", total=total)
        try:
            result = prepare_dataset(
                source, output, symprec=symprec, filters=filters, split_seed=split_seed, workers=workers,
                timeout=timeout, on_error="raise" if strict else "skip", species=species_list,
                progress=lambda k: bar.advance(task, k),
            )  # fmt: skip
        except (ValueError, FileNotFoundError) as exc:
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
    elapsed = time.perf_counter() - start
    report = result.report
    table = Table(title=f"{source.name}: {report.total} entries in {elapsed:.1f} s")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row("[green]kept", str(result.kept))
    for reason, count in report.counts_by_reason().items():
        table.add_row(f"rejected: {reason}", str(count))
    table.add_row("[bold]total", str(report.total))
    console.print(table)
    splits = ", ".join(f"{k} {v}" for k, v in result.split_counts.items())
    console.print(f"splits: {splits}")
    console.print(f"wrote [bold]{result.path}[/] and the rejection report {result.report_path}")


@data_app.command("stats")
def stats(
    dataset: Path = typer.Argument(..., help="Prepared dataset file."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for PNG plots (default: <dataset>.stats/)."),
) -> None:
    """Print a summary table of a prepared dataset and write PNG plots of its distributions."""
    from xtalgen.data.dataset import load_dataset
    from xtalgen.data.stats import dataset_summary, plot_distributions

    try:
        ds = load_dataset(dataset)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    summary = dataset_summary(ds)
    table = Table(title=f"{dataset.name} (symprec {ds.symprec} Å)")
    table.add_column("quantity")
    table.add_column("value")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
    out = plots or dataset.with_name(dataset.name + ".stats")
    written = plot_distributions(ds, out)
    console.print(f"wrote {len(written)} plots to [bold]{out}[/]")


@data_app.command("fetch")
def fetch(
    name: str = typer.Argument(..., help="Benchmark to download: mp_20, perov_5 or carbon_24."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder to write train/val/test CSVs into."),
    timeout: float = typer.Option(60.0, help="Network timeout in seconds."),
) -> None:
    """Download a public benchmark's CSVs from where its authors publish them and verify checksums."""
    from xtalgen.data.fetch import FetchError, fetch_benchmark

    try:
        paths = fetch_benchmark(name, output, timeout=timeout)
    except FetchError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    for p in paths:
        console.print(f"wrote {p}")
