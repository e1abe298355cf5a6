"""Sample a trained PGCGM: draw conditions, generate base sites, decode and post-process them in rounds.

Conditions (space group + base-site elements) come from the request or are drawn from the training
run's table (:mod:`xtalgen.pipelines.pgcgm.conditions`). The generator outputs several sets of base
sites; the first is, in the post-processing worker processes, snapped onto the special positions its
own images point to and expanded with the space group's operations
(:class:`xtalgen.representations.basesites.decode.SnapExpand`; plain exact expansion with
``snap=False``), then merged, filtered and deduplicated (:mod:`xtalgen.postprocess.candidates`).
``summary.csv`` records per candidate how many sites were snapped and the largest move (Å).
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.data.generation_folder import Candidate
from xtalgen.pipelines.families import GenerationRequest, SampleBatch
from xtalgen.pipelines.pgcgm.best_of import draw_target, keep_best
from xtalgen.pipelines.pgcgm.conditions import choose_conditions, condition_tensors, read_condition_table
from xtalgen.pipelines.pgcgm.critic_rejection import REASON_CRITIC, critic_scores, load_critic
from xtalgen.pipelines.pgcgm.novel_only import REASON_KNOWN, load_known, reject_known
from xtalgen.pipelines.pgcgm.options import PGCGMOptions
from xtalgen.pipelines.pgcgm.stability_rank import (
    REASON_STABILITY,
    SCORE_COLUMN,
    load_stability_classifier,
    score_accepted,
)
from xtalgen.pipelines.pgcgm.task import OpsLookup, PGCGMConfig, build_networks
from xtalgen.pipelines.training import load_checkpoint, load_config
from xtalgen.postprocess.merge import DEFAULT_MERGE_FACTOR
from xtalgen.postprocess.push_apart import PushApart
from xtalgen.representations.basesites.decode import SnapExpand
from xtalgen.representations.basesites.expand import RawBaseSites, expand_raw_arrays
from xtalgen.representations.basesites.training_arrays import N_FEATURES

#: Candidates drawn per batch of the generator.
BATCH_SIZE = 512
#: Candidates post-processed at a time (generation stops after the chunk that completes n accepted).
POSTPROCESS_CHUNK = 256
#: Fewest candidates post-processed at a time once the acceptance rate says fewer than a chunk are needed.
MIN_POSTPROCESS_CHUNK = 32


def load_pgcgm_generator(checkpoint: str | Path) -> tuple[torch.nn.Module, PGCGMConfig, Path]:
    """The trained generator (eval mode, CPU), its config and the checkpoint folder."""
    ckpt = load_checkpoint(checkpoint)
    raw = {k: v for k, v in ckpt.config.items() if k != "_class"}
    if ckpt.config.get("_class", "PGCGMConfig") != "PGCGMConfig":
        raise ValueError(f"checkpoint {ckpt.path} was trained by {ckpt.config.get('_class')}, not PGCGM")
    cfg = load_config(PGCGMConfig, raw)
    gen, _ = build_networks(cfg.model, element_dim=N_FEATURES)
    gen.load_state_dict(ckpt.module_state("generator"), strict=True)
    return gen.eval(), cfg, ckpt.path


def sample_base_sites(
    generator: torch.nn.Module,
    conditions: list[Any],
    *,
    seed: int = 0,
    batch_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Generated coords (n, S, K, 3) and lattices (n, 6) (Å, degrees) for the given conditions."""
    general = getattr(generator.cond, "site_dim", 0) > 0
    sgs, feats, mask, systems, mults = condition_tensors(conditions, generator.n_sites, general)
    n = len(conditions)
    lookup = OpsLookup("cpu")
    rng = torch.Generator().manual_seed(int(seed))
    coords, lattices = [], []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            sl = slice(start, min(n, start + batch_size))
            cond = lookup.conditions(sgs[sl], feats[sl], mask[sl], systems[sl], mults[sl] if general else None)
            noise = generator.sample_noise(sl.stop - sl.start, generator=rng)
            c, lat = generator(noise, cond)
            coords.append(c.numpy())
            lattices.append(lat.numpy())
    return np.concatenate(coords), np.concatenate(lattices)


