"""``xtalgen generate``: sample structures from a model and write CIFs plus ``summary.csv``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from xtalgen.cli.main import app

console = Console()


class GeneratorModel(str, Enum):
    pgcgm = "pgcgm"
    crystens_gan = "crystens-gan"
    crystens_wgan = "crystens-wgan"
    crystens_diffusion = "crystens-diffusion"
    pyxtal_random = "pyxtal-random"


CRYSTENS_MODELS = (GeneratorModel.crystens_gan, GeneratorModel.crystens_wgan, GeneratorModel.crystens_diffusion)


class CountMode(str, Enum):
    accepted = "accepted"
    candidates = "candidates"


def _choose_model(model: GeneratorModel | None, pretrained: str | None) -> GeneratorModel:
    """--model as given; without it, the kind of --pretrained, else pgcgm."""
    if model is not None or pretrained is None:
        return model or GeneratorModel.pgcgm
    from xtalgen.pretrained import pretrained_info

    try:
        return GeneratorModel(pretrained_info(pretrained).kind)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None


def _pretrained_checkpoint(model: GeneratorModel, pretrained: str | None) -> tuple[Path | None, str, dict]:
    """(checkpoint folder, problem, generation.json record): the named or default shipped model of MODEL's
    kind, sha256-checked."""
    from xtalgen.pretrained import pretrained_checkpoint, resolve_pretrained

    try:
        info = resolve_pretrained(model.value, pretrained)
        folder = pretrained_checkpoint(info.name)
    except ValueError as exc:
        if pretrained is None:  # no default of this kind ships
            return None, (f"--model {model.value} needs --checkpoint (a run folder or checkpoint from "
                          f"`xtalgen train`): {exc}"), {}  # fmt: skip
        return None, str(exc), {}
    except FileNotFoundError as exc:
        return None, str(exc), {}
    console.print(f"using pretrained model [bold]{info.name}[/] (version {info.version}, {info.kind})")
    return folder, "", {"pretrained": info.name, "pretrained_version": info.version}


def _check_options(
    model: GeneratorModel,
    checkpoint: Path | None,
    train_data: Path | None,
    elements: list[str],
    formula: str | None,
    pretrained: str | None = None,
) -> tuple[Path | None, dict]:
    """Reject option combinations that make no sense for MODEL, before any work starts; return the checkpoint
    and what ``generation.json`` records about a shipped model.

    A learned MODEL without --checkpoint uses the shipped model --pretrained NAME, or the default one.
    """
    problems = []
    record: dict = {}
    if model is GeneratorModel.pyxtal_random:
        if train_data is None:
            problems.append("--model pyxtal-random needs --train (compositions and space groups are drawn from it)")
        if checkpoint is not None or pretrained is not None:
            problems.append("--model pyxtal-random has no checkpoint")
    elif checkpoint is not None and pretrained is not None:
        problems.append("give either --checkpoint or --pretrained, not both")
    elif checkpoint is None:
        checkpoint, problem, record = _pretrained_checkpoint(model, pretrained)
        if problem:
            problems.append(problem)
    elif not checkpoint.exists():
        problems.append(f"checkpoint {checkpoint} does not exist")
    if elements and model is not GeneratorModel.pgcgm:
        problems.append("--elements is a PGCGM condition; use --formula with crystens-diffusion")
    if formula and model is not GeneratorModel.crystens_diffusion:
        problems.append("--formula conditions only crystens-diffusion")
    if train_data is not None and not train_data.exists():
        problems.append(f"training data {train_data} does not exist")
    if problems:
        for p in problems:
            console.print(f"[red]error:[/] {p}", soft_wrap=True)
        raise typer.Exit(2)
    return checkpoint, record


@app.command("generate")
def generate(
    model: GeneratorModel | None = typer.Option(
        None, "--model", help="Generator to sample from (default: pgcgm, or the kind of --pretrained)."
    ),
    n: int = typer.Option(100, "-n", min=1, help="Number of structures (PGCGM: see --count) to generate."),
    output: Path = typer.Option(Path("generated"), "-o", "--output", help="Output folder (cifs/, summary.csv)."),
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="Trained model (run folder or checkpoint); default: the shipped pretrained model."
    ),
    pretrained: str | None = typer.Option(
        None, "--pretrained", help="Shipped pretrained model to use, by name (see `xtalgen models`)."
    ),
    spacegroup: list[int] = typer.Option([], "--spacegroup", help="Space group number(s) to condition on."),
    elements: list[str] = typer.Option([], "--elements", help="PGCGM element sets, e.g. --elements Ba,Ti,O."),
    formula: str | None = typer.Option(None, "--formula", help="Composition for crystens-diffusion, e.g. SrTiO3."),
    train_data: Path | None = typer.Option(None, "--train", help="Prepared training set (pyxtal-random)."),
    guidance_scale: float = typer.Option(2.0, help="Classifier-free guidance scale (crystens-diffusion)."),
    impute: bool | None = typer.Option(
        None,
        "--impute/--no-impute",
        help="crystens-diffusion: enforce the requested space group / formula entries at every denoising step "
        "(default: on with --formula).",
    ),
    formula_units: int | None = typer.Option(
        None, "--formula-units", min=1, help="crystens-diffusion with imputation: formula units per cell."
    ),
    project_symmetry: bool | None = typer.Option(
        None,
        "--project-symmetry/--no-project-symmetry",
        help="crystens-diffusion: project every denoising step onto the requested space group (lattice onto its "
        "crystal system, atoms onto a Wyckoff assignment of the cell); default: on with --impute, --spacegroup "
        "and --formula.",
    ),
    occupancy_lock: float | None = typer.Option(
        None, "--occupancy-lock", min=0.0, max=1.0,
        help="CrysTens: empty 'phantom' slots (Z entries just above the presence threshold, the rest of the "
        "slot's header empty) from this fraction of the noise schedule on (0.5: the second half of the reverse "
        "process; 0: final sample only, also for the GANs). Off by default.",
    ),
    steps: int = typer.Option(50, help="Sampling steps (crystens-diffusion, DDIM)."),
    seed: int = typer.Option(0, help="Random seed."),
    workers: int = typer.Option(2, min=1, help="Worker processes for post-processing."),
    symprec: float = typer.Option(0.1, help="spglib tolerance (Å) for the space group written in each CIF."),
    snap: bool = typer.Option(
        True, "--snap/--no-snap", help="PGCGM: move base sites onto the special positions their images point to."
    ),
    rescale_volume: bool = typer.Option(
        True, "--rescale-volume/--no-rescale-volume",
        help="PGCGM: scale each cell to the volume its composition predicts (per-element volumes fitted to MP).",
    ),
    max_formula_atoms: int = typer.Option(
        10, "--max-formula-atoms", min=0,
        help="PGCGM: reject reduced formulas with more atoms (99th percentile of its training materials); 0: no limit.",
    ),
    distance_factor: float = typer.Option(
        0.73, "--distance-factor", min=0.01, max=1.99,
        help="PGCGM: reject contacts shorter than this fraction of the summed atomic radii (1st percentile "
        "of its training materials; the paper's bound is 0.5).",
    ),
    max_primitive_sites: int = typer.Option(
        20, "--max-primitive-sites", min=0,
        help="PGCGM: reject primitive cells with more atoms (largest training cell); 0: no limit.",
    ),
    count: CountMode = typer.Option(
        CountMode.accepted, "--count",
        help="PGCGM: 'accepted' draws candidates until N pass post-processing (rejects in rejected.csv); "
        "'candidates' draws exactly N and lists every one in summary.csv.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an earlier run's output in OUTPUT (cifs/, summary.csv...)."
    ),
) -> None:
    """Generate N structures with MODEL; write them as CIFs and list them in summary.csv."""
    model = _choose_model(model, pretrained)
    checkpoint, record = _check_options(model, checkpoint, train_data, elements, formula, pretrained)
    own_options = impute is not None or formula_units is not None or project_symmetry is not None
    if own_options and model is not GeneratorModel.crystens_diffusion:
        console.print("[red]error:[/] --impute/--no-impute, --formula-units and --project-symmetry apply only to "
                      "crystens-diffusion", soft_wrap=True)  # fmt: skip
        raise typer.Exit(2)
    if occupancy_lock is not None and model not in CRYSTENS_MODELS:
        console.print("[red]error:[/] --occupancy-lock applies only to the CrysTens models", soft_wrap=True)
        raise typer.Exit(2)
    if any(not 1 <= sg <= 230 for sg in spacegroup):
        console.print(f"[red]error:[/] space group numbers must be in 1..230, got {spacegroup}", soft_wrap=True)
        raise typer.Exit(2)
    element_sets = [[e.strip() for e in group.split(",") if e.strip()] for group in elements]
    from xtalgen.cli.output_paths import claim_output_dir
    from xtalgen.pipelines.output import GENERATION_ENTRIES

    claim_output_dir(console, output, GENERATION_ENTRIES, overwrite=overwrite, inputs=[checkpoint, train_data])
    try:
        if model is GeneratorModel.pgcgm:
            from xtalgen.pipelines.pgcgm_generate import generate_pgcgm

            summary = generate_pgcgm(
                n, output, checkpoint=checkpoint, seed=seed, spacegroup=spacegroup or None,
                elements=element_sets or None, workers=workers, symprec=symprec, snap=snap,
                rescale_volume=rescale_volume, max_formula_atoms=max_formula_atoms or None, count=count.value,
                distance_factor=distance_factor, max_primitive_sites=max_primitive_sites or None,
                meta=record,
            )  # fmt: skip
        elif model is GeneratorModel.pyxtal_random:
            from xtalgen.pipelines.baseline_pyxtal import generate_pyxtal_random

            summary = generate_pyxtal_random(n, output, train=train_data, seed=seed, workers=workers, symprec=symprec)
        else:
            from xtalgen.pipelines.crystens_generate import generate_crystens

            summary = generate_crystens(
                n, output, checkpoint=checkpoint, seed=seed, spacegroup=spacegroup[0] if spacegroup else None,
                formula=formula, guidance_scale=guidance_scale, impute=impute, formula_units=formula_units,
                project_symmetry=project_symmetry, occupancy_lock=occupancy_lock,
                sampling_steps=steps, workers=workers, symprec=symprec, meta=record,
            )  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    _print_summary(Path(summary))


def _print_summary(summary: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(summary)
    from xtalgen.pipelines.output import REJECTED_FILE, read_generation_meta

    rejected_csv = summary.parent / REJECTED_FILE
    if rejected_csv.is_file():  # only the columns counted below (all-NA columns would warn in pandas)
        cols = [c for c in ("accepted", "reason") if c in frame]
        rejected = pd.read_csv(rejected_csv)
        frame = pd.concat([frame[cols], rejected.reindex(columns=cols)], ignore_index=True)
    accepted = int(frame["accepted"].sum()) if "accepted" in frame else len(frame)
    console.print(f"{accepted} of {len(frame)} candidates accepted; CIFs in [bold]{summary.parent / 'cifs'}[/]")
    meta = read_generation_meta(summary.parent)
    if meta.get("count") == "accepted" and accepted < int(meta.get("n", 0)):
        console.print(f"[yellow]warning:[/] only {accepted} of the {meta['n']} requested structures passed "
                      f"post-processing within {len(frame)} candidates (the limit); see the rejection reasons",
                      soft_wrap=True)  # fmt: skip
    if "reason" in frame and accepted < len(frame):
        reasons = frame.loc[~frame["accepted"].astype(bool), "reason"].fillna("").value_counts().head(8)
        for reason, count in reasons.items():
            console.print(f"  rejected: {reason or 'unspecified'}: {count}")
    console.print(f"summary: [bold]{summary}[/]")
