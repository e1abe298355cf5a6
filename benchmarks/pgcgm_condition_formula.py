"""General PGCGM with and without the condition-formula filter: generation only, no relaxation.

For each element set (and once without one), ``generate`` runs with the model's defaults (accepted mode, default
candidate limit 50 N), once with ``condition_formula=true`` and once with ``false``. Per run: accepted /
candidates, the share of accepted structures that are charge-balanced (SMACT with the Pauling test, the
project's compositional validity), the share whose reduced formula equals their condition's (template elements ×
multiplicities), distinct space groups and the most frequent space group's share. Public API only.

Rows are appended to ``WORK/rows.jsonl`` as they finish; a rerun with the same ``--work`` skips them.

Usage: python benchmarks/pgcgm_condition_formula.py [--pretrained pgcgm-mp-general] [--n 20] [--n-free 200]
       [--systems Na-Cl,Sr-Ti-O] [--work /tmp/cf] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pymatgen.core import Composition

from xtalgen.evaluation.composition_validity import composition_validity
from xtalgen.pipelines.families import GenerationRequest
from xtalgen.pipelines.generation import generate
from xtalgen.pipelines.pgcgm.templates import condition_formula

SYSTEMS = ["Na-Cl", "Mg-O", "Ti-O", "Ga-As", "Cu-Au", "Sr-Ti-O", "Li-Co-O", "Mg-Al-O", "K-Mg-F", "Cu-Zn-Sn-S"]


def _matches_condition(info: dict) -> bool:
    mults = tuple(int(m) for m in str(info["cond_multiplicities"]).split())
    cond = (0, tuple(str(info["cond_elements"]).split()), mults)
    return Composition(condition_formula(cond)).reduced_composition == Composition(info["formula"]).reduced_composition


def run_one(system: str | None, on: bool, n: int, args: argparse.Namespace) -> dict:
    """One generation run; the row of the table."""
    elements = (tuple(system.split("-")),) if system else ()
    request = GenerationRequest(n, seed=args.seed, workers=args.workers, elements=elements,
                                checkpoint=args.checkpoint, progress=False)  # fmt: skip
    start = time.perf_counter()
    result = generate("pgcgm", request, args.work / f"{system or 'free'}_{int(on)}",
                      {"count": "accepted", "condition_formula": on})  # fmt: skip
    acc = result.accepted
    div = result.record["diversity"]
    return {"system": system or "unconditional", "filter": on, "n": n, "accepted": len(acc),
            "candidates": len(result.candidates),
            "charge_balanced": sum(composition_validity(c.structure.composition) for c in acc),
            "formula_as_condition": sum(_matches_condition(c.info) for c in acc),
            "n_spacegroups": div["n_spacegroups"], "top_spacegroup": div.get("top_spacegroup"),
            "top_share": div.get("top_spacegroup_share"), "seconds": round(time.perf_counter() - start, 1),
            "rejected": dict(result.rejection_counts(4))}  # fmt: skip


def markdown(rows: list[dict]) -> str:
    """The table of the rows."""
    lines = ["| system | filter | accepted / candidates | charge-balanced | formula = condition | space groups "
             "| top SG (share) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        a = max(r["accepted"], 1)
        top = f"{r['top_spacegroup']} ({100 * r['top_share']:.0f} %)" if r.get("top_spacegroup") else "–"
        lines.append(f"| {r['system']} | {'on' if r['filter'] else 'off'} | {r['accepted']} / {r['candidates']} "
                     f"| {r['charge_balanced']} ({100 * r['charge_balanced'] / a:.0f} %) "
                     f"| {r['formula_as_condition']} ({100 * r['formula_as_condition'] / a:.0f} %) "
                     f"| {r['n_spacegroups']} | {top} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrained", default="pgcgm-mp-general")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated; 'free' = no --elements")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--n-free", type=int, default=200, help="structures of the unconditional runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("condition_formula_runs"))
    args = parser.parse_args()
    from xtalgen.pretrained import load_pretrained

    args.checkpoint = load_pretrained(args.pretrained).checkpoint
    args.work.mkdir(parents=True, exist_ok=True)
    done_file = args.work / "rows.jsonl"
    done = [json.loads(x) for x in done_file.read_text().splitlines()] if done_file.is_file() else []
    keys = {(r["system"], r["filter"]) for r in done}
    for system in args.systems.split(","):
        for on in (True, False):
            free = system == "free"
            if ((system if not free else "unconditional"), on) in keys:
                continue
            row = run_one(None if free else system, on, args.n_free if free else args.n, args)
            print(json.dumps(row), flush=True)
            with open(done_file, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            done.append(row)
    print(markdown(done))


if __name__ == "__main__":
    main()