def _raw_candidates(
    conditions: list[Any], coords: np.ndarray, lattices: np.ndarray, k: int
) -> list[RawBaseSites]:
    """The first set of base sites of each sample, with its condition's species (padded to ``k`` sites)."""
    raws = []
    for i, cond in enumerate(conditions):
        sg, els = cond[0], cond[1]
        species = list(els) + [""] * (k - len(els))
        site_mask = np.arange(k) < len(els)
        mult = np.array(list(cond[2]) + [0] * (k - len(els)), np.int64) if len(cond) > 2 else None  # type: ignore[misc]
        raws.append(RawBaseSites(species, coords[i, 0].astype(np.float64), lattices[i].astype(np.float64),
                                 int(sg), site_mask, mult))  # fmt: skip
    return raws


def _postprocess(raws: list[RawBaseSites], conditions: list[Any], opts: PGCGMOptions, workers: int,
                 progress: bool, pool: Any = None, while_running: Any = None) -> list[Any]:  # fmt: skip
    from xtalgen.pipelines.pgcgm.templates import condition_formula
    from xtalgen.postprocess.candidates import postprocess_candidates
    from xtalgen.postprocess.volume import ElementVolumes

    conds = [{"spacegroup": c[0], "elements": " ".join(c[1])} for c in conditions]
    for d, c in zip(conds, conditions, strict=True):
        if len(c) > 2:
            d["multiplicities"] = " ".join(map(str, c[2]))  # type: ignore[misc]
    formulas = ([condition_formula(c) if len(c) > 2 else None for c in conditions]  # type: ignore[arg-type]
                if opts.condition_formula else None)  # fmt: skip
    return postprocess_candidates(
        raws, spacegroups=[c[0] for c in conditions], conditions=conds,
        expand=SnapExpand(DEFAULT_MERGE_FACTOR) if opts.snap else expand_raw_arrays, symprec=opts.symprec,
        dedupe=False, volumes=ElementVolumes.default() if opts.rescale_volume else None,
        max_formula_atoms=opts.max_formula_atoms or None, distance_factor=opts.distance_factor,
        max_primitive_sites=opts.max_primitive_sites or None, early_reject=opts.fast_postprocess,
        symmetrized_cif=opts.fast_postprocess, condition_formulas=formulas, workers=workers,
        progress=progress, pool=pool, while_running=while_running,
        push_apart=PushApart(opts.push_apart_max_move, symprec=opts.symprec) if opts.push_apart else None,
    )  # fmt: skip


def _conditions(n: int, generator: torch.nn.Module, table: Any, spacegroup: list[int] | None,
                elements: list[list[str]] | None, opts: PGCGMOptions,
                rng: np.random.Generator) -> list[Any]:  # fmt: skip
    """``n`` conditions: Wyckoff templates for a general model, (space group, elements) for the paper's."""
    if getattr(generator.cond, "site_dim", 0) > 0:
        from xtalgen.pipelines.pgcgm.templates import choose_site_conditions

        return choose_site_conditions(n, table, spacegroup=spacegroup, elements=elements, max_atoms=opts.max_atoms,
                                      max_sites=generator.n_sites, balanced=opts.balanced, rng=rng)  # fmt: skip
    if opts.max_atoms or opts.balanced:
        raise ValueError("max_atoms / balanced: only for a general PGCGM (trained with model.wyckoff_features)")
    return choose_conditions(n, table, spacegroup, elements, generator.n_sites, rng)


def _chunk_size(results: list[Any], n: int, opts: PGCGMOptions) -> int:
    """Candidates to post-process next: a full chunk, or (counting accepted ones) about as many as the acceptance
    rate so far says are still needed, at least :data:`MIN_POSTPROCESS_CHUNK`. Verdicts do not depend on the
    chunking (each depends only on the candidates before it), so this only saves work past the n-th accepted."""
    accepted = sum(r.accepted for r in results)
    if opts.count != "accepted" or not accepted:
        return POSTPROCESS_CHUNK
    need = math.ceil(1.2 * (n - accepted) * len(results) / accepted)
    return min(POSTPROCESS_CHUNK, max(MIN_POSTPROCESS_CHUNK, need))


