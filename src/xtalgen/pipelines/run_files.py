"""Files a model's generation reads from its training run (such as a table of conditions), looked up from
a checkpoint folder: the folder itself, ``checkpoints/``, the run folder, and the folder above (a shipped
model's folder holds them beside its weights). Plain paths only, so light modules can use it."""

from __future__ import annotations

from pathlib import Path

#: Folders searched: the start folder and up to this many minus one of its parents.
LEVELS = 4


def find_run_file(folder: Path, name: str) -> Path | None:
    """The file ``name`` in ``folder`` or the nearest of its first 3 parents, or None."""
    found = (f / name for f in [folder, *folder.parents][:LEVELS])
    return next((path for path in found if path.is_file()), None)
