"""``xtalgen train MODEL``: train PGCGM or a CrysTens model from a config file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from xtalgen.cli.main import app

console = Console()


@app.command("train")
def train(
    model: str = typer.Argument(..., help="Which model family to train (see `xtalgen models`)."),
    data: Path = typer.Option(..., "--data", help="Prepared dataset (.parquet) or encoded training arrays."),
    config: str | None = typer.Option(
        None, "--config",
        help="YAML/TOML config file, or a bundled config: full name (pgcgm_cpu) or short (cpu, for MODEL); "
        "defaults apply when omitted.",
    ),  # fmt: skip
    output: Path = typer.Option(..., "-o", "--output", help="Run folder: checkpoints, logs, config."),
    resume: bool = typer.Option(False, "--resume", help="Continue exactly from the latest checkpoint in OUTPUT."),
    overrides: list[str] = typer.Option([], "--set", help="Override a config entry, e.g. --set max_steps=500."),
) -> None:
    """Train MODEL on DATA; checkpoints (safetensors + JSON) go to OUTPUT and can be resumed."""
    from xtalgen.pipelines.families import get_family, trainable_kinds

    try:
        family = get_family(model)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if family.train is None:
        console.print(f"[red]error:[/] model {model!r} is not trained (trainable: {', '.join(trainable_kinds())})",
                      soft_wrap=True)  # fmt: skip
        raise typer.Exit(2)
    if not data.exists():
        console.print(f"[red]error:[/] training data {data} does not exist", soft_wrap=True)
        raise typer.Exit(2)
    config_file = None
    if config is not None:
        from xtalgen.configs import resolve_config

        try:
            config_file = resolve_config(config, model)
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(2) from None
    try:
        checkpoint = family.train(data, config_file, output, resume=resume, overrides=list(overrides))
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if _is_rank_zero():
        console.print(f"final checkpoint: [bold]{checkpoint}[/]")


def _is_rank_zero() -> bool:
    """True in a single process and in the first process of a distributed (DDP) run."""
    import os

    return all(os.environ.get(var, "0") == "0" for var in ("RANK", "LOCAL_RANK", "NODE_RANK"))
