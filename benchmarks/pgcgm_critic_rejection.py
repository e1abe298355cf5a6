"""PGCGM general model: raw S.U.N. and diversity under generation settings, incl. critic-guided rejection.

For each setting: ``xtalgen generate --checkpoint pgcgm-mp-general -n N --seed SEED --set ...`` then
``xtalgen evaluate GEN -o REPORT --stability --stability-n K --early-stop`` (CHGNet, batched FIRE, shipped
reference table; novelty against all MP structures, the default). Both steps are skipped when their output
exists (resumable); work goes under ``--work``. Critic settings (``critic_top_fraction``) need ``--critic``, a
checkpoint holding a critic for the general model's generator (the shipped model holds only the generator);
without one they are reported as not measured. Per critic-scored setting, the Spearman correlation of the
critic score with the relaxed E_hull. Writes docs/benchmarks/pgcgm_critic_rejection.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from head_to_head_report import wilson_interval  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "pgcgm_critic_rejection.md"
MODEL = "pgcgm-mp-general"
CLI = [sys.executable, "-c", "from xtalgen.cli.main import app; app()"]
#: setting name -> --set entries (critic settings also get critic=<--critic>).
SETTINGS: dict[str, list[str]] = {
    "defaults": [],
    "max_atoms=20": ["max_atoms=20"],
    "max_atoms=20 + balanced": ["max_atoms=20", "balanced=true"],
    "max_atoms=20 + critic top 50 %": ["max_atoms=20", "critic_top_fraction=0.5"],
    "max_atoms=20 + critic top 25 %": ["max_atoms=20", "critic_top_fraction=0.25"],
}

NOTES = """The shipped general model holds only its generator, not the critic it was trained against. The critic
settings therefore use a critic fitted afterwards to the frozen generator
(`xtalgen.pipelines.pgcgm.critic_fit.fit_critic`: WGAN-GP critic updates of 256 samples, the model config's
critic size and optimizer, on a seeded sample of MP train-split materials with ≤ 20 sites, encoded as base
sites and self-augmented as in training): discriminator rejection sampling (Azadi et al., ICLR 2019), not the
training critic. The Spearman column correlates that critic's score with the relaxed E_hull over the relaxed
structures of the run, which are the kept (best-scored) fraction only, so its range is restricted; a negative
value means higher score, lower E_hull. `critic_top_fraction` stays off by default unless it raises S.U.N.
beyond the intervals of the plain setting.
"""


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def fit_general_critic(args: argparse.Namespace) -> Path:
    """A critic fitted to the frozen shipped general generator (the model ships none): a base-site table of a
    seeded sample of MP train-split materials with <= 20 sites, then :func:`fit_critic`; skipped when done."""
    from xtalgen.data.fast_cif import parse_p1_cif
    from xtalgen.pipelines.pgcgm.critic_fit import fit_critic
    from xtalgen.pretrained import pretrained_checkpoint
    from xtalgen.representations.basesites.encode import encode_structure
    from xtalgen.representations.basesites.table import write_base_site_table

    out = args.work / "critic"
    if (out / "checkpoints").is_dir():
        return out
    table = out / "mp_train_table.parquet"
    if not table.is_file():
        frame = pd.read_csv(args.mp, usecols=["material_id", "nsites", "split", "cif"])
        frame = frame[(frame["split"] == "train") & (frame["nsites"] <= 20)]
        frame = frame.sample(n=min(args.critic_materials, len(frame)), random_state=0)
        bases = []
        for mid, cif in zip(frame["material_id"], frame["cif"], strict=True):
            try:
                bases.append(encode_structure(parse_p1_cif(cif), id=mid))
            except ValueError:
                continue
        out.mkdir(parents=True, exist_ok=True)
        write_base_site_table(bases, table)
    folder = fit_critic(pretrained_checkpoint(MODEL), table, out, steps=args.critic_steps, batch_size=256, seed=0)
    return folder.parents[1]


def run_setting(name: str, sets: list[str], args: argparse.Namespace) -> Path | None:
    """Generate and evaluate one setting (each step skipped when done); its folder, or None if not runnable."""
    if any(s.startswith("critic_top_fraction") for s in sets):
        if args.critic is None:
            return None
        sets = [*sets, f"critic={args.critic}"]
    folder = args.work / _slug(name)
    gen, report = folder / "generated", folder / "report"
    if not (gen / "summary.csv").is_file():
        cmd = [*CLI, "generate", "--checkpoint", MODEL, "-n", str(args.n), "--seed", str(args.seed),
               "-o", str(gen), "--overwrite", "--workers", str(args.workers)]  # fmt: skip
        _run(cmd + [x for s in sets for x in ("--set", s)])
    if not (report / "metrics.json").is_file():
        flags = ["--stability", "--stability-n", str(args.k), "--early-stop", "--quiet", "--overwrite"]
        flags += ["--skip", "coverage"]
        _run([*CLI, "evaluate", str(gen), "-o", str(report), *flags, "--workers", str(args.workers)])
    return folder


def score_plain(args: argparse.Namespace) -> Path | None:
    """The ``max_atoms=20`` run again with ``critic_top_fraction=1`` (same candidates, all kept, each scored):
    the critic score of every structure that setting relaxed, for an unrestricted Spearman."""
    out = args.work / _slug("max_atoms=20") / "scored"
    if args.critic is not None and not (out / "summary.csv").is_file():
        _run([*CLI, "generate", "--checkpoint", MODEL, "-n", str(args.n), "--seed", str(args.seed), "-o", str(out),
              "--overwrite", "--workers", str(args.workers), "--set", "max_atoms=20", "--set",
              "critic_top_fraction=1.0", "--set", f"critic={args.critic}"])  # fmt: skip
    return out if (out / "summary.csv").is_file() else None


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    return float(np.corrcoef(rx, ry)[0, 1]) if len(x) > 2 else float("nan")


def summarise(name: str, folder: Path) -> dict:
    """Counts, rates with 95 % intervals, diversity and critic/E_hull correlation of one setting."""
    metrics = json.loads((folder / "report" / "metrics.json").read_text())
    m = metrics.get("metrics", metrics)
    per = pd.read_csv(folder / "report" / "per_sample.csv")
    summary = pd.read_csv(folder / "generated" / "summary.csv")
    acc = summary[summary["accepted"].astype(str).str.lower().isin(["true", "1"])]
    relaxed = per[np.isfinite(pd.to_numeric(per.get("e_hull"), errors="coerce"))]
    k = len(relaxed)
    n_meta = int(m.get("stability.n_metastable", 0))
    n_sun = int(m.get("stability.n_sun", 0))  # metastable, unique and novel
    sg_share = per["spacegroup"].value_counts(normalize=True)
    row = {"setting": name, "accepted": len(acc), "candidates": len(summary) + _n_rejected(folder), "relaxed": k,
           "metastable": n_meta, "sun": n_sun,
           "meta_ci": wilson_interval(n_meta, k), "sun_ci": wilson_interval(n_sun, k),
           "sun_rate_report": m.get("sun.combined_sun_msun_rate"), "n_spacegroups": m.get("symmetry.n_spacegroups"),
           "top_sg": (int(sg_share.index[0]), float(sg_share.iloc[0])) if len(sg_share) else None,
           "n_templates": m.get("symmetry.n_templates"), "vendi": m.get("diversity.vendi"),
           "median_ehull": float(relaxed["e_hull"].median()) if k else float("nan")}  # fmt: skip
    scored = acc
    if (folder / "scored" / "summary.csv").is_file():  # the same candidates, scored by the critic
        scored = pd.read_csv(folder / "scored" / "summary.csv")
        if sorted(scored["formula"]) != sorted(acc["formula"]):
            raise RuntimeError(f"{folder}/scored: not the same structures as {folder}/generated")
    if "critic_score" in scored.columns and k:
        score = dict(zip(scored["id"], scored["critic_score"], strict=True))
        s = np.array([score.get(i, np.nan) for i in relaxed["id"]], float)
        ok = np.isfinite(s)
        e = relaxed["e_hull"].to_numpy(float)[ok]
        rho, m_ok = _spearman(s[ok], e), int(ok.sum())
        half = 1.03 / math.sqrt(max(m_ok - 3, 1)) * 1.96  # Fisher z interval (Bonett-Wright variance)
        row.update(spearman=rho, spearman_ci=(math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)),
                   n_scored=m_ok)  # fmt: skip
        top = s[ok] >= np.median(s[ok])
        row["halves"] = [(int((e[sel] <= 0.1).sum()), int(sel.sum())) for sel in (top, ~top)]
    return row


def _n_rejected(folder: Path) -> int:
    path = folder / "generated" / "rejected.csv"
    return len(pd.read_csv(path)) if path.is_file() else 0


def write(rows: list[dict], missing: list[str], args: argparse.Namespace) -> None:
    """The markdown page."""
    lines = ["# PGCGM general model: raw S.U.N. and critic-guided rejection", "",
             f"Script `benchmarks/pgcgm_critic_rejection.py` (n = {args.n} accepted per setting, seed {args.seed}, "
             f"K = {args.k} relaxed: CHGNet batched FIRE with `--early-stop`, shipped reference table; novelty "
             f"against all MP structures). S.U.N. = E_hull ≤ 0.1 eV/atom, unique and novel, over the relaxed "
             f"structures (all accepted structures are valid here); 95 % Wilson intervals. Machine: "
             f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs.", "",
             "| setting | kept / candidates drawn | relaxed | metastable (95 % CI) | S.U.N. (95 % CI) | median E_hull "
             "(eV/atom) | space groups | top space group (share) | Wyckoff templates | Vendi | Spearman(critic, "
             "E_hull) |", "|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        k = max(r["relaxed"], 1)
        top = f"{r['top_sg'][0]} ({100 * r['top_sg'][1]:.1f} %)" if r["top_sg"] else "—"
        sp = (f"{r['spearman']:.2f} ({r['spearman_ci'][0]:.2f}–{r['spearman_ci'][1]:.2f}), n = {r['n_scored']}"
              if "spearman" in r else "—")  # fmt: skip
        lines.append(
            f"| {r['setting']} | {r['accepted']} / {r['candidates']} | {r['relaxed']} | "
            f"{100 * r['metastable'] / k:.1f} % ({100 * r['meta_ci'][0]:.1f}–{100 * r['meta_ci'][1]:.1f}) | "
            f"{100 * r['sun'] / k:.1f} % ({100 * r['sun_ci'][0]:.1f}–{100 * r['sun_ci'][1]:.1f}) | "
            f"{r['median_ehull']:.3f} | {int(r['n_spacegroups'])} | {top} | {int(r['n_templates'])} | "
            f"{r['vendi'] if r['vendi'] is None else round(r['vendi'], 1)} | {sp} |"
        )  # fmt: skip
    for name in missing:
        lines.append(f"| {name} | not measured (run not finished) | | | | | | | | | |")
    for r in rows:
        if "halves" in r and r["setting"] == "max_atoms=20":
            (a, na), (b, nb) = r["halves"]
            ca, cb = wilson_interval(a, na), wilson_interval(b, nb)
            lines += ["", f"Same structures as `max_atoms=20`, scored by the fitted critic (`critic_top_fraction=1`): "
                      f"metastable {a}/{na} = {100 * a / na:.1f} % ({100 * ca[0]:.1f}–{100 * ca[1]:.1f}) in the "
                      f"better-scored half vs {b}/{nb} = {100 * b / nb:.1f} % ({100 * cb[0]:.1f}–{100 * cb[1]:.1f}) "
                      "in the other half."]  # fmt: skip
    lines += ["", "Issue #21 targets (S.U.N. ≥ 45 %, metastable ≥ 50 %, no space group above 30 %, ≥ 40 space groups), "
              "met by the point estimate:", ""]
    for r in rows:
        k = max(r["relaxed"], 1)
        checks = {"S.U.N.": r["sun"] / k >= 0.45, "metastable": r["metastable"] / k >= 0.5,
                  "top space group ≤ 30 %": bool(r["top_sg"]) and r["top_sg"][1] <= 0.3,
                  "≥ 40 space groups": (r["n_spacegroups"] or 0) >= 40}  # fmt: skip
        met = [c for c, ok in checks.items() if ok]
        lines.append(f"- {r['setting']}: {len(met)} of 4 ({', '.join(met) if met else 'none'})")
    OUT.write_text("\n".join(lines) + "\n\n" + NOTES + args.notes)
    print(f"wrote {OUT}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/work/runs/hD"))
    ap.add_argument("--n", type=int, default=150, help="accepted structures per setting")
    ap.add_argument("--k", type=int, default=150, help="structures relaxed per setting")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--critic", type=Path, default=None,
                    help="checkpoint holding a critic for the general model (default: fit one, see --critic-steps)")
    ap.add_argument("--critic-steps", type=int, default=1000, help="critic updates when fitting (0: no critic)")
    ap.add_argument("--critic-materials", type=int, default=6000, help="MP train materials the critic sees")
    ap.add_argument("--mp", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mp"
                    / "mp_structures.csv.gz", help="the shared MP structure table")
    ap.add_argument("--only", nargs="*", default=None, help="settings to run (default: all)")
    ap.add_argument("--report-only", action="store_true", help="summarise finished settings, run nothing")
    ap.add_argument("--notes", default="", help="markdown appended to the page")
    args = ap.parse_args(argv)
    wants_critic = args.only is None or any("critic" in name for name in args.only)
    if args.critic is None and args.critic_steps > 0 and wants_critic and not args.report_only:
        args.critic = fit_general_critic(args)
    if not args.report_only:
        score_plain(args)
    rows, missing = [], []
    for name, sets in SETTINGS.items():
        folder = args.work / _slug(name)
        if not args.report_only and (args.only is None or name in args.only):
            folder = run_setting(name, sets, args) or folder
        if (folder / "report" / "metrics.json").is_file():
            rows.append(summarise(name, folder))
        else:
            missing.append(name)
    write(rows, missing, args)


if __name__ == "__main__":
    main()
