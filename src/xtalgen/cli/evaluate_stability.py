"""``xtalgen evaluate --stability`` (and ``relax``): energy models, stability metrics and their report notes
from the command's flags (--potential, --relax-engine, --reference-energies); errors name the flag."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from xtalgen.cli.output_paths import fail

console = Console()
#: Help of --relax-engine (relax, evaluate, screen).
RELAX_ENGINE_HELP = ("auto, batched (many structures per potential call; CHGNet) or ase (one structure at a time); "
                     "auto: batched for CHGNet, ase for SevenNet.")  # fmt: skip
#: Help of --early-stop (evaluate).
EARLY_STOP_HELP = ("Stop relaxing a structure that is clearly far above its hull (CHGNet, batched engine, a shipped "
                   "reference table); its E_hull is the one at the stop, an upper bound.")  # fmt: skip


def fail_line(message: str) -> NoReturn:
    """Print one error line and exit with status 2."""
    raise fail(console, message)


def potential_names(text: str, option: str = "--potential") -> list[str]:
    """The potentials ``text`` names, checked now (unknown name, missing extra) with a one-line error."""
    from xtalgen.postprocess.potentials import PotentialUnavailable, parse_potentials

    try:
        return parse_potentials(text)
    except (ValueError, PotentialUnavailable) as exc:
        fail_line(f"{option}: {exc}")


def stability_metric(
    energy_model: object,
    spec: str,
    train: Path | None,
    subset: int | None = None,
    seed: int = 0,
    shipped_train: str = "",
) -> list:
    """A Stability metric that knows its reference energies (table or --train).

    ``shipped_train``: the pretrained model whose shipped training structures stand in for --train; they
    cannot make hull references (no elements or binaries), so the reference-energy table is required.
    """
    from xtalgen.evaluation.reference_table import reference_dir
    from xtalgen.evaluation.stability import Stability

    try:
        stability = Stability(energy_model, reference_energies=spec, subset=subset, seed=seed)  # type: ignore[arg-type]
    except (FileNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"--reference-energies: {exc}") from None
    if "train" in stability.needs and shipped_train:
        tag = getattr(energy_model, "reference_tag", "?")
        missing = "cannot compute hull references from the shipped training structures"
        if spec == "auto":
            missing = f"needs the reference-energy table {tag}.parquet, which is not installed in {reference_dir()}"
        console.print(
            f"[red]error:[/] --stability {missing}: convex hulls need the energies of the elements and binaries, "
            f"and the training structures shipped with {shipped_train} are ternaries only. Reinstall xtalgen with "
            "the table, give one with --reference-energies TABLE (made by `xtalgen data energies`), or pass "
            "--train with a prepared dataset that holds the elements and binaries.",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    if "train" in stability.needs and train is None:
        raise typer.BadParameter(
            "--stability needs --train (hull references computed from it) or --reference-energies TABLE"
        )
    return stability


def more_potentials(
    names: list[str], models: dict[str, object], train: Path | None, shipped_train: str, subset: int | None, seed: int,
) -> list:  # fmt: skip
    """Stability under each further potential and their agreement (run after ``e_hull``); empty for one potential.

    Reference energies of a further potential: its shipped table if there is one, else computed from
    --train for the chemical systems needed and cached in the cache folder.
    """
    from xtalgen.evaluation.potential_agreement import PotentialAgreement, PotentialStability

    if len(names) < 2:
        return []
    extra: list = []
    for name in names[1:]:
        metric = PotentialStability(name, models[name], reference_energies="auto", subset=subset, seed=seed)  # type: ignore[arg-type]
        if "train" in metric.needs and (train is None or shipped_train):
            tag = getattr(models[name], "reference_tag", name)
            fail_line(f"--potential {name}: no reference-energy table {tag}.parquet is installed, so its hull "
                      "references are computed from --train (only the chemical systems needed, cached): pass --train "
                      "with a prepared dataset that holds the elements and binaries (e.g. the Materials Project ≤ 20 "
                      "sites).")
        extra.append(metric)
    extra.append(PotentialAgreement(names))
    return extra


def with_stability(settings, names: list[str], models: dict[str, object], reference_energies: str,  # type: ignore[no-untyped-def]
                   train: Path | None, shipped: str, subset: int | None, seed: int):
    """``settings`` with the stability metric of the first potential and those of the others."""
    metric = stability_metric(models[names[0]], reference_energies, train, subset, seed, shipped)
    more = more_potentials(names, models, train, shipped, subset, seed)
    return replace(settings, stability=metric, more_stability=tuple(more),
                   potential=getattr(models[names[0]], "name", ""))  # fmt: skip


def energy_models(
    names: list[str], steps: int, fmax: float, relax_references: bool, relax_engine: str = "auto",
    early_stop: bool = False,
) -> dict[str, object]:
    """One energy model per potential name, with the relaxation settings of the flags."""
    from xtalgen.postprocess.early_stop import EarlyStopRule
    from xtalgen.postprocess.potentials import energy_model

    engine = parse_relax_engine(relax_engine)
    other = [n for n in names if n != "chgnet"]
    if early_stop and other:
        fail_line(f"--early-stop: needs CHGNet's batched engine, not {other[0]}")
    rule = EarlyStopRule() if early_stop else None
    try:
        return {n: energy_model(n, steps=steps, fmax=fmax, relax_references=relax_references, engine=engine,
                                early_stop=rule) for n in names}  # fmt: skip
    except ValueError as exc:
        fail_line(f"--relax-engine: {exc}")


def parse_relax_engine(text: str) -> str | None:
    """The engine --relax-engine names (None for 'auto': each potential's default)."""
    choice = text.strip().lower()
    if choice not in ("auto", "batched", "ase"):
        fail_line(f"--relax-engine: choose auto, batched or ase, got {text!r}")
    return None if choice == "auto" else choice


def note_stability(result: Any, names: list[str], models: dict[str, object], settings: dict[str, Any]) -> None:
    """Record the relaxation ``settings`` of --stability and the further potentials of a --potential a,b run in
    the report's meta and notes."""
    result.meta["stability_settings"] = {**settings, "potentials": names}
    if len(names) < 2:
        return
    result.meta["energy_models"] = {n: m.name for n, m in models.items()}  # type: ignore[attr-defined]
    result.meta["notes"].append(
        f"Stability under {len(names)} potentials: {', '.join(names)}. Per-sample columns e_hull, relax_* and the "
        f"relaxed/ CIFs are {names[0]}'s; e_hull_<potential>, relax_*_<potential> and relaxed_<potential>/ the "
        f"others'. S.U.N. (stability.sun_rate) uses {names[0]}; agreement.sun_rate asks for metastability under "
        "every potential.")  # fmt: skip
