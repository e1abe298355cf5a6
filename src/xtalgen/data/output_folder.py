"""Check an output path before a command starts its work, and hand a command a clean output folder.

Every command that writes a folder (generate, relax, evaluate, export vasp, crystens decode) calls
:func:`prepare_output_dir` first: a path that is a file, lies under a file or cannot be written is
refused at once (not after the work), and a folder that already holds files is refused unless the user
asked to replace the command's earlier output (``overwrite``: what the command owns is deleted, other
files are left alone) or to continue it (``resume``: the command's resume record is kept, the rest of
what it owns is deleted and written again). So a folder never mixes results of two runs.
Commands that write one file (data prepare, crystens encode) call :func:`check_output_file`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path


class OutputPathError(ValueError):
    """The output path cannot be used; the message is one line naming the path and the reason."""


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    return probe


def _try_write(folder: Path) -> None:
    """Create and delete a temporary file in ``folder`` (OSError when the folder cannot be written)."""
    with tempfile.TemporaryFile(dir=folder, prefix=".xtalgen-write-check-"):
        pass


def _check_can_write_in(folder: Path, path: Path, what: str) -> None:
    """Raise OutputPathError unless files can be written in ``folder`` (made if missing) for output ``path``."""
    base = _nearest_existing(folder.absolute())
    if not base.is_dir():
        raise OutputPathError(f"{what} {path}: {base} is a file, not a folder")
    try:
        _try_write(base)
    except OSError as exc:
        raise OutputPathError(f"{what} {path}: cannot write into {base} ({exc.strerror or exc})") from None


def check_output_file(path: str | os.PathLike[str], what: str = "output file") -> None:
    """Raise OutputPathError when ``path`` cannot be written as a file (a folder, under a file, read-only)."""
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(f"{what} {target} is a folder; give a file name")
    _check_can_write_in(target.parent, target, what)


def _as_predicate(owned: Collection[str] | Callable[[Path], bool]) -> Callable[[Path], bool]:
    if callable(owned):
        return owned
    names = set(owned)
    return lambda p: p.name in names


def prepare_output_dir(
    path: str | os.PathLike[str],
    owned: Collection[str] | Callable[[Path], bool],
    *,
    overwrite: bool = False,
    resume: bool = False,
    resume_files: Collection[str] = (),
    inputs: Sequence[str | os.PathLike[str]] = (),
    what: str = "output folder",
) -> list[Path]:
    """Make ``path`` ready for a run, before any work; return the entries deleted.

    ``owned``: names of the entries the command writes at the top of the folder, or a predicate on
    them. An empty or missing folder is fine. A non-empty one is refused unless ``overwrite`` (owned
    entries are deleted) or ``resume`` (owned entries other than ``resume_files`` are deleted; only
    meaningful when the command can resume). ``inputs``: the command's sources; a folder that is or
    contains one of them is never cleared. Raises OutputPathError with a one-line reason.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{what} {out} is a file, not a folder")
    _check_can_write_in(out, out, what)
    if not out.is_dir():
        return []
    entries = sorted(out.iterdir())
    if not entries:
        return []
    if not (overwrite or resume):
        shown = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries[:4])
        more = f" and {len(entries) - 4} more" if len(entries) > 4 else ""
        hint = "--resume to continue the earlier run or --overwrite to replace it" if resume_files else (
            "--overwrite to replace what an earlier run wrote there")
        raise OutputPathError(f"{what} {out} is not empty (it holds {shown}{more}): pass {hint}, "
                              "or choose another folder")  # fmt: skip
    resolved = out.resolve()
    for source in inputs:
        src = Path(source).resolve()
        if src == resolved or resolved in src.parents:
            raise OutputPathError(f"{what} {out} holds the input {source}; write to another folder")
    owns = _as_predicate(owned)
    keep = set(resume_files) if resume and not overwrite else set()
    removed = []
    for entry in entries:
        if entry.name in keep or not owns(entry):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(entry)
    return removed
