"""``xtalgen generate``: sample structures from a model family and write CIFs plus ``summary.csv``.

The options every family shares are command-line options; a family's own options are set with
``--set key=value`` and validated by its options class (``--help-options`` lists them). The flags of
earlier releases (``--steps 20``, ``--no-snap``, ``--train DATA``...) are read as ``--set`` entries.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from xtalgen.cli.main import app

console = Console()
DEFAULT_MODEL = "pgcgm"


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def _choose_family(model: str | None, pretrained: str | None) -> Any:
    """The family of --model; without it, that of --pretrained's kind, else pgcgm."""
    from xtalgen.pipelines.families import get_family

    try:
        if model is None and pretrained is not None:
            from xtalgen.pretrained import pretrained_info

            model = pretrained_info(pretrained).kind
        return get_family(model or DEFAULT_MODEL)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _checkpoint(family: Any, checkpoint: Path | None, pretrained: str | None) -> tuple[Path | None, dict]:
    """(checkpoint folder, generation.json record): --checkpoint, or the named / default shipped model."""
    kind = family.kind
    if not family.needs_checkpoint:
        if checkpoint is not None or pretrained is not None:
            raise _fail(f"--model {kind} has no checkpoint")
        return None, {}
    if checkpoint is not None and pretrained is not None:
        raise _fail("give either --checkpoint or --pretrained, not both")
    if checkpoint is not None:
        if not checkpoint.exists():
            raise _fail(f"checkpoint {checkpoint} does not exist")
        return checkpoint, {}
    from xtalgen.pretrained import pretrained_checkpoint, resolve_pretrained

    try:
        info = resolve_pretrained(kind, pretrained)
        folder = pretrained_checkpoint(info.name)
    except ValueError as exc:
        if pretrained is None:  # no default of this kind ships
            raise _fail(f"--model {kind} needs --checkpoint (a run folder or checkpoint from `xtalgen train`): "
                        f"{exc}") from None  # fmt: skip
        raise _fail(str(exc)) from None
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None
    console.print(f"using pretrained model [bold]{info.name}[/] (version {info.version}, {info.kind})")
    return folder, {"pretrained": info.name, "pretrained_version": info.version}


def _is_shipped(name: str) -> bool:
    """True if ``name`` is a shipped pretrained model's name."""
    from xtalgen.pretrained import pretrained_info

    try:
        pretrained_info(name)
    except (ValueError, KeyError, FileNotFoundError):
        return False
    return True


def _is_flag(tp: Any) -> bool:
    return tp is bool or (typing.get_origin(tp) in (typing.Union, types.UnionType) and bool in typing.get_args(tp))


def legacy_settings(args: list[str], options: type) -> list[str]:
    """Earlier releases' family flags as ``key=value`` entries: ``--steps 20`` -> ``steps=20``,
    ``--no-snap`` -> ``snap=false``, ``--impute`` -> ``impute=true``. ValueError for anything else."""
    hints = typing.get_type_hints(options)
    out: list[str] = []
    i = 0
    while i < len(args):
        name, eq, value = args[i].partition("=")
        key = name.removeprefix("--").replace("-", "_")
        i += 1
        if not name.startswith("--"):
            raise ValueError(f"unexpected argument {args[i - 1]!r}")
        if key not in hints and key.startswith("no_") and _is_flag(hints.get(key[3:])):
            out.append(f"{key[3:]}=false")
        elif key not in hints:
            raise ValueError(f"no such option: {name} (family options: {', '.join(hints)}; see --help-options)")
        elif _is_flag(hints[key]) and not eq:
            out.append(f"{key}=true")
        else:
            if not eq:
                if i >= len(args):
                    raise ValueError(f"option {name} needs a value")
                value, i = args[i], i + 1
            out.append(f"{key}={value}")
    return out


def _type_text(tp: Any) -> str:
    """``float``, ``int | None``, ``accepted|candidates`` (the allowed values of a Literal)."""
    if typing.get_origin(tp) is typing.Literal:
        return "|".join(str(v) for v in typing.get_args(tp))
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def _print_options(family: Any) -> None:
    hints = typing.get_type_hints(family.options)
    console.print(f"[bold]{family.kind}[/]: {family.summary}")
    console.print("options (--set key=value):")
    for key, default in family.option_defaults().items():
        console.print(f"  {key} ({_type_text(hints[key])}) = {default!r}",
                      soft_wrap=True, highlight=False, markup=False)  # fmt: skip
    doc = inspect.cleandoc(family.options.__doc__ or "")
    if doc:
        console.print(doc, soft_wrap=True, highlight=False, markup=False)


