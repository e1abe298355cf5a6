"""A shared assertion of the pipeline tests: a bad ``--set`` value stops ``xtalgen generate`` in one line."""

from __future__ import annotations

from pathlib import Path


def assert_refused_in_one_line(sets: list[str], message: str, out: Path) -> None:
    """``xtalgen generate`` with the shipped ternary model and ``--set`` entries ``sets`` stops with ``message`` in
    at most two printed lines (no traceback)."""
    from typer.testing import CliRunner

    from xtalgen.cli.main import app

    args = ["generate", "--checkpoint", "pgcgm-mp-ternary", "-n", "2", "-o", str(out)]
    result = CliRunner().invoke(app, args + [x for s in sets for x in ("--set", s)])
    assert result.exit_code != 0
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert message in " ".join(result.output.split()), result.output
    assert len(lines) <= 2, result.output
