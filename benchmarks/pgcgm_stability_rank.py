"""PGCGM general model: a learned stability ranking of accepted candidates, fitted and then tested held out.

1. Labels: ``xtalgen generate --checkpoint pgcgm-mp-general -n TRAIN_N --seed TRAIN_SEED`` then ``xtalgen evaluate
   --stability --stability-n TRAIN_K --early-stop`` (CHGNet, shipped reference table); label = E_hull ≤ 0.1 eV/atom.
2. Fit: cheap descriptors of each unrelaxed CIF (:mod:`xtalgen.evaluation.stability_features`); 5-fold
   cross-validated AUC and metastable share of the top 30 % for a logistic regression, the shipped perceptron
   (:class:`xtalgen.evaluation.stability_classifier.StabilityClassifier`) and gradient boosting; the perceptron
   is then fitted on all labels and written to WORK/stability_classifier.json.
The held-out test of the ranking is the shared head-to-head run with ``--set pgcgm-general:stability_top_fraction=
0.3`` (docs/benchmarks/head_to_head_ranked.md). Every step is skipped when its output exists (resumable).
Writes docs/benchmarks/pgcgm_stability_rank.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "pgcgm_stability_rank.md"
MODEL = "pgcgm-mp-general"
CLI = [sys.executable, "-c", "from xtalgen.cli.main import app; app()"]
METASTABLE = 0.1  # eV/atom, the S.U.N. threshold of the evaluation
TOP = 0.3


def _run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def generate_and_evaluate(folder: Path, n: int, k: int, seed: int, sets: list[str], workers: int) -> None:
    """``generate`` + ``evaluate --stability`` into ``folder``/generated and /report (each skipped when done)."""
    gen, report = folder / "generated", folder / "report"
    if not (gen / "summary.csv").is_file():
        cmd = [*CLI, "generate", "--checkpoint", MODEL, "-n", str(n), "--seed", str(seed), "-o", str(gen),
               "--overwrite", "--workers", str(workers)]  # fmt: skip
        _run(cmd + [x for s in sets for x in ("--set", s)])
    if not (report / "metrics.json").is_file():
        _run([*CLI, "evaluate", str(gen), "-o", str(report), "--stability", "--stability-n", str(k), "--early-stop",
              "--quiet", "--overwrite", "--skip", "coverage", "--workers", str(workers)])  # fmt: skip


def labelled_features(folder: Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Descriptors (n, F) and labels (n,) of the relaxed structures of a labelled run, and their rows."""
    from pymatgen.core import Structure

    from xtalgen.evaluation.stability_features import feature_matrix

    per = pd.read_csv(folder / "report" / "per_sample.csv")
    per = per[np.isfinite(pd.to_numeric(per["e_hull"], errors="coerce"))].reset_index(drop=True)
    structures = [Structure.from_file(folder / "generated" / "cifs" / f"{i}.cif") for i in per["id"]]
    return feature_matrix(structures), (per["e_hull"].to_numpy(float) <= METASTABLE).astype(int), per


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _top_share(score: np.ndarray, y: np.ndarray, top: float = TOP) -> float:
    k = max(1, int(round(top * len(y))))
    return float(y[np.argsort(-score, kind="stable")[:k]].mean())


