"""The one progress-bar style of every long loop in xtalgen (rich): label, bar, done/total, elapsed, remaining.

Lowest layer (depends on rich only), so data, representations, postprocess, evaluation and pipelines share it.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(
    label: str | None = None,
    *,
    console: Console | None = None,
    disable: bool = False,
    remaining: bool = True,
    extra: tuple[str, ...] = (),
) -> Progress:
    """A rich ``Progress`` with xtalgen's columns; use it as a context manager and ``add_task`` on it.

    ``label``: fixed bold text in front (None: each task's own description). ``remaining``: show the time
    left. ``extra``: further text columns after the bar, e.g. ``"skipped {task.fields[skipped]}"``.
    """
    columns: list[ProgressColumn] = [
        TextColumn(f"[bold]{label}" if label is not None else "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    if remaining:
        columns.append(TimeRemainingColumn())
    columns += [TextColumn(text) for text in extra]
    return Progress(*columns, console=console, disable=disable, transient=False)
