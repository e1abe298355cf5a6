"""Sample a trained CrysTens model: sample tensors (with imputation, symmetry projection, occupancy lock
as the request asks) -> symmetrise -> decode (:mod:`xtalgen.pipelines.crystens.decode`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.models.crystens import Imputation
from xtalgen.models.crystens.grouped_hooks import GroupedHooks
from xtalgen.models.crystens.occupancy_lock import OccupancyLock
from xtalgen.models.crystens.symmetry_projection import SymmetryProjection
from xtalgen.pipelines.crystens.decode import decode_candidates, tensor_writer
from xtalgen.pipelines.crystens.load import checkpoint_kind, load_crystens_model
from xtalgen.pipelines.families import GenerationRequest, SampleBatch, SamplingOptions, get_family
from xtalgen.postprocess.merge import DEFAULT_MERGE_FACTOR
from xtalgen.postprocess.sample_cleanup import DEFAULT_SYMMETRY_TOLERANCE, DEFAULT_VOLUME_LIMIT, CleanupOptions
from xtalgen.representations.crystens import CrysTensConfig, DecodeOptions
from xtalgen.representations.crystens.cell_composition import cell_numbers
from xtalgen.representations.crystens.known_entries import known_entries

#: Tensors sampled per batch.
BATCH_SIZE = 64


@dataclass
class CrysTensOptions(SamplingOptions):
    """CrysTens GAN / WGAN-GP sampling options.

    ``occupancy_lock``: empty "phantom" slots of the final sample (0; None: off). ``save_tensors``: also
    write the raw outputs to ``tensors.npy``.

    Decoding a tensor into a crystal (each step recorded per sample in summary.csv; None or false: off):
    ``consensus``: each atom's coordinates = mean of its header entries and the estimates from the
    difference layers (false: header entries only); ``presence_threshold``: normalised Z level above which
    a slot holds an atom (None: the config's, halfway between empty and hydrogen); ``z_noise_floor``:
    smallest noise (Z units) assumed when atomic numbers are grouped into elements (larger: fewer distinct
    elements); ``volume_limit``:
    rescale a cell whose volume is more than this factor off the one predicted from its elements;
    ``merge_factor``: merge atoms of one element closer than this x atomic radius (PGCGM's merge);
    ``symmetry_tolerance``: loosest spglib tolerance (Å) at which the space group (the requested or
    stated one preferred, else the most symmetric found) is recovered and the atoms snapped onto its
    Wyckoff positions.
    """

    occupancy_lock: float | None = None
    save_tensors: bool = False
    consensus: bool = True
    presence_threshold: float | None = None
    z_noise_floor: float = 0.1
    volume_limit: float | None = DEFAULT_VOLUME_LIMIT
    merge_factor: float | None = DEFAULT_MERGE_FACTOR
    symmetry_tolerance: float | None = DEFAULT_SYMMETRY_TOLERANCE

    def validate(self) -> None:
        if self.occupancy_lock is not None and not 0 <= self.occupancy_lock <= 1:
            raise ValueError(f"occupancy_lock: must be in [0, 1], got {self.occupancy_lock}")
        if not self.z_noise_floor > 0:
            raise ValueError(f"z_noise_floor: must be > 0, got {self.z_noise_floor}")
        self.cleanup().validate()

    def cleanup(self) -> CleanupOptions:
        """The post-decoding steps these options switch on."""
        return CleanupOptions(self.volume_limit, self.merge_factor, self.symmetry_tolerance, self.symprec)

    def decode_options(self) -> DecodeOptions:
        """How tensors are read back (consensus, atom-count threshold)."""
        return DecodeOptions(presence_threshold=self.presence_threshold, z_noise_floor=self.z_noise_floor,
                             coordinate_consensus=self.consensus)


@dataclass
class DiffusionOptions(CrysTensOptions):
    """CrysTens diffusion sampling options.

    ``steps``: DDIM sampling steps (None: the model config's). ``guidance_scale``: classifier-free guidance
    of a conditional model (1 = plain conditional). ``impute`` (default: on with a formula): enforce the
    entries the request fixes (space group, the atoms of a cell of ``formula_units`` formula units, empty
    slots) at every denoising step. ``project_symmetry`` (default: on when imputing with a space group and
    a formula): project every step onto the space group (lattice onto its crystal system, atoms onto a
    Wyckoff assignment). ``conditions``: ``drawn`` gives each sample a (space group, formula) drawn from the
    model's training table (:mod:`xtalgen.pipelines.crystens.drawn`; None: off).
    ``occupancy_lock``: empty "phantom" slots from this fraction of the noise schedule on (0: final sample
    only; None: off). ``save_tensors``: also write the raw outputs to ``tensors.npy``. Decoding reads the
    header coordinates alone (``consensus`` off) and groups atomic numbers with a 3-Z noise floor: a
    diffusion sample's pair block is noisier than a GAN's.
    """

    # Decoding defaults from the cleanup comparison (docs/benchmarks/crystens_cleanup.md).
    consensus: bool = False
    z_noise_floor: float = 3.0
    steps: int | None = 50
    guidance_scale: float = 2.0
    impute: bool | None = None
    formula_units: int | None = None
    project_symmetry: bool | None = None
    conditions: str | None = None

    def validate(self) -> None:
        super().validate()
        if self.conditions is not None:
            if self.conditions != "drawn":
                raise ValueError(f"conditions: must be 'drawn' (a space group and formula per sample from the "
                                 f"model's training table) or unset, got {self.conditions!r}")  # fmt: skip
            clash = [k for k, bad in (("impute", self.impute is False), ("formula_units", self.formula_units),
                                      ("occupancy_lock", self.occupancy_lock is not None)) if bad]  # fmt: skip
            if clash:
                raise ValueError(f"conditions=drawn: imputes each drawn formula itself; drop {', '.join(clash)}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {self.steps}")
        if self.formula_units is not None and self.formula_units < 1:
            raise ValueError(f"formula_units: must be >= 1, got {self.formula_units}")


@dataclass
class _Hooks:
    """What a request adds to sampling: imputation, symmetry projection, occupancy lock."""

    impute: bool = False
    project: bool = False
    imputation: Imputation | None = None
    numbers: np.ndarray | None = None
    projection: SymmetryProjection | None = None
    lock: OccupancyLock | None = None


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
    kind: str, module: torch.nn.Module, n: int, *, seed: int = 0, batch_size: int = 64,
    spacegroup: int | Sequence[int] | np.ndarray | None = None, composition: torch.Tensor | None = None,
    guidance_scale: float = 2.0, sampling_steps: int | None = None, sampler: str | None = None, progress: bool = True,
    impute: Imputation | SymmetryProjection | OccupancyLock | GroupedHooks | None = None,
) -> np.ndarray:  # fmt: skip
    """Raw model outputs (n, 4, N, N) float32, drawn in batches from a seeded generator.

    ``spacegroup``: one group for all samples or one per sample; ``composition``: (E,) atomic fractions for
    all samples or (n, E), one row per sample (learned conditions of a conditional diffusion model).
    ``impute``: entries enforced at every denoising step (diffusion only; see :func:`request_imputation`),
    or a :class:`SymmetryProjection` (which runs its own imputation first; its ``displacements`` collect
    one (batch, 2) array per batch), or an :class:`OccupancyLock` (which runs either of them first), or
    :class:`GroupedHooks` (one of those per sample).
    """
    if impute is not None and kind != "diffusion":
        raise ValueError(f"imputation needs a crystens-diffusion model (step-by-step sampling), not crystens-{kind}")
    conditioned = spacegroup is not None or composition is not None
    if conditioned and not (kind == "diffusion" and getattr(module, "conditional", False)):
        raise ValueError("space group / formula conditions need a conditional crystens-diffusion checkpoint")
    sgs, comps = _per_sample_conditions(n, spacegroup, composition)
    gen = torch.Generator().manual_seed(seed)
    out = []
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"sampling crystens-{kind}", total=n)
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            with torch.no_grad():
                if kind == "diffusion":
                    sg = sgs[start : start + b] if sgs is not None else None
                    comp = comps[start : start + b] if comps is not None else None
                    if conditioned and sg is None:
                        sg = torch.zeros(b, dtype=torch.long)
                    x = module.sample(b, steps=sampling_steps, sampler=sampler, spacegroup=sg, composition=comp,
                                      guidance_scale=guidance_scale, generator=gen, impute=impute)  # fmt: skip
                else:
                    x = module(torch.randn(b, module.latent_dim, generator=gen))
            out.append(x.float().cpu().numpy())
            bar.advance(task, b)
    return np.concatenate(out, axis=0)


def _per_sample_conditions(
    n: int, spacegroup: int | Sequence[int] | np.ndarray | None, composition: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(n,) space groups and (n, E) compositions from one value for all samples or one per sample."""
    sgs = None
    if spacegroup is not None:
        values = np.asarray(spacegroup, dtype=np.int64).reshape(-1)
        if len(values) not in (1, n):
            raise ValueError(f"spacegroup: one value or one per sample ({n}), got {len(values)}")
        bad = values[(values < 1) | (values > 230)]
        if len(bad):
            raise ValueError(f"spacegroup: must be in 1..230, got {int(bad[0])}")
        sgs = torch.from_numpy(np.broadcast_to(values, (n,)).copy())
    comps = None
    if composition is not None:
        comps = composition.expand(n, -1) if composition.ndim == 1 else composition
        if comps.shape[0] != n:
            raise ValueError(f"composition: one row or one per sample ({n}), got {comps.shape[0]}")
    return sgs, comps


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


def imputation_hooks(kind: str, ct: CrysTensConfig, sg: int | None, formula: str | None,
                     opts: CrysTensOptions) -> _Hooks:  # fmt: skip
    """The sampling hooks of a request: its imputation and symmetry projection (both off unless the request
    or options ask); ValueError for an option combination that cannot apply."""
    impute, formula_units = getattr(opts, "impute", None), getattr(opts, "formula_units", None)
    project_symmetry = getattr(opts, "project_symmetry", None)
    hooks = _Hooks(impute=formula is not None if impute is None else bool(impute))
    if formula_units is not None and not hooks.impute:
        raise ValueError("formula_units: only used with imputation (impute=True)")
    if hooks.impute:
        if kind != "diffusion":
            raise ValueError(f"impute: needs a crystens-diffusion model (step-by-step sampling), not crystens-{kind}")
        hooks.imputation, hooks.numbers = request_imputation(ct, sg, formula, formula_units)
    hooks.project = hooks.impute and sg is not None and formula is not None
    if project_symmetry is not None:
        if project_symmetry and (sg is None or formula is None):
            raise ValueError("project_symmetry: needs a space group and a formula (the Wyckoff assignment comes "
                             "from the cell's atoms)")  # fmt: skip
        if project_symmetry and not hooks.impute:
            raise ValueError("project_symmetry: needs imputation (impute=True), which fixes the cell's atoms")
        hooks.project = bool(project_symmetry)
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


def per_sample_columns(hooks: _Hooks, n: int) -> list[dict[str, Any]] | None:
    """Extra summary columns of ``n`` samples drawn with ``hooks`` (one dict per sample; None when the hooks
    add none): the Wyckoff choice and displacement of a projection, locked slots."""
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
        composition=composition, guidance_scale=getattr(opts, "guidance_scale", 2.0),
        sampling_steps=getattr(opts, "steps", None),
        progress=request.progress, impute=hook,
    )  # fmt: skip
    if hooks.lock is not None and kind != "diffusion":
        raw = hooks.lock.apply(torch.from_numpy(raw)).numpy()
    return raw


def sample_crystens(request: GenerationRequest, opts: CrysTensOptions, expect: str | None = None) -> SampleBatch:
    """Sample ``request.n`` CrysTens from the request's checkpoint, symmetrise and decode them.

    The space group / formula condition a conditional diffusion model (guidance); with imputation they
    also work with an unconditional one. See :class:`CrysTensOptions`. ``expect``: the kind the checkpoint
    must hold (``gan``, ``wgan``, ``diffusion``).
    """
    if request.checkpoint is None:
        raise ValueError("no CrysTens checkpoint given: a training run folder, or a shipped model's folder from "
                         "xtalgen.pretrained.pretrained_checkpoint(name)")
    if getattr(opts, "conditions", None) is not None:
        from xtalgen.pipelines.crystens.drawn import sample_drawn

        return sample_drawn(request, opts)
    kind, module, cfg, ct = load_crystens_model(request.checkpoint)
    if expect is not None and kind != expect:
        raise ValueError(f"{request.checkpoint} holds a crystens-{kind} model, not crystens-{expect}")
    sg = request.spacegroup[0] if request.spacegroup else None
    hooks = imputation_hooks(kind, ct, sg, request.formula, opts)
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
                                   per_sample=per_sample_columns(hooks, request.n), workers=request.workers,
                                   decode_options=opts.decode_options(), cleanup=opts.cleanup(), spacegroup=sg,
                                   progress=request.progress)  # fmt: skip
    return SampleBatch(candidates, record, extra_files=[tensor_writer(raw)] if opts.save_tensors else [])


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
    if "steps" in get_family(kind).option_defaults():
        options = {"steps": sampling_steps, **options}
    return generate(kind, request, out_dir, options).summary


