"""CHGNet vs SevenNet: relax the same structures with both, E_hull under each, agreement and cost.

For each structure of STRUCTURES (a ``xtalgen generate`` folder, a folder of CIFs, or a CSV) and each
potential: a static energy of the structure as given (timed), a FIRE relaxation with the cell free
(≤ ``--steps`` steps, forces ≤ ``--fmax`` eV/Å, timed), and E_hull (eV/atom) of the relaxed energy
against reference energies made by the same potential: the shipped table when one ships for it
(CHGNet 0.3.0: static energies of the MP ≤ 20-site structures), else static energies of the
``--references`` structures (default: the shared MP file, ≤ ``--max-sites`` sites) in the chemical
systems the samples need, computed on demand and cached in ``--cache`` (timed too). Model loading is
not timed (one warm-up call first). Relaxation records (with their timings) are cached in ``--cache``
too, so a rerun resumes, and separate runs per potential can be combined by a last run with both.
Writes ``agreement.csv`` (one row per structure) and ``agreement.md`` (Pearson and Spearman
correlation of E_hull, mean |ΔE_hull|, confusion tables of metastable ≤ 0.1 and stable ≤ 0 eV/atom
by both / one / neither, cost per structure) into ``--out``.

Usage:  python benchmarks/potential_agreement.py STRUCTURES --out DIR [--limit 200] [--device cuda|cpu]
        [--potentials chgnet,sevennet] [--steps 200] [--fmax 0.1] [--threads 1]
        [--references MP_CSV] [--max-sites 20] [--cache DIR] [--recompute-references]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
MP = REPO / ".." / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"
METASTABLE = 0.1  # eV/atom, as xtalgen.evaluation.stability.METASTABLE_EHULL
STABLE = 0.0


def _machine(device: str, threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} logical CPUs, device {device}, {threads} torch thread(s)"
    if device.startswith("cuda"):
        import torch

        text += f", GPU {torch.cuda.get_device_name(0)}"
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load:
        text += f"; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    return text


def _reference_energies(
    potential: str, systems: list[frozenset[str]], args: argparse.Namespace, device: str
) -> tuple[list, dict]:
    """(composition, eV/atom) references for ``systems`` and how they were made (source, n, seconds each)."""
    from pymatgen.core import Composition, Structure

    from xtalgen.evaluation.reference_table import load_reference_table, shipped_reference_path
    from xtalgen.evaluation.stability import reference_indices, subsystems
    from xtalgen.postprocess.potentials import energy_model, static_energy
    from xtalgen.postprocess.relax import read_jsonl

    tag = energy_model(potential).reference_tag
    shipped = shipped_reference_path(tag)
    if shipped is not None and not args.recompute_references:
        table = load_reference_table(shipped)
        wanted = {sub for s in set(systems) for sub in subsystems(s)}
        refs = table.references(wanted)
        return refs, {"source": f"shipped table {shipped.name}", "n": len(refs), "computed": 0, "s_each": None}
    frame = pd.read_csv(args.references, usecols=["material_id", "elements", "nsites", "cif"])
    frame = frame[frame["nsites"] <= args.max_sites].reset_index(drop=True)
    ref_systems = [frozenset(json.loads(e.replace("'", '"'))) for e in frame["elements"]]
    chosen = reference_indices(systems, ref_systems)
    cache = Path(args.cache) / f"{tag}-{Path(args.references).name}-le{args.max_sites}.jsonl"
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = read_jsonl(cache)
    seconds: list[float] = []
    with open(cache, "a", encoding="utf-8") as fh:
        for j in chosen:
            mid = str(frame.at[j, "material_id"])
            if mid in done:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = Structure.from_str(frame.at[j, "cif"], fmt="cif")
            t = time.perf_counter()
            try:
                energy, _ = static_energy(potential, s, device=device)
                row = {"id": mid, "formula": s.composition.formula, "energy_per_atom": energy}
            except Exception as exc:
                row = {"id": mid, "error": f"{type(exc).__name__}: {exc}"[:200]}
            seconds.append(time.perf_counter() - t)
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            done[mid] = row
    refs = []
    for j in chosen:
        row = done.get(str(frame.at[j, "material_id"]), {})
        if row.get("energy_per_atom") is not None:
            refs.append((Composition(row["formula"]), float(row["energy_per_atom"])))
    info = {"source": f"{Path(args.references).name} ≤ {args.max_sites} sites, static {tag}, cached in {cache}",
            "n": len(refs), "computed": len(seconds), "s_each": float(np.mean(seconds)) if seconds else None}
    return refs, info


def run(args: argparse.Namespace) -> pd.DataFrame:
    import torch

    from xtalgen.evaluation.sources import load_generated
    from xtalgen.evaluation.stability import hull_analysis
    from xtalgen.postprocess.potentials import parse_potentials, relax_structure, static_energy
    from xtalgen.postprocess.relax import read_jsonl

    potentials = parse_potentials(args.potentials)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible to torch")
    if device == "cpu":
        torch.set_num_threads(args.threads)
    gen = load_generated(args.structures, limit=args.limit)
    items = [(i, s) for i, s in zip(gen.ids, gen.structures, strict=True) if s is not None]
    print(f"{len(items)} structures, potentials {', '.join(potentials)}, device {device}", flush=True)
    table = pd.DataFrame({"id": [i for i, _ in items], "formula": [s.composition.reduced_formula for _, s in items],
                          "nsites": [len(s) for _, s in items]})  # fmt: skip
    systems = [frozenset(el.symbol for el in s.composition.elements) for _, s in items]
    refs_info: dict[str, dict] = {}
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads if device == "cpu" else None):
        for pot in potentials:
            cache = Path(args.cache) / f"relax-{pot}-{device}-fire{args.steps}-{args.fmax}.jsonl"
            cache.parent.mkdir(parents=True, exist_ok=True)
            done = read_jsonl(cache)  # a rerun (or a run per potential, then one with both) reuses the records
            if any(sid not in done for sid, _ in items):
                static_energy(pot, items[0][1], device=device)  # load the model outside the timings
            rows = []
            for k, (sid, s) in enumerate(items):
                if sid in done:
                    rows.append(done[sid])
                    continue
                t = time.perf_counter()
                try:
                    static_energy(pot, s, device=device)
                    t_static = time.perf_counter() - t
                    t = time.perf_counter()
                    rec = relax_structure(pot, s, steps=args.steps, fmax=args.fmax, device=device)
                    rec["relax_s"] = time.perf_counter() - t
                    rec["static_s"] = t_static
                except Exception as exc:
                    rec = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                rec.pop("structure", None)
                with open(cache, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"id": sid, **rec}) + "\n")
                rows.append(rec)
                print(f"{pot} {k + 1}/{len(items)} {sid}: {rec.get('energy_per_atom', rec.get('error'))} "
                      f"({rec.get('relax_s', 0):.1f} s)", flush=True)  # fmt: skip
            refs, refs_info[pot] = _reference_energies(pot, systems, args, device)
            ok = [k for k, r in enumerate(rows) if r.get("energy_per_atom") is not None]
            hulls = hull_analysis([(items[k][1].composition, rows[k]["energy_per_atom"]) for k in ok], refs)
            e_hull = np.full(len(items), np.nan)
            decomp = [""] * len(items)
            notes = [str(r.get("error", "")) for r in rows]
            for k, h in zip(ok, hulls, strict=True):
                e_hull[k], decomp[k], notes[k] = h.e_hull, h.decomposition_text(), h.note
            for col in ("energy_per_atom", "converged", "steps", "rmsd", "static_s", "relax_s"):
                table[f"{col}_{pot}"] = [r.get(col, np.nan) for r in rows]
            table[f"e_hull_{pot}"] = e_hull
            table[f"decomposition_{pot}"] = decomp
            table[f"note_{pot}"] = notes
    table.attrs["references"] = refs_info
    table.attrs["potentials"] = potentials
    table.attrs["machine"] = _machine(device, args.threads)
    return table


def _confusion(a: np.ndarray, b: np.ndarray, threshold: float, names: list[str]) -> list[str]:
    ma, mb = a <= threshold, b <= threshold
    n = lambda mask: int(np.sum(mask))  # noqa: E731
    t, (p, q) = f"{threshold:g}", names
    return [f"| | {q} ≤ {t} | {q} > {t} |", "|---|---|---|",
            f"| **{p} ≤ {t}** | {n(ma & mb)} (both) | {n(ma & ~mb)} (only {p}) |",
            f"| **{p} > {t}** | {n(~ma & mb)} (only {q}) | {n(~ma & ~mb)} (neither) |"]  # fmt: skip


def markdown(table: pd.DataFrame, args: argparse.Namespace) -> str:
    from scipy.stats import pearsonr, spearmanr

    pots = table.attrs["potentials"]
    lines = [f"# E_hull agreement: {' vs '.join(pots)}", "",
             f"{len(table)} structures from `{args.structures}`; FIRE, cell free, ≤ {args.steps} steps, "
             f"fmax {args.fmax} eV/Å; machine: {table.attrs['machine']}.", ""]  # fmt: skip
    if len(pots) >= 2:
        a, b = (table[f"e_hull_{p}"].to_numpy(dtype=float) for p in pots[:2])
        both = np.isfinite(a) & np.isfinite(b)
        lines += [f"E_hull under both: {int(both.sum())} structures."]
        if both.sum() >= 3:
            r, rho = pearsonr(a[both], b[both])[0], spearmanr(a[both], b[both])[0]
            lines += [f"Pearson r {r:.3f}, Spearman ρ {rho:.3f}, "
                      f"mean |ΔE_hull| {np.mean(np.abs(a[both] - b[both])):.3f} eV/atom, "
                      f"median ΔE_hull ({pots[1]} − {pots[0]}) {np.median(b[both] - a[both]):+.3f} eV/atom.",
                      ""]  # fmt: skip
        lines += ["Metastable (E_hull ≤ 0.1 eV/atom):", "", *_confusion(a[both], b[both], METASTABLE, pots[:2]), "",
                  "Stable (E_hull ≤ 0 eV/atom):", "", *_confusion(a[both], b[both], STABLE, pots[:2]), ""]  # fmt: skip
    lines += ["| potential | relaxed | converged | median E_hull (eV/atom) | static s/structure (median) | "
              "relaxation s/structure (median / mean) | FIRE steps (median) | hull references |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for p in pots:
        e = table[f"e_hull_{p}"].to_numpy(dtype=float)
        relax_s = table[f"relax_s_{p}"].to_numpy(dtype=float)
        ref = table.attrs["references"][p]
        ref_text = f"{ref['n']} from {ref['source']}"
        if ref.get("s_each") is not None:
            ref_text += f"; {ref['computed']} computed now, {ref['s_each']:.2f} s each"
        conv = np.array([v is True or v == 1.0 for v in table[f"converged_{p}"]], dtype=bool)
        lines.append(
            f"| {p} | {int(np.isfinite(relax_s).sum())} | {int(conv.sum())} | {np.nanmedian(e):.3f} | "
            f"{np.nanmedian(table[f'static_s_{p}'].to_numpy(dtype=float)):.2f} | "
            f"{np.nanmedian(relax_s):.1f} / {np.nanmean(relax_s):.1f} | "
            f"{np.nanmedian(table[f'steps_{p}'].to_numpy(dtype=float)):.0f} | {ref_text} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("structures", help="generation folder, folder of CIFs, or CSV with a 'cif' column")
    parser.add_argument("--out", required=True, type=Path, help="folder for agreement.csv and agreement.md")
    parser.add_argument("--potentials", default="chgnet,sevennet")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--limit", type=int, default=None, help="only the first N structures")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--fmax", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads on the CPU")
    parser.add_argument("--references", default=str(MP), help="reference structures (MP CSV) for on-demand hulls")
    parser.add_argument("--max-sites", type=int, default=20)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "xtalgen" / "benchmarks"))
    parser.add_argument("--recompute-references", action="store_true",
                        help="compute reference energies even where a table ships (like-for-like cost)")
    args = parser.parse_args(argv)
    table = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "agreement.csv", index=False)
    text = markdown(table, args)
    (args.out / "agreement.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
