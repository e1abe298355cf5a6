"""Write an evaluation report: metrics.json/.md, per_sample.csv, PNG plots, gallery, relaxed CIFs, one HTML page.

The HTML page is self-contained (images embedded as base64), so it can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xtalgen.data.atomic import atomic_write
from xtalgen.data.json_values import json_ready
from xtalgen.data.safe_names import safe_filename
from xtalgen.evaluation.gallery import render_structure
from xtalgen.evaluation.plots import plot_distributions, plot_ehull
from xtalgen.evaluation.property_plots import plot_property_violins
from xtalgen.evaluation.property_report import property_section
from xtalgen.evaluation.runner import EvaluationResult
from xtalgen.evaluation.summary import plain_summary

#: The plain-language summary beside the report (the text ``xtalgen evaluate`` prints).
SUMMARY_FILE = "summary.txt"

#: What a report folder holds (``xtalgen evaluate --overwrite`` deletes exactly these).
REPORT_ENTRIES = frozenset({"metrics.json", "metrics.md", "per_sample.csv", "relaxed", "gallery", "plots",
                            "report.html", "summary.txt", "relaxed_chgnet", "relaxed_sevennet",
                            "reference_properties.csv"})  # fmt: skip

#: One-line definitions shown next to the numbers (prefix match on the metric key).
DEFINITIONS = {
    "n_samples": "submitted samples (all rates below use this denominator unless stated)",
    "validity.structural": "all interatomic distances ≥ 0.5 Å and volume ≥ 0.1 Å³",
    "validity.compositional": "SMACT charge neutrality + Pauling electronegativity (alloys valid)",
    "validity.overall": "structurally and compositionally valid",
    "uniqueness": "distinct structures / structurally valid samples (StructureMatcher 0.2/0.3/5°)",
    "novelty": "valid samples that are none of the known structures (the novelty reference: same reduced formula, "
    "space group and elements on the same Wyckoff orbits) / structurally valid samples",
    "novelty.train": "valid samples matching no training structure (StructureMatcher 0.2/0.3/5°) / structurally "
    "valid samples",
    "symmetry.p1_share": "valid samples whose space group (spglib, symprec 0.1 Å) is P1 / valid samples",
    "symmetry.n_spacegroups": "distinct space groups among the valid samples",
    "symmetry.n_templates": "distinct Wyckoff templates (space group + multiset of occupied Wyckoff letters)",
    "symmetry.template_novelty": "valid samples whose Wyckoff template no known structure has / valid samples",
    "diversity.vendi": "Vendi score (Friedman & Dieng 2023), cosine kernel on CrystalNN structure fingerprints: "
    "the effective number of distinct valid samples",
    "diversity.vendi_fraction": "Vendi score / number of valid samples (1: all distinct, → 0: all alike)",
    "sun.sun_rate": "SUN (LeMat-GenBench): E_hull ≤ 0 eV/atom, unique and novel, over all submitted samples",
    "sun.msun_rate": "MetaSUN (LeMat-GenBench msun_rate): 0 < E_hull ≤ 0.1 eV/atom, unique and novel, over all "
    "submitted samples",
    "sun.combined_sun_msun_rate": "SUN + MetaSUN: E_hull ≤ 0.1 eV/atom, unique and novel (MatterGen's S.U.N.)",
    "sun.ssun_rate": "S.S.U.N. (WyFormer): space group kept after relaxation, E_hull ≤ 0.1 eV/atom, unique and novel",
    "sun.sun_count": "relaxed samples counted in SUN",
    "sun.msun_count": "relaxed samples counted in MetaSUN",
    "sun.ssun_count": "relaxed samples counted in S.S.U.N.",
    "sun.symmetry_kept": "relaxed samples whose relaxed structure keeps the generated space group (spglib 0.1 Å)",
    "coverage.recall": "COV-R: test structures with a generated sample within 0.4 (struct) and 10 (comp)",
    "coverage.precision": "COV-P: valid samples within the thresholds of some test structure",
    "wasserstein.": "Wasserstein distance, valid samples vs test, primitive Niggli-reduced cells",
    "ks.": "Kolmogorov–Smirnov statistic, valid samples vs test, primitive Niggli-reduced cells",
    "consistency.": "CrysTens self-consistency, mean over tensors",
    "stability.subset": "valid samples relaxed (all valid ones, or a seeded random subset: --stability-n)",
    "stability.too_dense": "subset samples not relaxed: denser than any known solid (< 4.3 Å³/atom), not stable",
    "stability.evaluated": "samples with an E_hull",
    "stability.n_stable": "relaxed samples with E_hull ≤ 0 eV/atom",
    "stability.n_metastable": "relaxed samples with E_hull ≤ 0.1 eV/atom",
    "stability.n_sun": "relaxed samples that are metastable, unique and novel (S.U.N.)",
    "stability.stable_rate": "E_hull ≤ 0 eV/atom, over all submitted samples (from a subset: estimated)",
    "stability.metastable_rate": "E_hull ≤ 0.1 eV/atom, over all submitted samples (from a subset: estimated)",
    "stability.sun_rate": "S.U.N.: metastable, unique and novel, over all submitted samples "
    "(from a subset: count/subset × valid/submitted)",
    "stability.sun_stable_rate": "stable, unique and novel, over all submitted samples",
    "stability.e_hull_median": "median E_hull (eV/atom) of relaxed samples",
    "stability.relax_rmsd_mean": "mean RMS displacement during relaxation (Å)",
    "stability.n_references": "reference structures on the hulls",
    "agreement.n_compared": "relaxed samples with an E_hull under every potential (the agreement counts below)",
    "agreement.metastable_all": "metastable (E_hull ≤ 0.1 eV/atom) under every potential",
    "agreement.metastable_only_": "metastable under this potential only",
    "agreement.metastable_none": "metastable under no potential",
    "agreement.n_sun": "metastable under every potential, unique and novel",
    "properties.n_generated": "relaxed samples with computed properties (--properties)",
    "properties.n_reference": "relaxed reference structures with computed properties (seeded subset, --properties-n)",
    "properties.ks.": "Kolmogorov–Smirnov statistic of this property, relaxed samples vs relaxed reference subset, "
    "computed with the stability potential (not the paper's CGCNN surrogate)",
    "properties.median.": "median of this property over the relaxed samples",
    "properties.reference_median.": "median of this property over the relaxed reference subset",
    "agreement.sun_rate": "S.U.N. by agreement: metastable under every potential, unique and novel, "
    "over all submitted samples (scaled like stability.sun_rate)",
}


def _definition(key: str, meta: dict[str, Any] | None = None) -> str:
    if key.startswith("stability_") and "." in key:  # stability under a further potential
        head, rest = key.split(".", 1)
        base = _definition(f"stability.{rest}", meta)
        return f"{base} — under {head[len('stability_'):]}" if base else ""
    if key.startswith("agreement.") and key.endswith((".pearson", ".spearman", ".mean_abs_diff")):
        pair = key.split(".")[1].replace("_vs_", " vs ")
        what = {"pearson": "Pearson correlation", "spearman": "Spearman rank correlation",
                "mean_abs_diff": "mean |difference| (eV/atom)"}[key.rsplit(".", 1)[1]]  # fmt: skip
        return f"{what} of E_hull, {pair}, samples with both"
    text = DEFINITIONS.get(key, "")
    if not text:
        for prefix, value in DEFINITIONS.items():
            if prefix.endswith((".", "_")) and key.startswith(prefix):
                text = value
                break
    if key.startswith(("wasserstein.", "ks.")) and (meta or {}).get("distribution_reference") == "train":
        text = text.replace("vs test", "vs the training set (no test set given)")
    return text


#: Metric keys that are counts (printed as integers).
_COUNT_KEYS = ("n_samples", "stability.evaluated", "stability.n_references", "consistency.n", "stability.subset",
               "stability.n_stable", "stability.n_metastable", "stability.n_sun", "stability.too_dense",
               "symmetry.n_spacegroups", "symmetry.n_templates", "sun.sun_count", "sun.msun_count",
               "sun.ssun_count", "properties.n_generated", "properties.n_reference")  # fmt: skip

#: Readable names of metrics and of what a skipped one needed.
METRIC_NAMES = {"novel": "novelty", "unique": "uniqueness", "cov_precision": "coverage (COV-R/COV-P)",
                "distributions": "distributions (Wasserstein, K-S)", "e_hull": "stability (E_hull, S.U.N.)",
                "consistency": "CrysTens self-consistency", "template_novel": "symmetry and Wyckoff templates",
                "diversity": "diversity (Vendi score)", "sun": "SUN, MetaSUN and S.S.U.N."}  # fmt: skip
NEED_TEXT = {"train": "a training set (--train) or a known-structures table", "test": "a test set (--test)",
             "stability": "--stability",
             "crystens_diagnostics": "CrysTens generation output (raw tensor diagnostics)",
             "structures": "structures"}  # fmt: skip


def skipped_lines(skipped: dict[str, list[str]]) -> list[str]:
    """One plain sentence per skipped metric: what it is and what it needs."""
    return [f"{METRIC_NAMES.get(m, m)}: needs {' and '.join(NEED_TEXT.get(n, n) for n in need)}"
            for m, need in skipped.items()]  # fmt: skip


def _fmt(value: float, key: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    plain = f"stability.{key.split('.', 1)[1]}" if key.startswith("stability_") and "." in key else key
    if plain in _COUNT_KEYS or key.startswith(("agreement.n_", "agreement.metastable_")):
        return f"{int(value)}"
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"


def metrics_markdown(metrics: dict[str, float], title: str = "Evaluation", meta: dict[str, Any] | None = None) -> str:
    """A markdown table of metric, value and definition (then notes and skipped metrics from ``meta``)."""
    lines = [f"# {title}", "", "| metric | value | definition |", "|---|---|---|"]
    lines += [f"| {k} | {_fmt(v, k)} | {_definition(k, meta)} |" for k, v in metrics.items()]
    extra = [*(meta or {}).get("notes", []), *(f"Skipped {t}." for t in skipped_lines((meta or {}).get("skipped", {})))]
    if extra:
        lines += ["", *(f"- {t}" for t in extra)]
    return "\n".join(lines) + "\n"


def select_gallery(result: EvaluationResult, n: int = 12) -> list[tuple[str, Any, str]]:
    """(id, structure, caption) of the best candidates: lowest E_hull (relaxed cells) when stability
    was run, else valid, unique and novel samples in input order."""
    table = result.per_sample
    ok = table["struct_valid"] & table["comp_valid"]
    if "e_hull" in table.columns and np.isfinite(table["e_hull"].to_numpy(dtype=float)).any():
        rows = table[ok & np.isfinite(table["e_hull"].astype(float))].copy()
        sun = rows["sun"].fillna(0).astype(float) if "sun" in rows.columns else pd.Series(0.0, index=rows.index)
        rows["_order"] = -sun
        rows = rows.sort_values(["_order", "e_hull"]).head(n)
        out = []
        for _, r in rows.iterrows():
            s = result.relaxed.get(r["id"], result.structures.get(r["id"]))
            tag = {1.0: " SUN", 0.5: " MetaSUN"}.get(float(np.nan_to_num(r.get("sun", 0.0))), "")
            caption = f"{r['id']}: {r['formula']}, E_hull {r['e_hull']:.3f} eV/atom{tag}"
            out.append((r["id"], s, caption + stability_details(r)))
        return out
    for col in ("unique", "novel"):
        if col in table.columns:
            ok &= np.nan_to_num(table[col].to_numpy(dtype=float), nan=0.0) > 0
    rows = table[ok].head(n)
    return [
        (r["id"], result.structures[r["id"]], f"{r['id']}: {r['formula']} (SG {r.get('spacegroup', '?')})")
        for _, r in rows.iterrows()
    ]


def stability_details(row: Any) -> str:
    """``"; sevennet E_hull 0.041; hull: NaCl 0.50 + Na 0.50; RMSD 0.21 Å, converged"`` for a per-sample row
    (the parts it has); the gallery caption's tail after the first potential's E_hull."""
    parts = []
    for col in row.index:
        if col.startswith("e_hull_") and not col.startswith(("e_hull_note", "e_hull_decomposition")):
            value = _num(row[col])
            if value is not None:
                parts.append(f"{col[len('e_hull_'):]} E_hull {value:.3f}")
    decomp = row.get("e_hull_decomposition")
    if isinstance(decomp, str) and decomp:
        parts.append(f"hull: {decomp}")
    rmsd, conv = _num(row.get("relax_rmsd")), _num(row.get("relax_converged"))
    relax = ([f"RMSD {rmsd:.2f} Å"] if rmsd is not None else []) + (
        [] if conv is None else ["converged" if conv else "not converged"]
    )
    if relax:
        parts.append(", ".join(relax))
    return "".join(f"; {p}" for p in parts)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def relaxed_cif_paths(result: EvaluationResult) -> dict[str, dict[str, str]]:
    """Relative path of each relaxed CIF the report writes, by per-sample column then sample id:
    ``relaxed_cif`` (first potential, ``relaxed/``) and ``relaxed_cif_<potential>`` (``relaxed_<potential>/``)."""
    out = {"relaxed_cif": {sid: f"relaxed/{safe_filename(sid)}.cif" for sid in result.relaxed}}
    for name, structures in result.relaxed_by_potential.items():
        folder = f"relaxed_{safe_filename(name)}"
        out[f"relaxed_cif_{name}"] = {sid: f"{folder}/{safe_filename(sid)}.cif" for sid in structures}
    return out


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    *,
    title: str = "xtalgen evaluation",
    gallery_size: int = 12,
    source: str | Path | None = None,
    generation: dict[str, Any] | None = None,
) -> Path:
    """Write the report files into ``out_dir`` (metrics.json/.md, per_sample.csv, relaxed CIFs, plots,
    gallery, summary.txt, report.html); return the path of ``report.html``.

    ``source`` (what was evaluated) and ``generation`` (its generation record, if it is a generation
    folder) go into the plain summary (:func:`xtalgen.evaluation.summary.plain_summary`)."""
    out = Path(out_dir)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "metrics.json") as fh:
        json.dump({"metrics": json_ready(result.metrics), "meta": json_ready(result.meta)}, fh, indent=2)
    with atomic_write(out / "metrics.md") as fh:
        fh.write(metrics_markdown(result.metrics, title, result.meta))
    table = result.per_sample
    cif_paths = relaxed_cif_paths(result)
    if any(cif_paths.values()):
        table = table.copy()
        for col, paths in cif_paths.items():
            table[col] = [paths.get(sid, "") for sid in table["id"]]
    with atomic_write(out / "per_sample.csv", newline="") as fh:
        table.to_csv(fh, index=False)
    _write_relaxed(result, out, cif_paths)
    if result.reference_properties is not None:
        with atomic_write(out / "reference_properties.csv", newline="") as fh:
            result.reference_properties.to_csv(fh, index=False)
    summary = [_unmarked(t) for t in plain_summary(result, Path(source or "."), out / "report.html", generation)]
    with atomic_write(out / SUMMARY_FILE, encoding="utf-8") as fh:
        fh.write("\n".join(t for t in summary if t) + "\n")
    page = _page(result, title, _figures(result, out), _gallery(result, out, gallery_size), summary)
    with atomic_write(out / "report.html", encoding="utf-8") as fh:
        fh.write(page)
    return out / "report.html"


def _write_relaxed(result: EvaluationResult, out: Path, cif_paths: dict[str, dict[str, str]]) -> None:
    """The relaxed CIFs of every potential, at the paths per_sample.csv names."""
    structures_by_set = [(result.relaxed, cif_paths["relaxed_cif"])]
    structures_by_set += [(result.relaxed_by_potential[name[len("relaxed_cif_"):]], paths)
                          for name, paths in cif_paths.items() if name != "relaxed_cif"]  # fmt: skip
    for structures, paths in structures_by_set:
        for sid, structure in structures.items():
            with atomic_write(out / paths[sid]) as fh:
                fh.write(_cif(structure))


def _unmarked(text: str) -> str:
    return text.replace("[bold]", "").replace("[/]", "")


def _figures(result: EvaluationResult, out: Path) -> list[tuple[str, Path]]:
    figures: list[tuple[str, Path]] = []
    if result.test_properties is not None and len(result.test_properties):
        ref = "training" if result.meta.get("distribution_reference") == "train" else "test"
        p = plot_distributions(result.generated_properties, result.test_properties, out / "plots" / "distributions.png",
                               result.metrics, reference_label=ref)  # fmt: skip
        figures.append((f"Generated (valid) vs {ref} distributions (primitive Niggli-reduced cells)", p))
    if result.reference_properties is not None:
        ref = "test" if result.meta.get("property_reference") == "test" else "training"
        p = plot_property_violins(result.per_sample, result.reference_properties, out / "plots" / "properties.png",
                                  result.metrics, reference_label=ref)  # fmt: skip
        figures.append((f"Properties after relaxation: generated vs {ref} structures (values beyond the 1st–99th "
                        "percentile of both sets drawn at the plot edge)", p))  # fmt: skip
    if "e_hull" in result.per_sample.columns:
        p = plot_ehull(result.per_sample["e_hull"].to_numpy(dtype=float), out / "plots" / "e_hull.png")
        figures.append(("Energy above hull", p))
    return figures


def _gallery(result: EvaluationResult, out: Path, size: int) -> list[tuple[str, Path]]:
    gallery = []
    for k, (sid, structure, caption) in enumerate(select_gallery(result, size)):
        if structure is not None:
            png = out / "gallery" / f"{k:02d}_{safe_filename(sid)}.png"
            gallery.append((caption, render_structure(structure, png, caption.split("; ")[0])))
    return gallery


def _page(result: EvaluationResult, title: str, figures: list[tuple[str, Path]], gallery: list[tuple[str, Path]],
          summary: list[str]) -> str:  # fmt: skip
    """The self-contained HTML page."""
    meta = result.meta
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v, k)}</td><td>{html.escape(_definition(k, meta))}</td></tr>"
        for k, v in result.metrics.items()
    )
    skipped = "".join(f"<li>{html.escape(t)}</li>" for t in skipped_lines(meta.get("skipped", {})))
    notes = "".join(f"<p>{html.escape(t)}</p>" for t in meta.get("notes", []))
    plain = "".join(f"<p>{html.escape(t)}</p>" for t in summary if t and t != "What this shows")
    figs = "".join(f"<h2>{html.escape(t)}</h2>{_img(p, t)}" for t, p in figures)
    figs = property_section(result, _fmt) + figs
    cells = "".join(f"<figure>{_img(p, c)}<figcaption>{html.escape(c)}</figcaption></figure>" for c, p in gallery)
    known = meta.get("novelty_reference")
    novelty = f" Novelty reference: {html.escape(str(known))}." if known else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}img{{max-width:100%}}
figure{{display:inline-block;margin:4px;width:260px;vertical-align:top}}figcaption{{font-size:12px}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>{meta.get("n_samples", 0)} samples; {meta.get("n_train", 0)} training and {meta.get("n_test", 0)} test
structures; energy model: {html.escape(str(meta.get("energy_model") or "none (no stability screen)"))}.{novelty}</p>
<h2>What this shows</h2>{plain}
{notes}
<table><tr><th>metric</th><th>value</th><th>definition</th></tr>{rows}</table>
{"<p>Skipped:</p><ul>" + skipped + "</ul>" if skipped else ""}
{figs}<h2>Gallery of best candidates</h2><div>{cells or "<p>no candidates</p>"}</div>
</body></html>"""


def _cif(structure: Any) -> str:
    """CIF text with the space group found at symprec 0.1 (P1 if symmetry analysis fails)."""
    from pymatgen.io.cif import CifWriter

    try:
        return str(CifWriter(structure, symprec=0.1))
    except Exception:  # spglib failure on a distorted cell: P1 is still exact
        return str(CifWriter(structure))