def _draw_rounds(generator: torch.nn.Module, table: Any, request: GenerationRequest, opts: PGCGMOptions,
                 critic: torch.nn.Module | None = None) -> list[Any]:  # fmt: skip
    """Post-processed, deduplicated candidates: one round ("candidates"), or rounds until ``n`` are accepted.

    With a ``critic``, every candidate's summary gets its ``critic_score``."""
    from xtalgen.postprocess.candidate_dedupe import worker_pool

    n, seed = request.n, request.seed
    cap = opts.max_candidates if opts.max_candidates is not None else 50 * n
    if cap < n:
        raise ValueError(f"max_candidates: must be >= n ({n}), got {cap}")
    spacegroup = list(request.spacegroup) or None
    elements = [list(e) for e in request.elements] or None
    rng = np.random.default_rng([seed, 1])
    results: list[Any] = []
    want = n
    known = load_known() if opts.novel_only else None  # once per run: the table is large
    # the fast path keeps one process pool for every chunk (the full path starts one per call, as before)
    with worker_pool(request.workers if opts.fast_postprocess else 1) as pool:
        for round_no in range(1000):
            conditions = _conditions(want, generator, table, spacegroup, elements, opts, rng)
            round_seed = seed if round_no == 0 else int(np.random.default_rng([seed, 2, round_no]).integers(2**31))
            coords, lattices = sample_base_sites(generator, conditions, seed=round_seed, batch_size=BATCH_SIZE)
            raws = _raw_candidates(conditions, coords, lattices, generator.n_sites)
            scores = critic_scores(critic, conditions, coords, lattices) if critic is not None else None
            accepted = _process_round(raws, conditions, scores, results, request, opts, known, pool)
            if opts.count == "candidates" or accepted >= n or len(results) >= cap:
                break
            rate = max(accepted / len(results), 0.02)
            want = min(cap - len(results), max(8, math.ceil(1.2 * (n - accepted) / rate)))
    return results


def _finish_chunk(results: list[Any], start: int, request: GenerationRequest, opts: PGCGMOptions, known: Any,
                  pool: Any) -> None:  # fmt: skip
    """Deduplicate ``results[start:]`` against themselves and the earlier accepted ones, then drop known structures
    (after the filters and the dedupe: only their survivors); ``pool`` None: in this process."""
    from xtalgen.postprocess.candidate_dedupe import dedupe_results

    if opts.dedupe:
        dedupe_results(results, symprec=opts.symprec, workers=request.workers if pool is not None else 1,
                       progress=request.progress and pool is not None, since=start, pool=pool)  # fmt: skip
    if known is not None:
        reject_known(results, known, since=start)


def _process_round(raws: list[RawBaseSites], conditions: list[Any], scores: Any, results: list[Any],
                   request: GenerationRequest, opts: PGCGMOptions, known: Any, pool: Any) -> int:  # fmt: skip
    """Post-process one round in order, a chunk at a time, appending to ``results``; stop once ``request.n`` are
    accepted (accepted mode). Returns the number accepted so far.

    A candidate's verdict depends only on the candidates before it, and the stream is cut after the n-th accepted
    one anyway. With a pool, a chunk that leaves fewer than n accepted even before its dedupe (which only removes)
    is deduplicated in this process while the pool works on the next chunk, which is needed either way."""
    n, lo, undone = request.n, 0, None  # undone: start of the chunk whose dedupe is still to run
    while lo < len(raws):
        hi = lo + (_chunk_size(results, n, opts) if opts.fast_postprocess else len(raws))
        start = len(results)
        overlap = None if undone is None else partial(_finish_chunk, results, undone, request, opts, known, None)
        batch = _postprocess(raws[lo:hi], conditions[lo:hi], opts, request.workers, request.progress, pool,
                             overlap)  # fmt: skip
        for r in batch:
            if scores is not None:
                r.extra["critic_score"] = round(float(scores[lo + r.index]), 5)
            r.index += start
        results.extend(batch)
        lo, undone = hi, None
        ahead = sum(r.accepted for r in results) < n or opts.count != "accepted"
        if pool is not None and lo < len(raws) and ahead:
            undone = start  # deduplicated while the next chunk runs
            continue
        _finish_chunk(results, start, request, opts, known, pool)
        if opts.count == "accepted" and sum(r.accepted for r in results) >= n:
            break
    return sum(r.accepted for r in results)


def _accepted_prefix(results: list[Any], n: int) -> list[Any]:
    """The shortest prefix of the candidate stream holding ``n`` accepted candidates (all if fewer)."""
    seen = 0
    for i, r in enumerate(results):
        seen += r.accepted
        if seen == n:
            return results[: i + 1]
    return results


