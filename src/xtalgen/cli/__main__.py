"""``python -m xtalgen.cli`` runs the ``xtalgen`` command."""

from xtalgen.cli.main import app

app()
