"""The family registry: a toy family becomes available to generate and models by registering it alone;
no code outside the registry and the families' own folders branches on a model kind."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.data.generation_folder import Candidate
from xtalgen.pipelines.families import Family, SampleBatch, SamplingOptions, families, get_family, register, unregister

SRC = Path(__file__).resolve().parents[2] / "src" / "xtalgen"
FAMILY_HOMES = ("pipelines/pgcgm/", "pipelines/crystens/", "pipelines/pyxtal/", "pipelines/families.py")
KIND_NAMES = r"(pgcgm|crystens-gan|crystens-wgan|crystens-diffusion|pyxtal-random|gan|wgan|diffusion)"
BRANCH = re.compile(
    rf"(==|!=|\bis\b|\bin\b)\s*\(?\s*\"{KIND_NAMES}\"|\"{KIND_NAMES}\"\s*(==|!=)|class \w+\(str, Enum\)"
)


@dataclass
class ToyOptions(SamplingOptions):
    """Toy options: ``side`` is the cubic cell edge (Å)."""

    side: float = 3.0
    element: str = "Cu"


def _sample_toy(request, opts: ToyOptions) -> SampleBatch:
    rng = np.random.default_rng(request.seed)
    cands = [Candidate(f"toy-{i}", Structure(Lattice.cubic(opts.side), [opts.element], [rng.random(3)]))
             for i in range(request.n)]  # fmt: skip
    return SampleBatch(cands, {"model": "toy", "n": request.n, "seed": request.seed})


@pytest.fixture
def toy():
    family = register(Family("toy", "a toy family: one random atom in a cube", ToyOptions, _sample_toy,
                             needs_checkpoint=False))  # fmt: skip
    yield family
    unregister("toy")


def test_toy_family_generates_through_the_cli(toy, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "toy"
    result = runner.invoke(app, ["generate", "--model", "toy", "-n", "3", "--set", "element=Fe", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 of 3 candidates accepted" in result.output
    assert sorted(p.name for p in (out / "cifs").glob("*.cif")) == ["toy-0.cif", "toy-1.cif", "toy-2.cif"]
    assert "Fe" in (out / "cifs" / "toy-0.cif").read_text()
    listing = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0 and "toy" in listing.output and "a toy family" in listing.output
    helped = runner.invoke(app, ["generate", "--model", "toy", "--help-options"])
    assert helped.exit_code == 0 and "side (float) = 3.0" in helped.output and "element (str) = 'Cu'" in helped.output


def test_family_options_are_validated_with_the_allowed_keys(toy, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "--model", "toy", "--set", "sid=2", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "unknown key sid" in result.output and "element, side, symprec" in result.output
    result = runner.invoke(app, ["generate", "--model", "toy", "--set", "side=big", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "side: expected a number" in result.output
    result = runner.invoke(app, ["generate", "--model", "toy", "--formula", "NaCl", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "toy does not take it" in result.output
    result = runner.invoke(app, ["generate", "--model", "toy", "--side", "2", "-o", str(tmp_path / "y")])
    assert result.exit_code == 0, result.output  # earlier releases' flag form, read as --set side=2
    assert not (tmp_path / "x").exists()


def test_builtin_families_and_their_options() -> None:
    assert list(families())[:5] == ["pgcgm", "crystens-gan", "crystens-wgan", "crystens-diffusion", "pyxtal-random"]
    opts = get_family("crystens-diffusion").parse_options(["steps=4", "impute=false"])
    assert opts.steps == 4 and opts.impute is False
    with pytest.raises(ValueError, match="allowed: .*distance_factor"):
        get_family("pgcgm").parse_options(["distance=0.5"])
    with pytest.raises(ValueError, match="registered models: pgcgm"):
        get_family("nope")
    with pytest.raises(ValueError, match="already registered"):
        register(Family("pgcgm", "", SamplingOptions, _sample_toy))


def test_no_family_branching_outside_the_registry() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(FAMILY_HOMES):
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if BRANCH.search(line):
                offenders.append(f"{rel}:{no}: {line.strip()}")
    assert not offenders, "family branching outside the registry:\n" + "\n".join(offenders)


def test_toy_family_output_is_evaluated(toy, tmp_path: Path) -> None:
    """What a registered family writes is an ordinary generation folder that `xtalgen evaluate` scores."""
    runner = CliRunner()
    out, report = tmp_path / "toy", tmp_path / "report"
    made = runner.invoke(app, ["generate", "--model", "toy", "-n", "3", "--set", "side=2.5", "-o", str(out)])
    assert made.exit_code == 0, made.output
    args = ["evaluate", str(out), "-o", str(report), "--workers", "1", "--quiet", "--known", "none",
            "--cache-dir", str(tmp_path / "cache"), "--skip", "coverage"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((report / "metrics.json").read_text())["metrics"]
    assert metrics["validity.structural"] == 1.0  # one Cu atom in a 2.5 Å cube: nearest image 2.5 Å >= 0.5 Å