def sample_pgcgm(request: GenerationRequest, opts: PGCGMOptions) -> SampleBatch:
    """PGCGM candidates for ``request`` (module docstring); accepted mode keeps the prefix holding ``n``.

    Both count modes share their leading candidates (the first round is the "candidates" run).
    """
    if request.checkpoint is None:
        raise ValueError("pgcgm needs a checkpoint: a training run folder or a shipped model")
    generator, _cfg, ckpt_dir = load_pgcgm_generator(request.checkpoint)
    table = None
    if getattr(generator.cond, "site_dim", 0) > 0:
        from xtalgen.pipelines.pgcgm.templates import read_templates

        table = read_templates(ckpt_dir)
    elif not (request.spacegroup and request.elements):
        table = read_condition_table(ckpt_dir)
    critic, ranker, draw = None, None, request
    if opts.critic_top_fraction is not None:
        critic = load_critic(opts.critic or ckpt_dir, generator)
        draw = replace(request, n=draw_target(request.n, opts.critic_top_fraction))
    if opts.stability_top_fraction is not None:
        ranker_file, ranker = load_stability_classifier(opts.stability_classifier or ckpt_dir)
        draw = replace(request, n=draw_target(request.n, opts.stability_top_fraction))
    results = _draw_rounds(generator, table, draw, opts, critic)
    if opts.count == "accepted":
        results = _accepted_prefix(results, draw.n)
    dropped = 0
    if critic is not None:
        dropped = keep_best(results, request.n, key="critic_score", reason=REASON_CRITIC)
    if ranker is not None:
        score_accepted(results, ranker)
        dropped = keep_best(results, request.n, key=SCORE_COLUMN, reason=REASON_STABILITY)
    width = max(6, len(str(len(results) - 1)))
    # Rejected candidates go without their structure: their formula, found space group and atom counts
    # are already in ``info`` and re-analysing them in the writer would double the symmetry work.
    candidates = [Candidate(f"pgcgm_{r.index:0{width}d}", r.structure if r.accepted else None, r.info(),
                            r.accepted, r.reason, cif=r.cif if r.accepted else None,
                            spacegroup=r.spacegroup if r.cif is not None and r.accepted else None,
                            wyckoff_template=r.wyckoff_template if r.accepted else None)
                  for r in results]  # fmt: skip
    record = {"model": "pgcgm", "checkpoint": str(ckpt_dir), "n": request.n, "seed": request.seed,
              "count": opts.count, "rescale_volume": opts.rescale_volume,
              "max_formula_atoms": opts.max_formula_atoms or None, "distance_factor": opts.distance_factor,
              "max_primitive_sites": opts.max_primitive_sites or None, **request.meta}  # fmt: skip
    if getattr(generator.cond, "site_dim", 0) > 0:  # general model: its templates carry a formula
        record["condition_formula"] = opts.condition_formula
    record["novel_only"] = opts.novel_only
    if opts.push_apart:
        record["push_apart_max_move"] = opts.push_apart_max_move
    if critic is not None:
        record.update(critic_top_fraction=opts.critic_top_fraction, critic=str(opts.critic or ckpt_dir),
                      critic_dropped=dropped)  # fmt: skip
    if ranker is not None:
        record.update(stability_top_fraction=opts.stability_top_fraction, stability_dropped=dropped,
                      stability_classifier=str(ranker_file))  # fmt: skip
    if opts.novel_only:
        record["known_dropped"] = sum(r.reason == REASON_KNOWN for r in results)
    return SampleBatch(candidates, record, split_rejected=opts.count == "accepted")


def generate_pgcgm(
    n: int,
    out_dir: str | Path,
    *,
    checkpoint: str | Path,
    seed: int = 0,
    spacegroup: list[int] | None = None,
    elements: list[list[str]] | None = None,
    workers: int = 2,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
    **options: Any,
) -> Path:
    """Generate PGCGM candidates into ``out_dir`` (CIFs, summary.csv); return the summary path.

    ``options``: :class:`PGCGMOptions` fields (count, snap, rescale_volume, distance_factor, ...).
    Same as :func:`xtalgen.pipelines.generation.generate` with model ``pgcgm``.
    """
    from xtalgen.pipelines.generation import generate

    request = GenerationRequest(
        n, seed, workers, tuple(spacegroup or ()), tuple(tuple(e) for e in elements or ()),
        checkpoint=Path(checkpoint), progress=progress, meta=dict(meta or {}),
    )  # fmt: skip
    return generate("pgcgm", request, out_dir, options).summary
