"""``xtalgen crystens``: encode datasets into CrysTens arrays and decode arrays back into CIFs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from xtalgen.cli.main import app

crystens_app = typer.Typer(help="Encode/decode the CrysTens (4 x N x N) crystal tensor.", no_args_is_help=True)
app.add_typer(crystens_app, name="crystens")
console = Console()


def _source(dataset: Path, split: str | None):
    """A PreparedDataset for .parquet files, otherwise structures read from a CSV/folder/file."""
    if dataset.suffix.lower() in (".parquet", ".pq"):
        from xtalgen.data.dataset import load_dataset

        ds = load_dataset(dataset)
        return ds.subset(split=split) if split else ds, None
    if split:
        raise typer.BadParameter("--split needs a prepared dataset (.parquet from `xtalgen data prepare`)")
    from xtalgen.data.readers import read_structures
    from xtalgen.data.records import ReadReport

    report = ReadReport()
    return read_structures(dataset, report=report), report


@crystens_app.command("encode")
def encode_cmd(
    dataset: Path = typer.Argument(..., help="Prepared dataset (.parquet) or a CSV ('cif' column) / folder / file."),
    output: Path = typer.Option(..., "-o", "--output", help="Array file (.npy); config/ids/skips go beside it."),
    size: int = typer.Option(64, "--size", help="Tensor side N: 64 (52 atoms, as in the paper) or 32 (20 atoms)."),
    cell: str = typer.Option("auto", help="auto|conventional|primitive|as_given (auto: conventional if it fits)."),
    order: str = typer.Option("canonical", help="Atom order: canonical (by Z, x, y, z) or as_given."),
    distance: str = typer.Option("fractional", help="Layer 0: fractional (paper) or cartesian (Å, minimum image)."),
    symprec: float = typer.Option(0.1, help="spglib tolerance (Å) for the space group and standard cells."),
    empty_gap: float = typer.Option(
        0.0, "--empty-gap", help="Map every quantity onto [-1 + GAP, 1] so filled and empty entries differ by at "
        "least GAP (0: paper-like scales; see docs/models/crystens.md)."),
    config: Path | None = typer.Option(None, help="A CrysTens config JSON to use instead of the options above."),
    split: str | None = typer.Option(None, help="Only this split of a prepared dataset (train, val, test)."),
    workers: int = typer.Option(2, min=1, help="Worker processes."),
) -> None:
    """Encode every structure of DATASET into one memory-mappable float32 array of CrysTens."""
    from xtalgen.cli.output_paths import claim_output_file
    from xtalgen.representations.crystens import CrysTensConfig, encode_dataset

    if not dataset.exists():
        console.print(f"[red]error:[/] {dataset} does not exist", soft_wrap=True)
        raise typer.Exit(2)
    claim_output_file(console, output)
    if size not in (32, 64):
        raise typer.BadParameter("--size must be 32 or 64")
    try:
        cfg = (CrysTensConfig.from_json(config) if config else
               CrysTensConfig(size=size, cell=cell, ordering=order, distance=distance, symprec=symprec))  # type: ignore[arg-type]
        if empty_gap:
            if config:
                raise ValueError("--empty-gap: set the scales in the --config JSON instead (not both)")
            cfg = cfg.with_empty_gap(empty_gap)
        source, read_report = _source(dataset, split)
        report = encode_dataset(source, output, cfg, workers=workers)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    table = Table(title=f"CrysTens {cfg.size}x{cfg.size}, cell={cfg.cell}")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row("encoded", str(report.encoded))
    for reason, count in report.counts_by_reason().items():
        table.add_row(f"skipped: {reason}", str(count))
    if read_report is not None:
        for reason, count in read_report.counts_by_reason().items():
            table.add_row(f"unreadable: {reason}", str(count))
    console.print(table)
    console.print(f"wrote [bold]{report.paths['array']}[/], {report.paths['config'].name}, "
                  f"{report.paths['ids'].name}, {report.paths['skipped'].name}")


@crystens_app.command("decode")
def decode_cmd(
    file: Path = typer.Argument(..., help="CrysTens array (.npy) with its .config.json (and .ids.txt) beside it."),
    output: Path = typer.Option(..., "-o", "--output", help="Folder for cifs/ and summary.csv (diagnostics)."),
    config: Path | None = typer.Option(None, help="Config JSON, if not the one beside FILE."),
    snap: bool = typer.Option(True, "--snap/--no-snap", help="Snap onto the space group the tensor states."),
    symprec: float = typer.Option(0.1, help="spglib tolerance (Å) used to state the space group in CIFs."),
    limit: int | None = typer.Option(None, min=1, help="Decode only the first LIMIT tensors."),
    workers: int = typer.Option(2, min=1, help="Worker processes."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an earlier decode's output in OUTPUT (cifs/, summary.csv...)."
    ),
) -> None:
    """Decode CrysTens into CIFs (with their real space group) and a CSV of per-sample diagnostics."""
    import numpy as np

    from xtalgen.cli.output_paths import claim_output_dir
    from xtalgen.data.generation_folder import GENERATION_ENTRIES, Candidate, write_generation
    from xtalgen.representations.crystens import CrysTensConfig, DecodeOptions, decode_many, load_encoded

    claim_output_dir(console, output, GENERATION_ENTRIES, overwrite=overwrite, inputs=[file])
    try:
        if config is None:
            encoded = load_encoded(file)
            tensors, ids, cfg = encoded.tensors, encoded.ids, encoded.config
        else:
            cfg = CrysTensConfig.from_json(config)
            tensors = np.load(file, mmap_mode="r")
            if tensors.ndim == 3:
                tensors = tensors[None]
            ids = [f"sample_{i:06d}" for i in range(len(tensors))]
    except (ValueError, FileNotFoundError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if limit is not None:
        tensors, ids = tensors[:limit], ids[:limit]
    try:
        results = decode_many(tensors, cfg, DecodeOptions(snap_symmetry=snap), progress=True, workers=workers)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    candidates = [Candidate(id=i, structure=r.structure, info=r.row(), accepted=r.ok, reason=r.reason)
                  for i, r in zip(ids, results, strict=True)]
    summary = write_generation(output, candidates, symprec=symprec)
    n_ok = sum(r.ok for r in results)
    n_snapped = sum(r.symmetry == "snapped" for r in results)
    console.print(f"decoded {n_ok}/{len(results)} (snapped to the stated space group: {n_snapped}); "
                  f"wrote [bold]{output / 'cifs'}[/] and {summary}")
