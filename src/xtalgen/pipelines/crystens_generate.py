"""Generate crystals with a trained CrysTens model: sample -> symmetrise -> decode -> CIFs + summary.csv.

Each row of ``summary.csv`` carries the decoder's diagnostics, the self-consistency metrics of the
model's raw output (``var_length``, ``coord_agreement``, ...: before mirrored entries are averaged, as
in the paper's Tables 1 and 2), the same metrics of the symmetrised tensor that was decoded
(``sym_*``) and ``asymmetry`` (mean |change| made by symmetrisation, normalised units).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.models.crystens import CrysTensDiffusion, Imputation, asymmetry, build_gan, build_wgan, symmetrise
from xtalgen.models.crystens.occupancy_lock import OccupancyLock
from xtalgen.models.crystens.symmetry_projection import SymmetryProjection
from xtalgen.pipelines.crystens_tasks import CONFIG_CLASSES
from xtalgen.pipelines.output import Candidate, write_generation
from xtalgen.pipelines.training import load_checkpoint, load_config
from xtalgen.representations.crystens import CrysTensConfig, DecodeOptions, consistency_metrics, decode
from xtalgen.representations.crystens.cell_composition import cell_numbers
from xtalgen.representations.crystens.config import FIRST_ATOM
from xtalgen.representations.crystens.known_entries import known_entries


def load_crystens_model(
    checkpoint: str | Path, use_ema: bool = True
) -> tuple[str, torch.nn.Module, Any, CrysTensConfig]:
    """(kind, sampling module, training config, CrysTens config) from a run folder or checkpoint.

    The module is the generator for GANs and the (EMA, when ``use_ema``) diffusion model, in eval mode.
    """
    ckpt = load_checkpoint(checkpoint)
    extra = ckpt.state.get("extra", {})
    kind = extra.get("kind")
    if kind not in CONFIG_CLASSES or "crystens" not in extra:
        raise ValueError(f"{ckpt.path} is not a CrysTens checkpoint (kind={kind!r})")
    raw_cfg = {k: v for k, v in ckpt.config.items() if not k.startswith("_")}
    cfg = load_config(CONFIG_CLASSES[kind], raw_cfg)
    ct = CrysTensConfig.from_dict(extra["crystens"])
    size = int(extra["size"])
    if kind in ("gan", "wgan"):
        gen = (build_gan if kind == "gan" else build_wgan)(size, cfg.model)[0]
        gen.load_state_dict(ckpt.module_state("generator"))
        module: torch.nn.Module = gen
    else:
        model = CrysTensDiffusion(size, cfg.model, cfg.conditioning, ct)
        modules = ckpt.state.get("modules", [])
        if not use_ema and "model" not in modules:
            raise ValueError(f"{ckpt.path} holds only the EMA weights (a packaged model): load it with use_ema=True")
        if use_ema and "ema" in modules:
            state = ckpt.module_state("ema")
            model.load_state_dict({k[len("shadow.") :]: v for k, v in state.items() if k.startswith("shadow.")})
        else:
            model.load_state_dict(ckpt.module_state("model"))
        module = model
    return kind, module.eval(), cfg, ct


def composition_vector(formula: str, n_elements: int) -> torch.Tensor:
    """Atomic fractions (n_elements,) of a formula such as ``SrTiO3`` (index Z - 1)."""
    from pymatgen.core import Composition, Element

    try:
        elements = Composition(formula).element_composition
    except Exception as exc:  # pymatgen raises several types for bad formulas
        raise ValueError(f"formula {formula!r}: cannot be parsed ({exc})") from None
    unknown = [str(el) for el in elements if not isinstance(el, Element)]
    if unknown:
        raise ValueError(f"formula {formula!r}: not chemical elements: {unknown}")
    amounts = {el.Z: float(amt) for el, amt in elements.items()}
    vec = torch.zeros(n_elements)
    for z, amount in amounts.items():
        if z > n_elements:
            raise ValueError(f"formula {formula!r}: Z={z} is beyond the model's {n_elements} elements")
        vec[z - 1] += amount
    if vec.sum() <= 0:
        raise ValueError(f"formula {formula!r}: empty composition")
    return vec / vec.sum()


def sample_tensors(
    kind: str, module: torch.nn.Module, n: int, *, seed: int = 0, batch_size: int = 64, spacegroup: int | None = None,
    composition: torch.Tensor | None = None, guidance_scale: float = 2.0, sampling_steps: int | None = None,
    sampler: str | None = None, progress: bool = True,
    impute: Imputation | SymmetryProjection | OccupancyLock | None = None,
) -> np.ndarray:  # fmt: skip
    """Raw model outputs (n, 4, N, N) float32, drawn in batches from a seeded generator.

    ``impute``: entries enforced at every denoising step (diffusion only; see :func:`request_imputation`),
    or a :class:`SymmetryProjection` (which runs its own imputation first; its ``displacements`` collect
    one (batch, 2) array per batch), or an :class:`OccupancyLock` (which runs either of them first).
    """
    if impute is not None and kind != "diffusion":
        raise ValueError(f"imputation needs a crystens-diffusion model (step-by-step sampling), not crystens-{kind}")
    conditioned = spacegroup is not None or composition is not None
    if conditioned and not (kind == "diffusion" and getattr(module, "conditional", False)):
        raise ValueError("space group / formula conditions need a conditional crystens-diffusion checkpoint")
    if spacegroup is not None and not 1 <= int(spacegroup) <= 230:
        raise ValueError(f"spacegroup: must be in 1..230, got {spacegroup}")
    gen = torch.Generator().manual_seed(seed)
    out = []
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"sampling crystens-{kind}", total=n)
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            with torch.no_grad():
                if kind == "diffusion":
                    sg = torch.full((b,), int(spacegroup)) if spacegroup is not None else None
                    comp = composition.expand(b, -1) if composition is not None else None
                    if conditioned and sg is None:
                        sg = torch.zeros(b, dtype=torch.long)
                    x = module.sample(b, steps=sampling_steps, sampler=sampler, spacegroup=sg, composition=comp,
                                      guidance_scale=guidance_scale, generator=gen, impute=impute)  # fmt: skip
                else:
                    x = module(torch.randn(b, module.latent_dim, generator=gen))
            out.append(x.float().cpu().numpy())
            bar.advance(task, b)
    return np.concatenate(out, axis=0)


def request_imputation(
    ct: CrysTensConfig, spacegroup: int | None = None, formula: str | None = None, formula_units: int | None = None
) -> tuple[Imputation, np.ndarray | None]:
    """The imputation for a request (space group and/or formula) and the cell's atomic numbers (None: no formula).

    The formula's cell follows :func:`xtalgen.representations.crystens.cell_composition.cell_numbers`
    (smallest Wyckoff-compatible number of formula units that fits, unless ``formula_units`` is given).
    """
    if spacegroup is None and formula is None:
        raise ValueError("impute: needs a formula and/or a space group to impute")
    if formula_units is not None and formula is None:
        raise ValueError("formula_units: only meaningful with a formula")
    numbers = cell_numbers(formula, ct, spacegroup, formula_units) if formula is not None else None
    return Imputation.from_known(known_entries(ct, spacegroup, numbers), ct), numbers


def _decode_one(args: tuple[np.ndarray, np.ndarray, dict[str, Any], DecodeOptions]) -> tuple[Any, dict[str, Any]]:
    sym, raw, ct_dict, options = args
    ct = CrysTensConfig.from_dict(ct_dict)
    result = decode(sym, ct, options)
    raw_metrics = {k: v for k, v in consistency_metrics(raw, ct).as_dict().items() if k != "n_atoms"}
    # the decoder's metrics describe the symmetrised tensor: keep them as sym_*, and give the plain
    # names (read by xtalgen.evaluation.consistency) to the raw output's metrics, as in the paper
    info = {(f"sym_{k}" if k in raw_metrics else k): v for k, v in result.row().items()}
    info.update(raw_metrics)
    return result.structure, info


def generate_crystens(
    n: int,
    out_dir: str | Path,
    *,
    checkpoint: str | Path | None,
    seed: int = 0,
    spacegroup: int | None = None,
    formula: str | None = None,
    guidance_scale: float = 2.0,
    impute: bool | None = None,
    formula_units: int | None = None,
    project_symmetry: bool | None = None,
    occupancy_lock: float | None = None,
    sampling_steps: int | None = None,
    sampler: str | None = None,
    workers: int = 2,
    symprec: float = 0.1,
    batch_size: int = 64,
    use_ema: bool = True,
    save_tensors: bool = False,
    decode_options: DecodeOptions | None = None,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Sample ``n`` CrysTens from ``checkpoint``, symmetrise, decode; write CIFs + ``summary.csv``; return it.

    ``spacegroup`` / ``formula`` condition a conditional diffusion model (classifier-free guidance
    ``guidance_scale``; 1 = plain conditional). ``impute`` (default: on when a ``formula`` is given) also
    enforces the entries the request fixes at every denoising step (:mod:`xtalgen.models.crystens.imputation`:
    space group, the atomic numbers of a cell of ``formula_units`` formula units, chosen by
    :func:`request_imputation` when None, and the empty slots); it works with an unconditional diffusion
    model too (imputation only). ``project_symmetry`` (default: on when imputing with both a ``spacegroup``
    and a ``formula``) also projects every step's x0 estimate onto the space group
    (:mod:`xtalgen.models.crystens.symmetry_projection`: lattice onto the crystal system, atoms onto the
    orbits of a Wyckoff assignment of the cell), so the group comes from the constraint; ``summary.csv``
    then records each sample's Wyckoff choice and its last-step displacement (``projection_max_displacement``,
    ``projection_rms_displacement``, Å). ``occupancy_lock`` (a fraction of the noise schedule, None: off)
    empties "phantom" slots — above the Z threshold, but with a header nearer an empty slot than an atom —
    from that point of the reverse process on (:mod:`xtalgen.models.crystens.occupancy_lock`; 0: only in the
    final sample, which also works for the GANs); ``summary.csv`` then records ``slots_locked``.
    ``sampling_steps``/``sampler`` ("ddim"/"ddpm") override the config's defaults. ``save_tensors`` also
    writes the raw outputs to ``tensors.npy``. ``meta`` adds to the ``generation.json`` record (model,
    checkpoint, n, seed).
    """
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    if checkpoint is None:
        raise ValueError("no CrysTens checkpoint given: a training run folder, or a shipped model's folder from "
                         "xtalgen.pretrained.pretrained_checkpoint(name)")
    kind, module, cfg, ct = load_crystens_model(checkpoint, use_ema=use_ema)
    do_impute = formula is not None if impute is None else bool(impute)
    if formula_units is not None and not do_impute:
        raise ValueError("formula_units: only used with imputation (impute=True)")
    imputation, numbers = None, None
    if do_impute:
        if kind != "diffusion":
            raise ValueError(f"impute: needs a crystens-diffusion model (step-by-step sampling), not crystens-{kind}")
        if spacegroup is not None and not 1 <= int(spacegroup) <= 230:
            raise ValueError(f"spacegroup: must be in 1..230, got {spacegroup}")
        imputation, numbers = request_imputation(ct, spacegroup, formula, formula_units)
    do_project = do_impute and spacegroup is not None and formula is not None
    if project_symmetry is not None:
        if project_symmetry and (spacegroup is None or formula is None):
            raise ValueError("project_symmetry: needs a space group and a formula (the Wyckoff assignment comes "
                             "from the cell's atoms)")  # fmt: skip
        if project_symmetry and not do_impute:
            raise ValueError("project_symmetry: needs imputation (impute=True), which fixes the cell's atoms")
        do_project = bool(project_symmetry)
    projection = None
    if do_project and numbers is not None and spacegroup is not None:  # both set whenever do_project
        projection = SymmetryProjection.for_request(ct, int(spacegroup), numbers, imputation)
    lock = None
    if occupancy_lock is not None:
        if numbers is not None:
            raise ValueError("occupancy_lock: the formula's imputation already fixes which slots hold atoms")
        if kind != "diffusion" and occupancy_lock != 0:
            raise ValueError(f"occupancy_lock: crystens-{kind} samples in one step; only 0 (final sample) applies")
        lock = OccupancyLock(ct, float(occupancy_lock), cfg.model.num_train_timesteps if kind == "diffusion" else 1,
                             inner=projection if projection is not None else imputation)  # fmt: skip
    learned = kind != "diffusion" or getattr(module, "conditional", False) or not do_impute
    composition = None
    if formula is not None and learned:
        n_el = cfg.conditioning.n_elements if kind == "diffusion" else 100
        composition = composition_vector(formula, n_el)
    hook = projection if projection is not None else imputation
    if lock is not None and kind == "diffusion":
        hook = lock
    raw = sample_tensors(
        kind, module, n, seed=seed, batch_size=batch_size, spacegroup=spacegroup if learned else None,
        composition=composition, guidance_scale=guidance_scale, sampling_steps=sampling_steps, sampler=sampler,
        progress=progress, impute=hook,
    )  # fmt: skip
    if lock is not None and kind != "diffusion":
        raw = lock.apply(torch.from_numpy(raw)).numpy()
    extra: dict[str, Any] = {"seed": seed}
    if spacegroup is not None:
        extra["spacegroup_requested"] = int(spacegroup)
    if formula is not None:
        extra["formula_requested"] = formula
    extra["imputed"] = do_impute
    extra["symmetry_projected"] = do_project
    per_sample = None
    if projection is not None:
        disp = np.concatenate(projection.displacements)
        per_sample = [{"wyckoff": label, "projection_max_displacement": float(d[0]),
                       "projection_rms_displacement": float(d[1])}
                      for label, d in zip(projection.labels, disp, strict=True)]  # fmt: skip
    if lock is not None:
        extra["occupancy_lock"] = float(occupancy_lock)
        rows = per_sample or [{} for _ in range(n)]
        per_sample = [{**row, "slots_locked": c} for row, c in zip(rows, lock.locked_counts, strict=True)]
    if numbers is not None:
        extra["cell_atoms_imputed"] = len(numbers)
    meta = {"imputed": do_impute, "symmetry_projected": do_project, "guided": kind == "diffusion" and learned
            and (spacegroup is not None or formula is not None), **(meta or {})}  # fmt: skip
    return decode_to_generation(
        raw, ct, out_dir, label=f"crystens-{kind}", info=extra, per_sample=per_sample, workers=workers,
        symprec=symprec, save_tensors=save_tensors, decode_options=decode_options, progress=progress,
        meta={"model": f"crystens-{kind}", "checkpoint": str(checkpoint), "n": n, "seed": seed, **(meta or {})},
    )  # fmt: skip


