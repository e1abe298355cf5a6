"""Output-path checks shared by the commands: refuse a bad output path in one line, before any work."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape


def fail(console: Console, message: object, code: int = 2) -> typer.Exit:
    """Print ``error: MESSAGE`` as one unwrapped line (no markup read from it); return the Exit to raise."""
    console.print(f"[red]error:[/] {escape(str(message))}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def claim_output_dir(
    console: Console,
    path: Path,
    owned: Collection[str] | Callable[[Path], bool],
    *,
    overwrite: bool,
    resume: bool = False,
    resume_files: Collection[str] = (),
    inputs: Sequence[Path | None] = (),
) -> None:
    """:func:`xtalgen.data.output_folder.prepare_output_dir`, with its refusal as a one-line error (exit 2)."""
    from xtalgen.data.output_folder import OutputPathError, prepare_output_dir

    try:
        removed = prepare_output_dir(path, owned, overwrite=overwrite, resume=resume, resume_files=resume_files,
                                     inputs=[p for p in inputs if p is not None])  # fmt: skip
    except OutputPathError as exc:
        raise fail(console, exc) from None
    if removed and overwrite:
        names = ", ".join(p.name for p in removed[:6]) + (f" and {len(removed) - 6} more" if len(removed) > 6 else "")
        console.print(f"[yellow]note:[/] replacing the earlier output in {escape(str(path))} (removed {escape(names)})",
                      soft_wrap=True, highlight=False)  # fmt: skip


def claim_output_file(console: Console, path: Path, what: str = "output file") -> None:
    """:func:`xtalgen.data.output_folder.check_output_file`, with its refusal as a one-line error (exit 2)."""
    from xtalgen.data.output_folder import OutputPathError, check_output_file

    try:
        check_output_file(path, what)
    except OutputPathError as exc:
        raise fail(console, exc) from None
