"""``xtalgen models``: list the pretrained models shipped with the package."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
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
    table = Table(title="pretrained models")
    for col in ("name", "kind", "version", "size MB", "trained on", "steps", "key metrics"):
        table.add_column(col, justify="right" if col in ("size MB", "steps") else "left")
    if verify:
        table.add_column("files")
    problems = []
    for info in infos:
        row = [
            info.name + (" *" if info.name in defaults else ""), info.kind, info.version, f"{info.size_mb:.2f}",
            _trained_on(info.data), str(info.steps), _metric_text(info.metrics),
        ]  # fmt: skip
        if verify:
            try:
                verify_files(info)
                row.append("[green]ok[/]")
            except (ValueError, FileNotFoundError) as exc:
                row.append("[red]damaged[/]")
                problems.append(str(exc))
        table.add_row(*row)
    console.print(table)
    for problem in problems:
        console.print(f"[red]error:[/] {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