def cross_validate(x: np.ndarray, y: np.ndarray, novel: np.ndarray | None = None, seed: int = 0) -> list[dict]:
    """5-fold stratified CV of three classifiers: pooled out-of-fold AUC and top-30 % metastable share, over all
    rows and (``novel``: a boolean mask) over the novel ones only, the ones ``novel_only`` generation keeps."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from xtalgen.evaluation.stability_classifier import StabilityClassifier

    makers = {
        "logistic regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=2000)),
        "gradient boosting": lambda: HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05,
                                                                    max_leaf_nodes=15, random_state=seed),
    }  # fmt: skip
    rows = []
    folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y))
    for name in ("perceptron (shipped)", *makers):
        oof = np.zeros(len(y))
        for train, test in folds:
            if name.startswith("perceptron"):
                oof[test] = StabilityClassifier.fit(x[train], y[train], seed=seed).predict_features(x[test])
            else:
                oof[test] = makers[name]().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        row = {"model": name, "auc": _auc(oof, y), "top_share": _top_share(oof, y), "base": float(y.mean())}
        if novel is not None and novel.any() and len(set(y[novel].tolist())) == 2:
            row.update(novel_auc=_auc(oof[novel], y[novel]), novel_top_share=_top_share(oof[novel], y[novel]),
                       novel_base=float(y[novel].mean()), n_novel=int(novel.sum()))  # fmt: skip
        rows.append(row)
    return rows


def fit_classifier(args: argparse.Namespace) -> tuple[Path, list[dict], dict]:
    """Label run, CV table and the fitted classifier file (each skipped when done)."""
    from xtalgen.evaluation.stability_classifier import FILE_NAME, StabilityClassifier

    labelled = args.work / "labels"
    generate_and_evaluate(labelled, args.train_n, args.train_k, args.train_seed, [], args.workers)
    out, cv_file = args.work / FILE_NAME, args.work / "cv.json"
    if out.is_file() and cv_file.is_file():
        cv = json.loads(cv_file.read_text())
        return out, cv["rows"], cv["labels"]
    x, y, per = labelled_features(labelled)
    rows = cross_validate(x, y, per["novel"].map(lambda v: str(v).lower() in ("true", "1", "1.0")).to_numpy())
    labels = {"n": int(len(y)), "positive": int(y.sum()), "seed": args.train_seed, "generated": args.train_n}
    meta = {"label": f"e_hull <= {METASTABLE} eV/atom after CHGNet relaxation (xtalgen evaluate --stability "
            "--early-stop, shipped reference table)", "model": MODEL,
            "generated": f"xtalgen generate --checkpoint {MODEL} -n {args.train_n} --seed {args.train_seed}",
            "relaxed": int(len(y))}  # fmt: skip
    StabilityClassifier.fit(x, y, seed=0, meta=meta).to_json(out)
    cv_file.write_text(json.dumps({"rows": rows, "labels": labels}, indent=1))
    return out, rows, labels


def write(cv: list[dict], labels: dict, args: argparse.Namespace) -> None:
    """The markdown page."""
    lines = ["# PGCGM general model: learned stability ranking (`stability_top_fraction`)", "",
             f"Script `benchmarks/pgcgm_stability_rank.py`. Labels: {labels['n']} structures of `xtalgen generate "
             f"--checkpoint {MODEL} -n {labels['generated']} --seed {labels['seed']}` relaxed with CHGNet "
             f"(`evaluate --stability --early-stop`, shipped reference table); {labels['positive']} "
             f"({100 * labels['positive'] / max(labels['n'], 1):.1f} %) have E_hull ≤ {METASTABLE} eV/atom. "
             f"Descriptors: `xtalgen.evaluation.stability_features` of the unrelaxed CIF (composition statistics, "
             f"SMACT, distances against summed radii, nearest-neighbour electronegativity contrast, symmetry); no "
             f"potential runs at generation time. Machine: {platform.machine()}, {os.cpu_count()} cores.", "",
             "## Cross-validation (5 folds, pooled out-of-fold predictions)", "",
             f"| classifier | AUC | metastable share of the top {int(100 * TOP)} % | base rate | novel only: AUC | "
             f"top {int(100 * TOP)} % | base rate |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in cv:
        novel = (f"{r['novel_auc']:.3f} | {100 * r['novel_top_share']:.1f} % | {100 * r['novel_base']:.1f} % "
                 f"(n = {r['n_novel']})" if "novel_auc" in r else "– | – | –")  # fmt: skip
        lines.append(f"| {r['model']} | {r['auc']:.3f} | {100 * r['top_share']:.1f} % | {100 * r['base']:.1f} % | "
                     f"{novel} |")  # fmt: skip
    lines += [
        "",
        "The fitted perceptron is shipped with `pgcgm-mp-general` (`python -m xtalgen.pretrained.package "
        "--add-file pgcgm-mp-general WORK/stability_classifier.json`). Its held-out test is the head-to-head "
        "run with `--set pgcgm-general:stability_top_fraction=0.3` ([head_to_head_ranked.md]"
        "(head_to_head_ranked.md)).",
        "",
    ]
    OUT.write_text("\n".join(lines) + "\n" + args.notes)
    print(f"wrote {OUT}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/work/runs/pgcgm_stability_rank"))
    ap.add_argument("--train-n", type=int, default=1500, help="structures generated for the labels")
    ap.add_argument("--train-k", type=int, default=450, help="of them relaxed (labels)")
    ap.add_argument("--train-seed", type=int, default=1001)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--notes", default="", help="markdown appended to the page")
    args = ap.parse_args(argv)
    _, cv, labels = fit_classifier(args)
    write(cv, labels, args)


if __name__ == "__main__":
    main()
