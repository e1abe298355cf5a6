"""What ``xtalgen screen`` writes: the ranked shortlist, the rejects, relaxed CIFs, VASP inputs of the top K,
and the report of its stages (``report.json`` and ``report.md``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pymatgen.core import Structure

from xtalgen.data.atomic import atomic_write
from xtalgen.data.safe_names import unique_filenames
from xtalgen.pipelines.screen.runner import (
    REJECTED_FILE,
    RELAXED_DIR,
    REPORT_JSON,
    REPORT_MD,
    SHORTLIST_FILE,
    VASP_DIR,
    ScreenResult,
    ScreenSettings,
    stage_table,
)
from xtalgen.pipelines.vasp_export import export_vasp

#: Columns of shortlist.csv, in order (energies eV/atom, rmsd Å).
SHORTLIST_COLUMNS = ["rank", "id", "formula", "n_sites", "e_hull", "sun", "metasun", "unique", "novel",
                     "symmetry_kept", "spacegroup_generated", "spacegroup_relaxed", "energy_per_atom",
                     "prescreen_e_hull", "relax_steps", "converged", "rmsd", "duplicate_of", "matched_known_id",
                     "structure_hash", "cif"]  # fmt: skip


def write_outputs(result: ScreenResult, rows: Sequence[dict[str, Any]], relaxed: Mapping[str, Structure],
                  rejected: Sequence[dict[str, str]], settings: ScreenSettings) -> None:  # fmt: skip
    """shortlist.csv (ranked), rejected.csv, ``relaxed/<name>.cif`` per row, VASP inputs of the top K unique rows."""
    out = result.out_dir
    names = unique_filenames([str(r["id"]) for r in rows])
    for row, name in zip(rows, names, strict=True):
        name = name if name.lower().endswith(".cif") else f"{name}.cif"
        path = out / RELAXED_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            fh.write(relaxed[row["id"]].to(fmt="cif"))
        row["cif"] = f"{RELAXED_DIR}/{name}"
    with atomic_write(out / SHORTLIST_FILE, newline="") as fh:
        pd.DataFrame(list(rows), columns=SHORTLIST_COLUMNS).to_csv(fh, index=False)
    with atomic_write(out / REJECTED_FILE, newline="") as fh:
        pd.DataFrame(list(rejected), columns=["id", "stage", "reason"]).to_csv(fh, index=False)
    result.shortlist = list(rows)
    top = [r for r in rows if r["unique"]][: settings.top]
    if top:
        export = export_vasp([(str(r["id"]), relaxed[r["id"]]) for r in top], out / VASP_DIR)
        result.exported, result.export_message = export.written, export.message


def _markdown(report: Mapping[str, Any]) -> str:
    lines = ["# xtalgen screen", "", f"Scheduler: {report['scheduler']}. Potential: {report['potential']}.", "",
             "| stage | in | removed | out | reused | wall s | CPU s | note |", "|---|---|---|---|---|---|---|---|"]
    for s in report["stages"]:
        lines.append(f"| {s['name']} | {s['n_in']} | {s['n_removed']} | {s['n_out']} | {s['n_cached']} | "
                     f"{s['wall_s']:.1f} | {s['cpu_s']:.1f} | {s['note']} |")  # fmt: skip
    totals = report["totals"]
    lines += ["", f"Shortlist: {totals['shortlist']} structures, {totals['sun']} SUN, {totals['metasun']} MetaSUN; "
              f"{totals['exported']} exported for VASP. Total {totals['wall_s']:.1f} s wall, "
              f"{totals['cpu_s']:.1f} CPU-s.", ""]  # fmt: skip
    return "\n".join(lines)


def write_report(result: ScreenResult, settings: ScreenSettings, potential: Any) -> dict[str, Any]:
    """report.json and report.md in the output folder; returns the report."""
    stages = stage_table(result)
    report = {
        "scheduler": result.scheduler,
        "potential": {"prescreen": potential.prescreen_settings(), "relax": potential.relax_settings()},
        "settings": {k: (str(v) if v is not None and not isinstance(v, int | float) else v)
                     for k, v in vars(settings).items()},  # fmt: skip
        "stages": stages,
        "totals": {
            "candidates": stages[0]["n_in"] if stages else 0,
            "shortlist": len(result.shortlist),
            "sun": sum(bool(r["sun"]) for r in result.shortlist),
            "metasun": sum(bool(r["metasun"]) for r in result.shortlist),
            "exported": len(result.exported),
            "wall_s": sum(s["wall_s"] for s in stages),
            "cpu_s": sum(s["cpu_s"] for s in stages),
        },
    }
    with atomic_write(result.out_dir / REPORT_JSON) as fh:
        json.dump(report, fh, indent=2, default=str)
    with atomic_write(result.out_dir / REPORT_MD) as fh:
        fh.write(_markdown({**report, "potential": potential.relax_settings().get("potential", "?")}))
    return report
