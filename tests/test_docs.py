"""The command documentation cannot drift silently from the command line.

* every leaf command of ``xtalgen`` has a page ``docs/commands/<path joined by '-'>.md`` and every page
  there belongs to a command;
* each page names every long option of its command;
* every ``xtalgen ...`` line in a fenced ``bash`` block of the docs (commands pages, tutorial, API page,
  quick start, README) names an existing command path whose ``--help`` exits 0, and uses only options
  that command has.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from xtalgen.cli.main import app

REPO = Path(__file__).resolve().parents[1]
COMMANDS_DIR = REPO / "docs" / "commands"
DOC_FILES = sorted(COMMANDS_DIR.glob("*.md")) + [
    REPO / "docs" / name for name in ("tutorial_perov5.md", "api.md", "quickstart.md")
] + [REPO / "README.md"]  # fmt: skip
NON_COMMAND_PAGES = {"index"}


def _root() -> Any:
    """The click command tree of ``xtalgen`` (typer ships its own copy of click, so duck-typed below)."""
    return typer.main.get_command(app)


def _is_group(cmd: Any) -> bool:
    return hasattr(cmd, "commands")


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _leaf_commands() -> dict[tuple[str, ...], Any]:
    """Every runnable command, by its path of names (``("data", "prepare")``)."""
    out: dict[tuple[str, ...], Any] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if _is_group(cmd):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        else:
            out[path] = cmd

    walk(_root(), ())
    return out


def _long_options(cmd: Any) -> set[str]:
    names = set()
    for param in cmd.params:
        if _is_option(param):
            names.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return names - {"--help"}


def _all_options(cmd: Any) -> set[str]:
    names = {"--help"}
    for param in cmd.params:
        if _is_option(param):
            names.update((*param.opts, *param.secondary_opts))
    return names


def _bash_commands(path: Path) -> list[str]:
    """``xtalgen ...`` invocations in the fenced bash blocks of a markdown file (one per command)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line):
                words = shlex.split(part, comments=True)
                if words and words[0] == "xtalgen":
                    found.append(" ".join(words))
    return found


def _resolve(words: list[str]) -> tuple[tuple[str, ...], Any, list[str]]:
    """(command path, command, remaining words) of ``xtalgen`` argv words."""
    cmd = _root()
    path: list[str] = []
    rest = list(words)
    while _is_group(cmd) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        if name not in cmd.commands:
            raise KeyError(f"no command {' '.join(['xtalgen', *path, name])}")
        cmd = cmd.commands[name]
        path.append(name)
    return tuple(path), cmd, rest


def test_every_command_has_a_page_and_every_page_a_command() -> None:
    leaves = _leaf_commands()
    assert ("data", "prepare") in leaves and ("evaluate",) in leaves  # the walk itself works
    pages = {p.stem for p in COMMANDS_DIR.glob("*.md")} - NON_COMMAND_PAGES
    expected = {"-".join(path) for path in leaves}
    assert sorted(expected - pages) == [], "commands without a page in docs/commands/"
    assert sorted(pages - expected) == [], "pages in docs/commands/ for commands that do not exist"
    index = (COMMANDS_DIR / "index.md").read_text(encoding="utf-8")
    assert [name for name in sorted(expected) if f"({name}.md)" not in index] == [], "index.md must link every page"


@pytest.mark.parametrize("path", sorted(_leaf_commands()), ids="-".join)
def test_page_documents_every_option(path: tuple[str, ...]) -> None:
    page = (COMMANDS_DIR / f"{'-'.join(path)}.md").read_text(encoding="utf-8")
    assert f"xtalgen {' '.join(path)}" in page
    missing = sorted(o for o in _long_options(_leaf_commands()[path]) if f"`{o}`" not in page)
    assert missing == [], f"docs/commands/{'-'.join(path)}.md does not document {missing}"


def _documented_invocations() -> list[tuple[str, str]]:
    return [(f"{p.relative_to(REPO)}", c) for p in DOC_FILES if p.is_file() for c in _bash_commands(p)]


def test_docs_show_commands() -> None:
    shown = _documented_invocations()
    pages = {page for page, _ in shown}
    assert len(shown) > 30
    assert "docs/tutorial_perov5.md" in pages and "docs/commands/evaluate.md" in pages


@pytest.mark.parametrize("page,command", _documented_invocations())
def test_documented_command_exists_with_its_options(page: str, command: str) -> None:
    path, cmd, rest = _resolve(shlex.split(command)[1:])
    if _is_group(cmd):  # only `xtalgen [group] --help` / `--version` make sense on a group
        assert rest and set(rest) <= _all_options(cmd), f"{page}: '{command}' names a group, not a command"
        return
    used = {w.split("=", 1)[0] for w in rest if w.startswith("-") and w != "-" and not _is_number(w)}
    unknown = sorted(used - _all_options(cmd))
    assert unknown == [], f"{page}: '{command}' uses options that xtalgen {' '.join(path)} does not have"


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def test_help_of_every_documented_command_path_exits_0() -> None:
    paths = {_resolve(shlex.split(c)[1:])[0] for _, c in _documented_invocations()}
    runner = CliRunner()
    for path in sorted(paths):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output[-1000:])
    # and once through the real entry point, as a user runs it
    proc = subprocess.run([sys.executable, "-m", "xtalgen.cli", "data", "prepare", "--help"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "--symprec" in proc.stdout, proc.stderr[-1000:]


def test_resolve_rejects_unknown_commands_and_options() -> None:
    with pytest.raises(KeyError, match="xtalgen data nosuch"):
        _resolve(["data", "nosuch", "x"])
    path, cmd, rest = _resolve(["evaluate", "gen", "--nosuch", "1"])
    assert path == ("evaluate",) and "--nosuch" not in _all_options(cmd) and "--stability" in _all_options(cmd)
