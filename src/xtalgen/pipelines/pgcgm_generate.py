"""Generate crystals with a trained PGCGM: sample base sites, expand exactly, post-process, write CIFs.

Conditions (space group + base-site elements) come from the user or are drawn from the training
distribution stored in the run folder (``conditions.csv``, written at training time):

* space groups and element sets both given: every (space group, elements) combination, in turn;
* only element sets: space groups drawn from the training materials with those elements (or from
  all training space groups if none has them);
* only space groups: element sets drawn from the training materials of those groups (or from all);
* neither: (space group, elements) pairs drawn from the training materials.

The generator outputs 3 sets of base sites; set ``set_index`` (default 0) is, in the post-processing
worker processes: snapped onto the special positions its own images point to
(:mod:`xtalgen.postprocess.snap`, threshold = the merge threshold; ``snap=False`` skips it), expanded
with the space group's operations (exact numpy expansion, :func:`expand_raw_arrays`), then merged,
filtered and deduplicated. ``summary.csv`` records per candidate how many sites were snapped and the
largest move (Å).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xtalgen.pipelines.output import Candidate, write_generation
from xtalgen.pipelines.pgcgm_task import OpsLookup, PGCGMConfig, build_networks
from xtalgen.pipelines.pgcgm_train import CONDITIONS_FILE
from xtalgen.pipelines.training import load_checkpoint, load_config
from xtalgen.postprocess.merge import DEFAULT_MERGE_FACTOR
from xtalgen.postprocess.snap import snap_base_sites
from xtalgen.representations.basesites.batch import N_FEATURES
from xtalgen.representations.basesites.expand import RawBaseSites, expand_raw_arrays
from xtalgen.representations.basesites.lattice import crystal_systems
from xtalgen.representations.basesites.symops import spacegroup_ops

Condition = tuple[int, tuple[str, ...]]

#: Largest reduced formula (atoms per formula unit) PGCGM submits by default: the 99th percentile of its
#: MP-ternary training materials is 10.65 (98.6 % have ≤ 9; 11,236 materials of mp_ternary_le20, train
#: split). Larger ones come from base sites on high-multiplicity positions (docs/models/pgcgm.md).
DEFAULT_MAX_FORMULA_ATOMS = 10
#: Shortest contact PGCGM submits by default, as a fraction of the sum of atomic radii (after volume
#: rescaling): the 1st percentile of the smallest d_ij / (r_i + r_j) over its MP-ternary training materials
#: (0.734 over 11,236 materials; the generic post-processing bound is 0.5).
#: Computed by benchmarks/pgcgm_training_ranges.py.
DEFAULT_PGCGM_DISTANCE_FACTOR = 0.73
#: Largest primitive cell PGCGM submits by default: the training materials have at most 20 sites.
DEFAULT_MAX_PRIMITIVE_SITES = 20


@dataclass(frozen=True)
class SnapExpand:
    """Picklable ``expand`` callable: snap base sites (threshold ``factor × r``), then expand exactly.

    Returns ``(row matrix (3, 3) Å, symbols (N,), frac (N, 3), {"sites_snapped", "snap_max_move"})``
    (moves in Å) for :func:`xtalgen.postprocess.pipeline.postprocess_candidates`.
    """

    factor: float = DEFAULT_MERGE_FACTOR

    def __call__(self, raw: RawBaseSites) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
        from pymatgen.core import Lattice

        lat = np.asarray(raw.lattice, dtype=np.float64).reshape(-1)
        if lat.shape != (6,) or not np.all(np.isfinite(lat)) or np.any(lat[:3] <= 0):
            raise ValueError(f"lattice must be 6 finite numbers with positive lengths, got {lat.tolist()}")
        matrix = np.asarray(Lattice.from_parameters(*lat).matrix)
        coords, moves = snap_base_sites(raw.species, raw.coords, spacegroup_ops(raw.spacegroup), matrix,
                                        factor=self.factor, site_mask=raw.site_mask)  # fmt: skip
        matrix, symbols, frac = expand_raw_arrays(replace(raw, coords=coords))
        info = {"sites_snapped": int((moves > 0).sum()), "snap_max_move": round(float(moves.max(initial=0.0)), 4)}
        return matrix, symbols, frac, info


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


def read_condition_table(checkpoint_dir: Path) -> list[tuple[int, tuple[str, ...], int]]:
    """(space group, elements, count) rows of the training run's ``conditions.csv``.

    Looked up in the checkpoint folder and its parents (the run folder holds it).
    """
    for folder in [checkpoint_dir, *checkpoint_dir.parents][:4]:
        path = folder / CONDITIONS_FILE
        if path.is_file():
            with open(path, newline="") as fh:
                return [(int(r["spacegroup"]), tuple(r["elements"].split()), int(r["count"]))
                        for r in csv.DictReader(fh)]  # fmt: skip
    raise FileNotFoundError(
        f"no {CONDITIONS_FILE} next to checkpoint {checkpoint_dir}; give --spacegroup and --elements"
    )


@lru_cache(maxsize=256)
def _order_key(symbol: str) -> tuple[float, int]:
    from pymatgen.core import Element

    try:
        el = Element(symbol)
    except ValueError as exc:
        raise ValueError(f"unknown element symbol {symbol!r}") from exc
    x = float(el.X)
    return (x if math.isfinite(x) else math.inf, el.Z)


def order_species(elements: list[str] | tuple[str, ...], max_sites: int) -> tuple[str, ...]:
    """Element symbols in base-site order (electronegativity, then Z), validated against ``max_sites``."""
    elems = tuple(str(e).strip() for e in elements)
    if not elems or len(elems) > max_sites:
        raise ValueError(f"element set {list(elems)}: need 1..{max_sites} elements (the model's base sites)")
    if len(set(elems)) != len(elems):
        raise ValueError(f"element set {list(elems)}: elements must be distinct (one base site each)")
    return tuple(sorted(elems, key=_order_key))


def choose_conditions(
    n: int,
    table: list[tuple[int, tuple[str, ...], int]] | None,
    spacegroup: list[int] | None,
    elements: list[list[str]] | None,
    max_sites: int,
    rng: np.random.Generator,
) -> list[Condition]:
    """``n`` (space group, ordered elements) conditions following the rules in the module docstring."""
    for sg in spacegroup or []:
        if not 1 <= int(sg) <= 230:
            raise ValueError(f"space group {sg}: must be in 1..230")
    sets = [order_species(e, max_sites) for e in elements] if elements else None
    sgs = [int(s) for s in spacegroup] if spacegroup else None
    if sgs and sets:
        combos = [(sg, els) for sg in sgs for els in sets]
        return [combos[i % len(combos)] for i in range(n)]
    if not table:
        raise ValueError("no training condition table: give both space groups and element sets")

    def draw(rows: list[tuple[int, tuple[str, ...], int]]) -> list[tuple[int, tuple[str, ...], int]]:
        weights = np.array([r[2] for r in rows], dtype=np.float64)
        idx = rng.choice(len(rows), size=n, p=weights / weights.sum())
        return [rows[i] for i in idx]

    if sets:
        out = []
        for i, els in enumerate(sets * (n // len(sets) + 1)):
            if i == n:
                break
            rows = [r for r in table if set(r[1]) == set(els)] or table
            w = np.array([r[2] for r in rows], dtype=np.float64)
            out.append((rows[rng.choice(len(rows), p=w / w.sum())][0], els))
        return out
    if sgs:
        rows = [r for r in table if r[0] in sgs]
        if rows:
            return [(sg, els) for sg, els, _ in draw(rows)]
        return [(sgs[i % len(sgs)], r[1]) for i, r in enumerate(draw(table))]
    return [(sg, els) for sg, els, _ in draw(table)]


def sample_base_sites(
    generator: torch.nn.Module,
    conditions: list[Condition],
    *,
    seed: int = 0,
    batch_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Generated coords (n, S, K, 3) and lattices (n, 6) (Å, degrees) for the given conditions."""
    from xtalgen.data.elements import element_features

    k = generator.n_sites
    n = len(conditions)
    feats = np.zeros((n, k, N_FEATURES), np.float32)
    mask = np.zeros((n, k), bool)
    for i, (_, els) in enumerate(conditions):
        feats[i, : len(els)] = [element_features(e) for e in els]
        mask[i, : len(els)] = True
    sgs = np.array([c[0] for c in conditions], dtype=np.int64)
    systems = crystal_systems(sgs)
    lookup = OpsLookup("cpu")
    rng = torch.Generator().manual_seed(int(seed))
    coords, lattices = [], []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            sl = slice(start, min(n, start + batch_size))
            cond = lookup.conditions(
                torch.from_numpy(sgs[sl]), torch.from_numpy(feats[sl]), torch.from_numpy(mask[sl]),
                torch.from_numpy(systems[sl]),
            )  # fmt: skip
            noise = generator.sample_noise(sl.stop - sl.start, generator=rng)
            c, lat = generator(noise, cond)
            coords.append(c.numpy())
            lattices.append(lat.numpy())
    return np.concatenate(coords), np.concatenate(lattices)


