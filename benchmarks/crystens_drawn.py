"""CrysTens diffusion with drawn conditions (``--set conditions=drawn``): speed, decode setting, head-to-head.

Drawn mode gives each sample a (space group, reduced formula) pair drawn from the shipped model's training
table and samples it with imputation + Wyckoff projection; it is conditional generation on training-drawn
conditions, not unconditional generation. This script measures

1. speed: CPU seconds per sample of ``--speed-n`` drawn-mode samples (shipped ``crystens-diffusion-mp20``,
   1 torch thread, workers 1), for the xtalgen on the path and, with ``--baseline-src``, for an older source
   tree (each in its own process);
2. decode setting: the same ``--decode-n`` sampled tensors (same seed) decoded with each setting of
   :data:`SETTINGS`; per setting the share of samples whose CIF keeps the drawn formula (reduced), whose
   spglib group (0.1 Å, of the structure read back from the CIF) is the drawn group, that are structurally
   valid (every distance >= 0.5 Å), and all three (an unreadable CIF fails all);
3. with ``--h2h-work``: the rows of a finished ``benchmarks/head_to_head.py`` run of drawn mode beside
   PyXtal random (:func:`h2h_section`).

Writes ``docs/benchmarks/crystens_drawn.md``. Usage (from the repository root)::

    python benchmarks/crystens_drawn.py --work /work/runs/crystens_drawn --baseline-src OLD_CHECKOUT/src \\
        --h2h-work /work/runs/crystens_drawn_h2h
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "benchmarks" / "crystens_drawn.md"

#: name -> decoding option overrides (CrysTensOptions fields) on top of the diffusion defaults.
SETTINGS: dict[str, dict[str, Any]] = {
    "defaults (z_noise_floor 3, merge on)": {},
    "merge off": {"merge_factor": None},
    "z_noise_floor 0.1": {"z_noise_floor": 0.1},
    "z_noise_floor 0.1 + merge off": {"z_noise_floor": 0.1, "merge_factor": None},
}


def _generate(n: int, seed: int, out: Path, **options: Any) -> Path:
    """Drawn-mode samples of the shipped model into ``out`` (reused when ``out`` already holds n, seed)."""
    from xtalgen.pipelines.crystens.sample import generate_crystens
    from xtalgen.pretrained import pretrained_checkpoint

    meta = out / "generation.json"
    if meta.is_file():
        record = json.loads(meta.read_text())
        if (record.get("n"), record.get("seed"), record.get("conditions")) == (n, seed, "drawn"):
            return out / "summary.csv"
    return generate_crystens(n, out, checkpoint=pretrained_checkpoint("crystens-diffusion-mp20"), seed=seed,
                             workers=1, progress=False, conditions="drawn", **options)  # fmt: skip


def speed_child(n: int, seed: int, out: Path) -> None:
    """Print one JSON line: CPU and wall seconds of generating ``n`` drawn samples (this process only)."""
    import torch

    torch.set_num_threads(1)
    c0, w0 = time.process_time(), time.time()
    _generate(n, seed, out)
    print(json.dumps({"n": n, "cpu_s": time.process_time() - c0, "wall_s": time.time() - w0}))


def speed(n: int, seed: int, work: Path, src: Path | None, name: str) -> dict[str, Any]:
    """The speed of the xtalgen in ``src`` (None: this one), measured in a child process (cached as JSON)."""
    cache = work / f"speed_{name}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    out = work / f"speed_{name}"
    cmd = [sys.executable, __file__, "--speed-child", "--speed-n", str(n), "--seed", str(seed), "--work", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["source"] = str(src) if src is not None else "this checkout"
    cache.write_text(json.dumps(result))
    return result


def decode_row(summary: Path) -> dict[str, int]:
    """Counts of one setting's samples: kept formula, kept group, structurally valid, all three."""
    import pandas as pd
    from pymatgen.core import Composition, Structure

    from xtalgen.data.symmetry import spacegroup_number
    from xtalgen.evaluation.validity import structural_validity

    frame = pd.read_csv(summary)
    counts = {"n": len(frame), "formula": 0, "group": 0, "valid": 0, "all": 0, "unreadable": 0}
    for row in frame.itertuples():
        if not bool(row.accepted) or not isinstance(row.cif, str):
            continue
        try:
            s = Structure.from_file(summary.parent / row.cif)
        except ValueError:  # e.g. two atoms on one site of the written CIF
            counts["unreadable"] += 1
            continue
        kept = s.composition.reduced_formula
        flags = (kept == Composition(row.condition_formula).reduced_formula,
                 spacegroup_number(s, 0.1) == int(row.condition_spacegroup), structural_validity(s)[0])  # fmt: skip
        for key, flag in zip(("formula", "group", "valid"), flags, strict=True):
            counts[key] += int(flag)
        counts["all"] += int(all(flags))
    return counts