@app.command("generate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def generate(
    ctx: typer.Context,
    model: str | None = typer.Option(
        None, "--model", help="Model family (see `xtalgen models`); default: pgcgm, or the kind of --pretrained."
    ),
    n: int = typer.Option(100, "-n", min=1, help="Number of structures (PGCGM: see count in --help-options)."),
    output: Path = typer.Option(Path("generated"), "-o", "--output", help="Output folder (cifs/, summary.csv)."),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint",
        help="Trained model: a run folder, a checkpoint, or a shipped model's name (`xtalgen models`); "
        "default: the family's shipped model.",
    ),
    pretrained: str | None = typer.Option(
        None, "--pretrained", hidden=True, help="Shipped pretrained model by name (same as --checkpoint NAME)."
    ),
    spacegroup: list[int] = typer.Option([], "--spacegroup", help="Space group number(s) to condition on."),
    elements: list[str] = typer.Option([], "--elements", help="PGCGM element sets, e.g. --elements Ba,Ti,O."),
    formula: str | None = typer.Option(None, "--formula", help="Composition for crystens-diffusion, e.g. SrTiO3."),
    seed: int = typer.Option(0, help="Random seed."),
    workers: int = typer.Option(2, min=1, help="Worker processes for post-processing."),
    settings: list[str] = typer.Option(
        [], "--set", help="A family option, e.g. --set steps=20 (keys and defaults: --help-options)."
    ),
    help_options: bool = typer.Option(
        False, "--help-options", help="List the family options of --model (keys for --set) with defaults; exit."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an earlier run's output in OUTPUT (cifs/, summary.csv...)."
    ),
) -> None:
    """Generate N structures with MODEL; write them as CIFs and list them in summary.csv."""
    from xtalgen.pipelines.families import GenerationRequest
    from xtalgen.pipelines.generation import generate as run_generation
    from xtalgen.pipelines.generation import prepare

    if pretrained is None and checkpoint is not None and not checkpoint.exists() and _is_shipped(str(checkpoint)):
        checkpoint, pretrained = None, str(checkpoint)  # --checkpoint NAME: a shipped model
    family = _choose_family(model, pretrained)
    if help_options:
        _print_options(family)
        return
    element_sets = tuple(tuple(e.strip() for e in group.split(",") if e.strip()) for group in elements)
    request = GenerationRequest(n, seed, workers, tuple(spacegroup), element_sets, formula)
    try:
        entries = [*settings, *legacy_settings(list(ctx.args), family.options)]
        family, opts = prepare(family, request, entries)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    folder, record = _checkpoint(family, checkpoint, pretrained)
    request = dataclasses.replace(request, checkpoint=folder, meta=record)
    from xtalgen.cli.output_paths import claim_output_dir
    from xtalgen.data.generation_folder import GENERATION_ENTRIES

    train = getattr(opts, "train", None)
    claim_output_dir(console, output, GENERATION_ENTRIES, overwrite=overwrite,
                     inputs=[folder, Path(train) if train else None])  # fmt: skip
    try:
        result = run_generation(family, request, output, opts)
    except (ValueError, FileNotFoundError) as exc:
        raise _fail(str(exc), 1) from None
    _print_result(result)


def _print_result(result: Any) -> None:
    """The counts of a generation run, the most frequent rejection reasons and where the files are."""
    accepted, total = len(result.accepted), len(result.candidates)
    console.print(f"{accepted} of {total} candidates accepted; CIFs in [bold]{result.folder / 'cifs'}[/]")
    if result.shortfall:
        console.print(f"[yellow]warning:[/] only {accepted} of the {result.record['n']} requested structures "
                      f"passed post-processing within {total} candidates (the limit); see the rejection reasons",
                      soft_wrap=True)  # fmt: skip
    for reason, count in result.rejection_counts(8):
        console.print(f"  rejected: {reason or 'unspecified'}: {count}")
    if result.record.get("diversity"):
        from xtalgen.evaluation.diversity import format_diversity

        console.print(format_diversity(result.record["diversity"]), highlight=False)
    console.print(f"summary: [bold]{result.summary}[/]")