def generate_pgcgm(
    n: int,
    out_dir: str | Path,
    *,
    checkpoint: str | Path,
    seed: int = 0,
    spacegroup: list[int] | None = None,
    elements: list[list[str]] | None = None,
    workers: int = 2,
    symprec: float = 0.1,
    set_index: int = 0,
    batch_size: int = 512,
    merge: bool = True,
    charge_neutrality: bool = False,
    dedupe: bool = True,
    snap: bool = True,
    rescale_volume: bool = True,
    max_formula_atoms: int | None = DEFAULT_MAX_FORMULA_ATOMS,
    distance_factor: float = DEFAULT_PGCGM_DISTANCE_FACTOR,
    max_primitive_sites: int | None = DEFAULT_MAX_PRIMITIVE_SITES,
    count: str = "accepted",
    max_candidates: int | None = None,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Generate PGCGM candidates, post-process them, write CIFs + ``summary.csv``; return its path.

    ``count="candidates"``: ``n`` candidates are drawn and every one is listed in ``summary.csv`` (accepted
    or with its rejection reason). ``count="accepted"``: candidates are drawn in rounds until ``n`` are
    accepted (at most ``max_candidates``, default ``50 n``); the output is the shortest prefix of the
    candidate stream holding ``n`` accepted structures, ``summary.csv`` lists exactly those and
    ``rejected.csv`` the rejected candidates of that prefix (``generation.json`` has both counts). The
    first round is the ``count="candidates"`` run, so both modes share their leading candidates. The
    paper's path (every candidate, raw cell sizes) is ``count="candidates", rescale_volume=False``.
    ``spacegroup``/``elements`` condition the samples (see module docstring); ``workers`` processes
    post-process; ``symprec`` (Å) is used for the space-group filter and the CIFs; ``snap`` moves
    sites onto the special positions their own images point to before expansion (module docstring);
    ``rescale_volume`` scales each cell isotropically to the volume its composition predicts
    (:mod:`xtalgen.postprocess.volume`, the shipped MP table) before merging and filtering;
    ``max_formula_atoms`` rejects reduced formulas with more atoms (None: no limit; see
    :data:`DEFAULT_MAX_FORMULA_ATOMS`); ``distance_factor`` rejects contacts shorter than this fraction of
    the summed atomic radii (:data:`DEFAULT_PGCGM_DISTANCE_FACTOR`); ``max_primitive_sites`` rejects primitive
    cells with more atoms (None: no limit; :data:`DEFAULT_MAX_PRIMITIVE_SITES`). The paper's filters are
    ``distance_factor=0.5, max_formula_atoms=None, max_primitive_sites=None``.
    ``meta`` adds to the ``generation.json`` record (model, checkpoint, n, seed), e.g. ``{"pretrained": name}``.
    """
    from xtalgen.postprocess.pipeline import PostprocessResult, dedupe_results, postprocess_candidates
    from xtalgen.postprocess.volume import ElementVolumes

    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    if not 0 < distance_factor < 2:
        raise ValueError(f"distance_factor: must be in (0, 2), got {distance_factor}")
    if max_primitive_sites is not None and max_primitive_sites < 1:
        raise ValueError(f"max_primitive_sites: must be >= 1 or None, got {max_primitive_sites}")
    if count not in ("candidates", "accepted"):
        raise ValueError(f"count: must be 'candidates' or 'accepted', got {count!r}")
    cap = max_candidates if max_candidates is not None else 50 * n
    if cap < n:
        raise ValueError(f"max_candidates: must be >= n ({n}), got {cap}")
    generator, _cfg, ckpt_dir = load_pgcgm_generator(checkpoint)
    if not 0 <= set_index < generator.n_sets:
        raise ValueError(f"set_index: must be in 0..{generator.n_sets - 1}, got {set_index}")
    table = None
    if not (spacegroup and elements):
        table = read_condition_table(ckpt_dir)
    volumes = ElementVolumes.default() if rescale_volume else None
    rng = np.random.default_rng([seed, 1])
    results: list[PostprocessResult] = []
    want = n
    for round_no in range(1000):
        conditions = choose_conditions(want, table, spacegroup, elements, generator.n_sites, rng)
        round_seed = seed if round_no == 0 else int(np.random.default_rng([seed, 2, round_no]).integers(2**31))
        coords, lattices = sample_base_sites(generator, conditions, seed=round_seed, batch_size=batch_size)
        raws = []
        for i, (sg, els) in enumerate(conditions):
            k = generator.n_sites
            species = list(els) + [""] * (k - len(els))
            site_mask = np.arange(k) < len(els)
            raws.append(RawBaseSites(species, coords[i, set_index].astype(np.float64),
                                     lattices[i].astype(np.float64), int(sg), site_mask))  # fmt: skip
        conds = [{"spacegroup": sg, "elements": " ".join(els)} for sg, els in conditions]
        batch = postprocess_candidates(
            raws, spacegroups=[c[0] for c in conditions], conditions=conds, merge=merge,
            expand=SnapExpand(DEFAULT_MERGE_FACTOR) if snap else expand_raw_arrays,
            symprec=symprec, charge_neutrality=charge_neutrality, dedupe=False, volumes=volumes,
            max_formula_atoms=max_formula_atoms, distance_factor=distance_factor,
            max_primitive_sites=max_primitive_sites, workers=workers, progress=progress,
        )  # fmt: skip
        start = len(results)
        for r in batch:
            r.index += start
        results.extend(batch)
        if dedupe:  # this round against itself and against the earlier rounds' accepted structures
            dedupe_results(results, symprec=symprec, workers=workers, progress=progress, since=start)
        accepted = sum(r.accepted for r in results)
        if count == "candidates" or accepted >= n or len(results) >= cap:
            break
        rate = max(accepted / len(results), 0.02)
        want = min(cap - len(results), max(8, math.ceil(1.2 * (n - accepted) / rate)))
    if count == "accepted":
        seen, last = 0, len(results)
        for i, r in enumerate(results):
            seen += r.accepted
            if seen == n:
                last = i + 1
                break
        results = results[:last]
    width = max(6, len(str(len(results) - 1)))
    # Rejected candidates go without their structure: their formula, found space group and atom counts
    # are already in ``info`` and re-analysing them in the writer would double the symmetry work.
    candidates = [
        Candidate(f"pgcgm_{r.index:0{width}d}", r.structure if r.accepted else None, r.info(), r.accepted,
                  r.reason)  # fmt: skip
        for r in results
    ]
    record = {"model": "pgcgm", "checkpoint": str(ckpt_dir), "n": n, "seed": seed, "count": count,
              "rescale_volume": rescale_volume, "max_formula_atoms": max_formula_atoms,
              "distance_factor": distance_factor, "max_primitive_sites": max_primitive_sites,
              **(meta or {})}  # fmt: skip
    return write_generation(out_dir, candidates, symprec=symprec, meta=record,
                            split_rejected=count == "accepted")  # fmt: skip