def _rate(k: int, n: int) -> str:
    from head_to_head_report import wilson_interval

    lo, hi = wilson_interval(k, n)
    return f"{k}/{n} = {100 * k / n:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]"


def page(speeds: dict[str, dict[str, Any]], decode: dict[str, dict[str, int]], h2h: str, args: Any) -> str:
    """The markdown section."""
    lines = ["# CrysTens diffusion with drawn conditions", "",
             f"Written by `benchmarks/crystens_drawn.py` on {time.strftime('%Y-%m-%d %H:%M')}; 2 CPU cores shared "
             f"with other jobs (load average {os.getloadavg()[0]:.1f} at the end), 1 torch thread, workers 1. Model: "
             "shipped `crystens-diffusion-mp20`. Drawn mode (`--set conditions=drawn`) draws a (space group, "
             "reduced formula) pair per sample from the model's training table and samples it with imputation + "
             "Wyckoff projection: **drawn conditions, not unconditional generation**.", "",
             "## Speed", "", "| code | samples | CPU s | wall s | CPU s / sample |",
             "|---|---|---|---|---|"]  # fmt: skip
    for name, s in speeds.items():
        lines.append(f"| {name} (`{s['source']}`) | {s['n']} | {s['cpu_s']:.1f} | {s['wall_s']:.1f} | "
                     f"{s['cpu_s'] / s['n']:.2f} |")  # fmt: skip
    lines += ["", "Before: one sampling run per distinct pair (about one sample per batch). Now: one seeded "
              "run over all samples in batches of 64, each sample imputed and projected for its own pair "
              "(`GroupedHooks`), and the Wyckoff projection fits each element's sites once per step for all "
              "Wyckoff choices that share them (byte-identical output to fitting them per choice).", "",
              f"## Decode setting ({args.decode_n} samples, seed {args.seed}, the same tensors for every setting)",
              "", "Shares with 95 % Wilson intervals. Kept formula: the CIF's reduced formula is the drawn one; kept "
              "group: spglib (0.1 Å) group of the structure read back from the CIF is the drawn one; valid: every "
              "distance >= 0.5 Å; an unreadable CIF fails all.", "",
              "| setting | kept formula | kept group | valid | all three | unreadable CIF |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for name, c in decode.items():
        n = c["n"]
        lines.append(f"| {name} | {_rate(c['formula'], n)} | {_rate(c['group'], n)} | {_rate(c['valid'], n)} | "
                     f"{_rate(c['all'], n)} | {c['unreadable']} |")  # fmt: skip
    best = max(decode, key=lambda k: (decode[k]["all"], decode[k]["formula"]))
    lines += ["", f"Chosen for drawn mode (most samples with all three): **{best}** (the head-to-head below runs "
              "with it, set by `--set`).", ""]  # fmt: skip
    if h2h:
        lines += [h2h, ""]
    return "\n".join(lines)


#: The two sets of the head-to-head run: folder name -> label.
H2H_SETS = {"crystens-diffusion": "CrysTens diffusion, drawn conditions", "pyxtal-random": "PyXtal random (baseline)"}


def stated_group_share(gen: Path) -> tuple[int, int]:
    """(samples whose written CIF's stated group is spglib's (0.1 Å) group of the structure read back, all
    submitted samples); an unreadable or missing CIF counts as a mismatch."""
    import re

    import pandas as pd
    from pymatgen.io.cif import CifParser

    from xtalgen.data.symmetry import spacegroup_number

    frame = pd.read_csv(gen / "summary.csv")
    same = 0
    for cif in frame["cif"]:
        if not isinstance(cif, str) or not (gen / cif).is_file():
            continue
        text = (gen / cif).read_text()
        m = re.search(r"_symmetry_Int_Tables_number\s+(\d+)", text)
        try:
            back = CifParser.from_str(text).parse_structures(primitive=False)[0]
        except Exception:  # noqa: BLE001 - an unreadable CIF counts as a mismatch
            continue
        same += int(m is not None and spacegroup_number(back, 0.1) == int(m.group(1)))
    return same, len(frame)


def h2h_counts(work: Path, kind: str) -> dict[str, tuple[int, int]]:
    """(k, n) per headline rate of one set of a head-to-head run folder."""
    import head_to_head as H
    import numpy as np
    import pandas as pd

    folder = work / kind
    ps = pd.read_csv(folder / "report" / "per_sample.csv")
    n = len(ps)
    valid = ps["struct_valid"].astype(bool)
    groups = ps["spacegroup"].to_numpy(float)
    stab_csv = sorted(folder.glob("stability_m*.csv"))
    stab_csv = [p for p in stab_csv if p.stem.removeprefix("stability_m").isdigit()]
    out = {"valid": (int(valid.sum()), n), "smact": (int(ps["comp_valid"].astype(bool).sum()), n),
           "above P1": (int((np.nan_to_num(groups) > 1).sum()), n),
           "CIF group = spglib": stated_group_share(folder / "generated"),
           "novel (of valid)": (int(ps.loc[valid, "novel"].astype(float).fillna(0).gt(0).sum()),
                                int(valid.sum()))}  # fmt: skip
    if stab_csv:
        c = H.stability_counts(ps, pd.read_csv(stab_csv[0]))
        out["metastable (E_hull <= 0.1, CHGNet)"] = (c["metastable"], c["m"])
        out["stable (E_hull <= 0)"] = (c["stable"], c["m"])
    return out


def h2h_section(work: Path) -> str:
    """The head-to-head rows: each rate with its 95 % Wilson interval, and drawn minus PyXtal (Newcombe)."""
    from head_to_head_report import difference_interval

    counts = {kind: h2h_counts(work, kind) for kind in H2H_SETS}
    model, base = counts["crystens-diffusion"], counts["pyxtal-random"]
    lines = ["## Head-to-head: drawn mode beside PyXtal random", "",
             f"`benchmarks/head_to_head.py` run in `{work}` (its own page has every metric): the same training "
             "split, test split, evaluation and CHGNet relaxation for both sets; rates over all submitted samples "
             "except novelty (over the structurally valid ones) and stability (over the seeded relaxed subset; a "
             "failed or invalid sample counts as not stable). Above P1: spglib (0.1 Å) group of the submitted "
             "structure > 1. CIF group = spglib: the written CIF's stated group equals spglib's group of the "
             "structure read back from it. Run as `python benchmarks/head_to_head.py --train MP_LE20.parquet "
             "--models crystens-diffusion --set crystens-diffusion:conditions=drawn --set "
             "crystens-diffusion:z_noise_floor=0.1 --set crystens-diffusion:merge_factor=null --paired-model '' "
             "--n 300 --stability-n 100 --workers 1 --work WORK` (seed 0). These are drawn-condition rows; they do "
             "not stand in for the unconditional model's rows.", "",
             f"| rate | {H2H_SETS['crystens-diffusion']} | {H2H_SETS['pyxtal-random']} | difference [95 %] |",
             "|---|---|---|---|"]  # fmt: skip
    for key in model:
        if key not in base:
            continue
        (k1, n1), (k2, n2) = model[key], base[key]
        d, lo, hi = difference_interval(k1, n1, k2, n2)
        lines.append(f"| {key} | {_rate(k1, n1)} | {_rate(k2, n2)} | {100 * d:+.0f} pp [{100 * lo:+.0f}, "
                     f"{100 * hi:+.0f}] |")  # fmt: skip
    c = decode_row(work / "crystens-diffusion" / "generated" / "summary.csv")
    lines += ["", f"Drawn mode's own conditions in this run ({c['n']} samples, checked as in the decode table): kept "
              f"formula {_rate(c['formula'], c['n'])}, kept group {_rate(c['group'], c['n'])}, valid "
              f"{_rate(c['valid'], c['n'])}, all three {_rate(c['all'], c['n'])}; {c['unreadable']} CIFs "
              "unreadable (two atoms on one site after the CIF's symmetry expansion)."]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path("/work/runs/crystens_drawn"))
    p.add_argument("--speed-n", type=int, default=24)
    p.add_argument("--decode-n", type=int, default=48)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--baseline-src", type=Path, default=None, help="an older xtalgen src/ to time beside this one")
    p.add_argument("--h2h-work", type=Path, default=None, help="a finished head_to_head.py --work folder")
    p.add_argument("--speed-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=DOC)
    args = p.parse_args(argv)
    if args.speed_child:
        return speed_child(args.speed_n, args.seed, args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    speeds = {}
    if args.baseline_src is not None:
        speeds["before"] = speed(args.speed_n, args.seed, args.work, args.baseline_src, "before")
    speeds["now"] = speed(args.speed_n, args.seed, args.work, None, "now")
    decode = {}
    for i, (name, options) in enumerate(SETTINGS.items()):
        decode[name] = decode_row(_generate(args.decode_n, args.seed, args.work / f"decode_{i}", **options))
    h2h = ""
    if args.h2h_work is not None:
        h2h = h2h_section(args.h2h_work)
    args.out.write_text(page(speeds, decode, h2h, args))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
