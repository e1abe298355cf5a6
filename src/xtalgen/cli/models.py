"""``xtalgen models``: list the pretrained models shipped with the package."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xtalgen.cli.main import app


def _metric_text(metrics: dict[str, Any], limit: int = 4) -> str:
    parts = []
    for key, value in list(metrics.items())[:limit]:
        parts.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts) or "-"


def _trained_on(data: dict[str, Any]) -> str:
    text = data.get("description") or data.get("file") or "-"
    n = data.get("n_materials")
    return f"{text} (n={n})" if n else str(text)


#: Terminal width (columns) below which each model is printed as a block of lines instead of a table row.
WIDE_TABLE_COLUMNS = 120


def _print_table(console: Console, infos: list, defaults: set[str], checks: dict[str, str]) -> None:
    table = Table(title="pretrained models")
    for col in ("name", "kind", "version", "size MB", "trained on", "steps", "key metrics"):
        table.add_column(col, justify="right" if col in ("size MB", "steps") else "left")
    if checks:
        table.add_column("files")
    for info in infos:
        row = [
            info.name + (" *" if info.name in defaults else ""), info.kind, info.version, f"{info.size_mb:.2f}",
            _trained_on(info.data), str(info.steps), _metric_text(info.metrics),
        ]  # fmt: skip
        table.add_row(*row, *([checks[info.name]] if checks else []))
    console.print(table)


def _print_blocks(console: Console, infos: list, defaults: set[str], checks: dict[str, str]) -> None:
    """One block per model (name line, then indented fields): readable in an 80-column terminal."""
    console.print("[bold]pretrained models[/] (* default of its kind)")
    for info in infos:
        star = " *" if info.name in defaults else ""
        console.print(f"\n[bold]{escape(info.name)}[/]{star}", highlight=False)
        fields = [("kind", info.kind), ("version", info.version), ("size", f"{info.size_mb:.2f} MB"),
                  ("steps", str(info.steps)), ("trained on", _trained_on(info.data)),
                  ("key metrics", _metric_text(info.metrics))]  # fmt: skip
        grid = Table.grid(padding=(0, 1), pad_edge=True)  # long values wrap inside their column
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        for key, value in fields:
            grid.add_row(f" {key}:", escape(str(value)))
        if checks:
            grid.add_row(" files:", checks[info.name])
        console.print(grid, highlight=False)


def _print_families(console: Console) -> None:
    """The registered model families: what `xtalgen generate --model` and `xtalgen train` accept."""
    from xtalgen.pipelines.families import families

    table = Table(title="model families (--model; family options: xtalgen generate --model M --help-options)")
    for col in ("model", "conditions", "trainable", "about"):
        table.add_column(col)
    for kind, fam in families().items():
        conditions = ", ".join(f"--{c}" for c in sorted(fam.conditions)) or "-"
        table.add_row(kind, conditions, "yes" if fam.train is not None else "no", fam.summary)
    console.print(table)


@app.command("models")
def models(
    verify: bool = typer.Option(False, "--verify", help="Also check every file against its recorded sha256."),
) -> None:
    """List the model families and the shipped pretrained models (* marks the default of each kind)."""
    from xtalgen.pretrained import list_pretrained, registry_dir, verify_files
    from xtalgen.pretrained.registry import read_registry

    console = Console()  # per call, so the terminal width (COLUMNS) is read when the command runs
    _print_families(console)
    try:
        infos = list_pretrained()
        defaults = set(read_registry()["defaults"].values())
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if not infos:
        console.print(f"no pretrained models registered in {registry_dir()}")
        return
    problems = []
    checks: dict[str, str] = {}
    if verify:
        for info in infos:
            try:
                verify_files(info)
                checks[info.name] = "[green]ok[/]"
            except (ValueError, FileNotFoundError) as exc:
                checks[info.name] = "[red]damaged[/]"
                problems.append(str(exc))
    if console.width < WIDE_TABLE_COLUMNS:
        _print_blocks(console, infos, defaults, checks)
    else:
        _print_table(console, infos, defaults, checks)
    for problem in problems:
        console.print(f"[red]error:[/] {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