def decode_to_generation(
    raw: np.ndarray,
    ct: CrysTensConfig,
    out_dir: str | Path,
    *,
    label: str,
    info: dict[str, Any] | None = None,
    per_sample: list[dict[str, Any]] | None = None,
    workers: int = 2,
    symprec: float = 0.1,
    save_tensors: bool = False,
    decode_options: DecodeOptions | None = None,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Symmetrise and decode raw CrysTens (n, 4, N, N) into CIFs + ``summary.csv`` (ids ``<label>-00000``...).

    ``per_sample``: extra columns for each sample's row (one dict per sample). Also usable on encoded real
    tensors (the representation's own round trip, a reference row).
    """
    center, thr = float(ct.difference.normalise(0.0)), ct.presence_threshold
    raw = np.asarray(raw, dtype=np.float32)
    raw_t = torch.from_numpy(raw)
    sym = symmetrise(raw_t, FIRST_ATOM, center=center, presence_threshold=thr).numpy()
    asym = asymmetry(raw_t, FIRST_ATOM, center=center, presence_threshold=thr).numpy()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if save_tensors:
        from xtalgen.data.atomic import atomic_path

        with atomic_path(out / "tensors.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, raw)
    options = decode_options or DecodeOptions()
    jobs = [(sym[i], raw[i], ct.to_dict(), options) for i in range(len(raw))]
    results = _run(jobs, workers, progress)
    candidates = []
    for i, (structure, row) in enumerate(results):
        own = per_sample[i] if per_sample is not None else {}
        row = {"model": label, **(info or {}), **own, "asymmetry": float(asym[i]), **row}
        reason = str(row.pop("reason", "") or "")
        candidates.append(Candidate(f"{label}-{i:05d}", structure, row, structure is not None, reason))
    return write_generation(out, candidates, symprec=symprec, meta=meta)


def _run(jobs: list[Any], workers: int, progress: bool) -> list[tuple[Any, dict[str, Any]]]:
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("decoding", total=len(jobs))
        if workers <= 1 or len(jobs) < 4:
            out = []
            for job in jobs:
                out.append(_decode_one(job))
                bar.advance(task)
            return out
        import multiprocessing as mp

        # spawn: the parent has torch's thread pools initialised, which fork does not copy safely
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            out = []
            for res in pool.map(_decode_one, jobs, chunksize=max(1, len(jobs) // (8 * workers))):
                out.append(res)
                bar.advance(task)
            return out
