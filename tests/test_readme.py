"""The README's main-job command works as written (minus the pip installs), end to end."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> tuple[str, str]:
    blocks = re.findall(r"```bash\n(.*?)\n```", (REPO / "README.md").read_text(), flags=re.S)
    return blocks[0].strip(), blocks[1].strip()


def test_test_command_matches_ci() -> None:
    _, tests = _readme_commands()
    ci = (REPO / ".ci" / "run").read_text()
    pytest_part = tests.split("&&")[-1].strip()
    assert pytest_part.startswith("python -m pytest")
    assert pytest_part in ci
    assert "torch==2.13.0" in tests and "torch==2.13.0" in ci


def test_main_job_runs(tmp_path: Path) -> None:
    main_job, _ = _readme_commands()
    steps = [s.strip() for s in main_job.split("&&") if not s.strip().startswith("pip ")]
    assert steps[0].startswith("xtalgen data prepare")
    for step in steps:
        argv = [a.replace("out/", f"{tmp_path}/out/") for a in shlex.split(step)]
        cmd = [sys.executable, "-m", "xtalgen.cli", *argv[1:]]
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (step, proc.stdout[-2000:], proc.stderr[-2000:])
    out = tmp_path / "out"
    summary = pd.read_csv(out / "generated" / "summary.csv")
    assert len(summary) == 20 and summary["accepted"].sum() > 0
    cifs = sorted((out / "generated" / "cifs").glob("*.cif"))
    assert len(cifs) == summary["accepted"].sum()
    assert (out / "report" / "report.html").stat().st_size > 10_000
    assert (out / "tiny.parquet.stats" / "spacegroups.png").is_file()
