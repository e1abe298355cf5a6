"""The ``xtalgen`` command line: thin typer commands over the library."""

from __future__ import annotations

import typer

from xtalgen import __version__

app = typer.Typer(
    name="xtalgen",
    help="Generate inorganic crystal structures with physics- and symmetry-guided models, and judge them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xtalgen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """xtalgen command line."""


# --- sub-commands: each module registers itself on ``app`` (one line per module below) ---
from xtalgen.cli import data as _data  # noqa: E402,F401
from xtalgen.cli import train as _train  # noqa: E402,F401
from xtalgen.cli import generate as _generate  # noqa: E402,F401
from xtalgen.cli import crystens as _crystens  # noqa: E402,F401
from xtalgen.cli import evaluate as _evaluate  # noqa: E402,F401
from xtalgen.cli import models as _models  # noqa: E402,F401
from xtalgen.cli import energies as _energies  # noqa: E402,F401
from xtalgen.cli import screen as _screen  # noqa: E402,F401
