"""Sample a trained CrysTens model: sample tensors -> symmetrise -> decode (in worker processes).

Each row of ``summary.csv`` carries the decoder's diagnostics, the self-consistency metrics of the
model's raw output (``var_length``, ``coord_agreement``, ...: before mirrored entries are averaged, as
in the paper's Tables 1 and 2), the same metrics of the symmetrised tensor that was decoded
(``sym_*``) and ``asymmetry`` (mean |change| made by symmetrisation, normalised units).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.data.generation_folder import Candidate, write_generation
from xtalgen.models.crystens import CrysTensDiffusion, Imputation, asymmetry, build_gan, build_wgan, symmetrise
from xtalgen.models.crystens.occupancy_lock import OccupancyLock
from xtalgen.models.crystens.symmetry_projection import SymmetryProjection
from xtalgen.pipelines.crystens.tasks import CONFIG_CLASSES
from xtalgen.pipelines.families import GenerationRequest, SampleBatch, SamplingOptions
from xtalgen.pipelines.training import load_checkpoint, load_config
from xtalgen.representations.crystens import CrysTensConfig, DecodeOptions, consistency_metrics, decode
from xtalgen.representations.crystens.cell_composition import cell_numbers
from xtalgen.representations.crystens.config import FIRST_ATOM
from xtalgen.representations.crystens.known_entries import known_entries

#: Tensors sampled per batch.
BATCH_SIZE = 64


@dataclass
class CrysTensOptions(SamplingOptions):
    """CrysTens sampling options.

    ``steps``: DDIM sampling steps (diffusion; None: the model config's). ``guidance_scale``: classifier-free
    guidance of a conditional diffusion model (1 = plain conditional). ``impute`` (default: on with a
    formula): enforce the entries the request fixes (space group, the atoms of a cell of ``formula_units``
    formula units, empty slots) at every denoising step. ``project_symmetry`` (default: on when imputing
    with a space group and a formula): project every step onto the space group (lattice onto its crystal
    system, atoms onto a Wyckoff assignment). ``occupancy_lock``: empty "phantom" slots from this fraction
    of the noise schedule on (0: final sample only, also for the GANs; None: off). ``save_tensors``: also
    write the raw outputs to ``tensors.npy``.
    """

    steps: int | None = 50
    guidance_scale: float = 2.0
    impute: bool | None = None
    formula_units: int | None = None
    project_symmetry: bool | None = None
    occupancy_lock: float | None = None
    save_tensors: bool = False

    def validate(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {self.steps}")
        if self.formula_units is not None and self.formula_units < 1:
            raise ValueError(f"formula_units: must be >= 1, got {self.formula_units}")
        if self.occupancy_lock is not None and not 0 <= self.occupancy_lock <= 1:
            raise ValueError(f"occupancy_lock: must be in [0, 1], got {self.occupancy_lock}")


@dataclass
class _Hooks:
    """What a request adds to sampling: imputation, symmetry projection, occupancy lock."""

    impute: bool = False
    project: bool = False
    imputation: Imputation | None = None
    numbers: np.ndarray | None = None
    projection: SymmetryProjection | None = None
    lock: OccupancyLock | None = None


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


def _imputation(kind: str, ct: CrysTensConfig, sg: int | None, formula: str | None, opts: CrysTensOptions) -> _Hooks:
    """Imputation and symmetry projection for a request (both off unless the request or options ask)."""
    hooks = _Hooks(impute=formula is not None if opts.impute is None else bool(opts.impute))
    if opts.formula_units is not None and not hooks.impute:
        raise ValueError("formula_units: only used with imputation (impute=True)")
    if hooks.impute:
        if kind != "diffusion":
            raise ValueError(f"impute: needs a crystens-diffusion model (step-by-step sampling), not crystens-{kind}")
        hooks.imputation, hooks.numbers = request_imputation(ct, sg, formula, opts.formula_units)
    hooks.project = hooks.impute and sg is not None and formula is not None
    if opts.project_symmetry is not None:
        if opts.project_symmetry and (sg is None or formula is None):
            raise ValueError("project_symmetry: needs a space group and a formula (the Wyckoff assignment comes "
                             "from the cell's atoms)")  # fmt: skip
        if opts.project_symmetry and not hooks.impute:
            raise ValueError("project_symmetry: needs imputation (impute=True), which fixes the cell's atoms")
        hooks.project = bool(opts.project_symmetry)
    if hooks.project and hooks.numbers is not None and sg is not None:  # both set whenever project
        hooks.projection = SymmetryProjection.for_request(ct, int(sg), hooks.numbers, hooks.imputation)
    return hooks


def _add_lock(hooks: _Hooks, kind: str, cfg: Any, ct: CrysTensConfig, start: float | None) -> None:
    if start is None:
        return
    if hooks.numbers is not None:
        raise ValueError("occupancy_lock: the formula's imputation already fixes which slots hold atoms")
    if kind != "diffusion" and start != 0:
        raise ValueError(f"occupancy_lock: crystens-{kind} samples in one step; only 0 (final sample) applies")
    steps = cfg.model.num_train_timesteps if kind == "diffusion" else 1
    inner = hooks.projection if hooks.projection is not None else hooks.imputation
    hooks.lock = OccupancyLock(ct, float(start), steps, inner=inner)


def _per_sample(hooks: _Hooks, n: int) -> list[dict[str, Any]] | None:
    """Per-sample summary columns: the Wyckoff choice and displacement of a projection, locked slots."""
    rows = None
    if hooks.projection is not None:
        disp = np.concatenate(hooks.projection.displacements)
        rows = [{"wyckoff": label, "projection_max_displacement": float(d[0]),
                 "projection_rms_displacement": float(d[1])}
                for label, d in zip(hooks.projection.labels, disp, strict=True)]  # fmt: skip
    if hooks.lock is not None:
        rows = rows or [{} for _ in range(n)]
        rows = [{**row, "slots_locked": c} for row, c in zip(rows, hooks.lock.locked_counts, strict=True)]
    return rows


def _sample_raw(kind: str, module: torch.nn.Module, cfg: Any, request: GenerationRequest, opts: CrysTensOptions,
                hooks: _Hooks, learned: bool) -> np.ndarray:  # fmt: skip
    sg = request.spacegroup[0] if request.spacegroup else None
    composition = None
    if request.formula is not None and learned:
        n_el = cfg.conditioning.n_elements if kind == "diffusion" else 100
        composition = composition_vector(request.formula, n_el)
    hook = hooks.projection if hooks.projection is not None else hooks.imputation
    if hooks.lock is not None and kind == "diffusion":
        hook = hooks.lock
    raw = sample_tensors(
        kind, module, request.n, seed=request.seed, batch_size=BATCH_SIZE, spacegroup=sg if learned else None,
        composition=composition, guidance_scale=opts.guidance_scale, sampling_steps=opts.steps,
        progress=request.progress, impute=hook,
    )  # fmt: skip
    if hooks.lock is not None and kind != "diffusion":
        raw = hooks.lock.apply(torch.from_numpy(raw)).numpy()
    return raw


def checkpoint_kind(checkpoint: str | Path) -> str:
    """``gan``, ``wgan`` or ``diffusion``: the CrysTens kind a run folder or checkpoint holds (ValueError if none)."""
    ckpt = load_checkpoint(checkpoint)
    extra = ckpt.state.get("extra", {})
    if extra.get("kind") not in CONFIG_CLASSES or "crystens" not in extra:
        raise ValueError(f"{ckpt.path} is not a CrysTens checkpoint (kind={extra.get('kind')!r})")
    return str(extra["kind"])


def sample_crystens(request: GenerationRequest, opts: CrysTensOptions, expect: str | None = None) -> SampleBatch:
    """Sample ``request.n`` CrysTens from the request's checkpoint, symmetrise and decode them.

    The space group / formula condition a conditional diffusion model (guidance); with imputation they
    also work with an unconditional one. See :class:`CrysTensOptions`. ``expect``: the kind the checkpoint
    must hold (``gan``, ``wgan``, ``diffusion``).
    """
    if request.checkpoint is None:
        raise ValueError("no CrysTens checkpoint given: a training run folder, or a shipped model's folder from "
                         "xtalgen.pretrained.pretrained_checkpoint(name)")
    kind, module, cfg, ct = load_crystens_model(request.checkpoint)
    if expect is not None and kind != expect:
        raise ValueError(f"{request.checkpoint} holds a crystens-{kind} model, not crystens-{expect}")
    sg = request.spacegroup[0] if request.spacegroup else None
    hooks = _imputation(kind, ct, sg, request.formula, opts)
    _add_lock(hooks, kind, cfg, ct, opts.occupancy_lock)
    learned = kind != "diffusion" or getattr(module, "conditional", False) or not hooks.impute
    raw = _sample_raw(kind, module, cfg, request, opts, hooks, learned)
    info: dict[str, Any] = {"seed": request.seed}
    if sg is not None:
        info["spacegroup_requested"] = int(sg)
    if request.formula is not None:
        info["formula_requested"] = request.formula
    info.update(imputed=hooks.impute, symmetry_projected=hooks.project)
    if hooks.lock is not None:
        info["occupancy_lock"] = float(opts.occupancy_lock)
    if hooks.numbers is not None:
        info["cell_atoms_imputed"] = len(hooks.numbers)
    guided = kind == "diffusion" and learned and (sg is not None or request.formula is not None)
    record = {"model": f"crystens-{kind}", "checkpoint": str(request.checkpoint), "n": request.n,
              "seed": request.seed, "imputed": hooks.impute, "symmetry_projected": hooks.project, "guided": guided,
              **request.meta}  # fmt: skip
    candidates = decode_candidates(raw, ct, label=f"crystens-{kind}", info=info,
                                   per_sample=_per_sample(hooks, request.n), workers=request.workers,
                                   progress=request.progress)  # fmt: skip
    return SampleBatch(candidates, record, extra_files=[_tensor_writer(raw)] if opts.save_tensors else [])


def _tensor_writer(raw: np.ndarray):
    def write(out: Path) -> None:
        from xtalgen.data.atomic import atomic_path

        with atomic_path(out / "tensors.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(raw, dtype=np.float32))

    return write


def generate_crystens(
    n: int,
    out_dir: str | Path,
    *,
    checkpoint: str | Path | None,
    seed: int = 0,
    spacegroup: int | None = None,
    formula: str | None = None,
    sampling_steps: int | None = None,
    workers: int = 2,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Sample ``n`` CrysTens into ``out_dir`` (CIFs, summary.csv); return the summary path.

    ``sampling_steps``: DDIM steps (None: the model config's); ``options``: other :class:`CrysTensOptions`
    fields. Same as :func:`xtalgen.pipelines.generation.generate` with the checkpoint's kind.
    """
    from xtalgen.pipelines.generation import generate

    if checkpoint is None:
        raise ValueError("no CrysTens checkpoint given: a training run folder, or a shipped model's folder from "
                         "xtalgen.pretrained.pretrained_checkpoint(name)")
    kind = f"crystens-{checkpoint_kind(checkpoint)}"
    request = GenerationRequest(
        n, seed, workers, (int(spacegroup),) if spacegroup is not None else (), formula=formula,
        checkpoint=Path(checkpoint), progress=progress, meta=dict(meta or {}),
    )  # fmt: skip
    return generate(kind, request, out_dir, {"steps": sampling_steps, **options}).summary


def decode_candidates(
    raw: np.ndarray,
    ct: CrysTensConfig,
    *,
    label: str,
    info: dict[str, Any] | None = None,
    per_sample: list[dict[str, Any]] | None = None,
    workers: int = 2,
    decode_options: DecodeOptions | None = None,
    progress: bool = True,
) -> list[Candidate]:
    """Symmetrise and decode raw CrysTens (n, 4, N, N) into candidates (ids ``<label>-00000``...).

    ``per_sample``: extra columns for each sample's row (one dict per sample).
    """
    center, thr = float(ct.difference.normalise(0.0)), ct.presence_threshold
    raw = np.asarray(raw, dtype=np.float32)
    raw_t = torch.from_numpy(raw)
    sym = symmetrise(raw_t, FIRST_ATOM, center=center, presence_threshold=thr).numpy()
    asym = asymmetry(raw_t, FIRST_ATOM, center=center, presence_threshold=thr).numpy()
    options = decode_options or DecodeOptions()
    jobs = [(sym[i], raw[i], ct.to_dict(), options) for i in range(len(raw))]
    candidates = []
    for i, (structure, row) in enumerate(_run(jobs, workers, progress)):
        own = per_sample[i] if per_sample is not None else {}
        row = {"model": label, **(info or {}), **own, "asymmetry": float(asym[i]), **row}
        reason = str(row.pop("reason", "") or "")
        candidates.append(Candidate(f"{label}-{i:05d}", structure, row, structure is not None, reason))
    return candidates


def decode_to_generation(
    raw: np.ndarray,
    ct: CrysTensConfig,
    out_dir: str | Path,
    *,
    label: str,
    symprec: float = 0.1,
    save_tensors: bool = False,
    meta: dict[str, Any] | None = None,
    **decode_kwargs: Any,
) -> Path:
    """Decode raw CrysTens (:func:`decode_candidates`) and write them as a generation folder; return summary.csv.

    Also usable on encoded real tensors (the representation's own round trip, a reference row).
    """
    candidates = decode_candidates(raw, ct, label=label, **decode_kwargs)
    summary = write_generation(out_dir, candidates, symprec=symprec, meta=meta)
    if save_tensors:
        _tensor_writer(raw)(Path(out_dir))
    return summary


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
