"""CrysTens decoding + cleanup: which settings turn sampled tensors into crystals, and why samples fail.

Samples ``--n`` raw tensors once (seed 0, the shipped ``crystens-diffusion-mp20`` unless ``--checkpoint``;
cached as ``raw.npy`` under ``--out``) and decodes the same tensors with each setting of the decoding and
cleanup options (``xtalgen generate --set KEY=VALUE``). Per setting: decoded share, structurally valid
(every distance >= 0.5 Å), SMACT-valid composition, spglib group (0.1 Å) of the final structure above P1,
the written CIF's stated group equal to spglib's group of the structure read back from it, the mean of the
symmetry step's largest per-atom move (Å, over samples it moved), and the reasons samples are invalid.
Writes ``docs/benchmarks/crystens_cleanup.md``. Usage (from the repository root)::

    python benchmarks/crystens_cleanup.py --n 200 --out /work/runs/h4_cleanup
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks" / "crystens_cleanup.md"

#: name -> (description, option overrides); the options are CrysTensOptions fields.
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "raw decode": ("no cleanup step", {"volume_limit": None, "merge_factor": None, "symmetry_tolerance": None}),
    "consensus on, z floor 0.1": ("consensus on, z_noise_floor 0.1", {"consensus": True, "z_noise_floor": 0.1}),
    "consensus off": ("consensus off, z_noise_floor 0.1", {"consensus": False, "z_noise_floor": 0.1}),
    "z floor 3": ("consensus on, z_noise_floor 3", {"consensus": True, "z_noise_floor": 3.0}),
    "consensus off + z floor 3": ("consensus off, z_noise_floor 3", {"consensus": False, "z_noise_floor": 3.0}),
    "defaults": ("the current defaults", {}),
}


def _stated_vs_found(structure: Any) -> tuple[int | None, int | None]:
    """(group the written CIF states, spglib's group at 0.1 Å of the structure read back from that CIF)."""
    from pymatgen.io.cif import CifParser

    from xtalgen.data.generation_folder import cif_text
    from xtalgen.data.symmetry import spacegroup_number

    text = cif_text(structure, 0.1)
    m = re.search(r"_symmetry_Int_Tables_number\s+(\d+)", text)
    stated = int(m.group(1)) if m else None
    try:
        back = CifParser.from_str(text).parse_structures(primitive=False)[0]
    except Exception:  # an unreadable CIF counts as a mismatch
        return stated, None
    return stated, spacegroup_number(back, 0.1)


def _reason(row: dict[str, Any], structure: Any) -> str:
    """Why a sample is not structurally valid (a short category), "" when it is."""
    from xtalgen.evaluation.validity import structural_validity

    if structure is None:
        return f"not decoded: {row.get('reason') or 'unknown'}"
    ok, _ = structural_validity(structure)
    if ok:
        return ""
    i, j, _, d = structure.get_neighbor_list(0.5, exclude_self=True)
    same = [structure[a].specie == structure[b].specie for a, b, dist in zip(i, j, d, strict=True) if dist < 0.5]
    if not same:
        return "volume"
    return "atoms < 0.5 Å: same element" if all(same) else "atoms < 0.5 Å: different elements"


def score(candidates: list[Any]) -> dict[str, Any]:
    """Shares over all samples and failure reasons for one setting's candidates."""
    from xtalgen.data.symmetry import spacegroup_number
    from xtalgen.evaluation.composition_validity import composition_validity

    n = len(candidates)
    reasons: Counter[str] = Counter()
    smact_fail: Counter[str] = Counter()
    valid = smact = above = equal = 0
    moves: list[float] = []
    for cand in candidates:
        s, row = cand.structure, cand.info
        why = _reason({**row, "reason": cand.reason}, s)
        reasons[why or "valid"] += 1
        valid += not why
        if s is None:
            continue
        ok = composition_validity(s.composition)
        smact += ok
        if not ok:
            smact_fail["one element" if len(s.composition) == 1 else f"{len(s.composition)} elements"] += 1
        sg = spacegroup_number(s, 0.1)
        above += bool(sg and sg > 1)
        stated, found = _stated_vs_found(s)
        equal += stated is not None and stated == found
        d = row.get("symmetry_max_displacement")
        if (row.get("symmetry_applied") or 0) > 1 and d is not None:
            moves.append(float(d))
    return {
        "n": n, "decoded": sum(c.structure is not None for c in candidates) / n, "struct_valid": valid / n,
        "smact": smact / n, "above_p1": above / n, "stated_eq_spglib": equal / n,
        "moved": len(moves), "mean_max_disp": float(np.mean(moves)) if moves else float("nan"),
        "reasons": dict(reasons), "smact_fail": dict(smact_fail),
    }  # fmt: skip


def raw_tensors(checkpoint: Path, n: int, steps: int, out: Path) -> np.ndarray:
    """The raw samples (cached in ``out/raw.npy``; seed 0, unconditional)."""
    from xtalgen.pipelines.crystens.load import load_crystens_model
    from xtalgen.pipelines.crystens.sample import sample_tensors

    path = out / "raw.npy"
    if path.exists() and len(np.load(path)) == n:
        return np.load(path)
    kind, module, _, _ = load_crystens_model(checkpoint)
    x = sample_tensors(kind, module, n, seed=0, sampling_steps=steps, progress=False)
    np.save(path, x)
    return x


def run_setting(raw: np.ndarray, ct: Any, overrides: dict[str, Any], workers: int) -> dict[str, Any]:
    from xtalgen.pipelines.crystens.decode import decode_candidates
    from xtalgen.pipelines.crystens.sample import DiffusionOptions

    opts = DiffusionOptions(**overrides)
    opts.validate()
    t0 = time.perf_counter()
    cands = decode_candidates(raw, ct, label="crystens-diffusion", workers=workers, progress=False,
                              decode_options=opts.decode_options(), cleanup=opts.cleanup())  # fmt: skip
    res = score(cands)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    return res


def render(results: dict[str, dict[str, Any]], args: argparse.Namespace, checkpoint: Path) -> str:
    pct = lambda v: f"{100 * v:.1f} %"  # noqa: E731
    lines = [
        "# CrysTens decoding and cleanup: from sampled tensors to crystals",
        "",
        f"Written by `benchmarks/crystens_cleanup.py` on {time.strftime('%Y-%m-%d %H:%M')}; the same {args.n} "
        f"raw samples (seed 0, {args.steps} DDIM steps, unconditional) of `{checkpoint.name}` decoded with each "
        "setting (`xtalgen generate --set KEY=VALUE`). Shares are over all samples. Structurally valid: every "
        "distance ≥ 0.5 Å; SMACT: `smact_validity` of the composition; > P1: spglib (0.1 Å) group of the final "
        "structure; stated = spglib: the written CIF's stated group equals spglib's (0.1 Å) group of the "
        "structure read back from it; moved / max move: samples the symmetry step changed and the mean of "
        "their largest per-atom displacement (Å). Novelty is not measured here.",
        "",
        "| setting | options | decoded | struct. valid | SMACT | > P1 | stated = spglib | moved | max move (Å) "
        "| wall (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {SETTINGS[name][0]} | {pct(r['decoded'])} | {pct(r['struct_valid'])} | {pct(r['smact'])} "
            f"| {pct(r['above_p1'])} | {pct(r['stated_eq_spglib'])} | {r['moved']} | {r['mean_max_disp']:.2f} "
            f"| {r['wall_s']} |"
        )
    lines += ["", "Why samples are not structurally valid (count of samples), and SMACT failures by element count:",
              ""]  # fmt: skip
    for name, r in results.items():
        why = ", ".join(f"{k}: {v}" for k, v in sorted(r["reasons"].items(), key=lambda kv: -kv[1]))
        fail = ", ".join(f"{k}: {v}" for k, v in sorted(r["smact_fail"].items(), key=lambda kv: -kv[1]))
        lines.append(f"- **{name}**: {why}; SMACT fails: {fail or 'none'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    from xtalgen.pipelines.crystens.load import load_crystens_model
    from xtalgen.pretrained import pretrained_checkpoint

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("/work/runs/crystens_cleanup"))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--settings", nargs="*", default=list(SETTINGS))
    p.add_argument("--doc", type=Path, default=DOC)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint = args.checkpoint or pretrained_checkpoint("crystens-diffusion-mp20")
    raw = raw_tensors(checkpoint, args.n, args.steps, args.out)
    ct = load_crystens_model(checkpoint)[3]
    cache = args.out / "results.json"
    results = json.loads(cache.read_text()) if cache.exists() else {}
    for name in args.settings:
        if name in results:  # finished in an earlier run (delete results.json to redo)
            continue
        results[name] = run_setting(raw, ct, SETTINGS[name][1], args.workers)
        cache.write_text(json.dumps(results, indent=1))
        print(name, {k: v for k, v in results[name].items() if k not in ("reasons", "smact_fail")}, flush=True)
    ordered = {k: results[k] for k in SETTINGS if k in results}
    args.doc.write_text(render(ordered, args, Path(checkpoint)))


if __name__ == "__main__":
    main()
