"""Tables and checks of the PGCGM benchmark report (used by ``benchmarks/pgcgm_run.py``).

Every number in the report is computed here from the generation summaries (``summary.csv``), the CIFs
and ``timings.json``; the prose only chooses between wordings by comparing those numbers.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

STEPS = [  # (label, rows that survive up to this step) for the survival table
    ("expanded (≤ 2000 atoms)", lambda f: ~f["reason"].isin(["expansion failed", "too many atoms"])),
    ("merged", lambda f: ~f["reason"].isin(["expansion failed", "too many atoms", "merge failed"])),
    ("min distance ≥ 0.5 (r_i + r_j)", lambda f: f["filter_min_distance"] == True),  # noqa: E712
    ("space group kept", lambda f: (f["filter_min_distance"] == True) & (f["filter_spacegroup"] == True)),  # noqa: E712
    ("unique (accepted)", lambda f: f["accepted"] == True),  # noqa: E712
]


def survival_cells(frame: pd.DataFrame) -> list[str]:
    """'kept (percent)' after each post-processing step of :data:`STEPS`."""
    n = len(frame)
    return [f"{int(test(frame).sum())} ({100 * int(test(frame).sum()) / n:.1f}%)" for _, test in STEPS]


def acceptance(frame: pd.DataFrame) -> float:
    """Percent of candidates accepted."""
    return 100.0 * float((frame["accepted"] == True).mean())  # noqa: E712


def clash_breakdown(frame: pd.DataFrame) -> dict[str, int] | None:
    """Candidates rejected for distance, split by the kind of pair below 0.5 (r_i + r_j).

    For the ternaries benchmarked here (one base site per element) a same-element clash is a clash
    between atoms of the same base site. None when the summary predates the per-kind columns.
    """
    if "min_ratio_same_element" not in frame.columns:
        return None
    bad = frame[frame["filter_min_distance"] == False]  # noqa: E712
    same = bad["min_ratio_same_element"] < 0.5
    other = bad["min_ratio_other_elements"] < 0.5
    return {"rejected": len(bad), "same_only": int((same & ~other).sum()), "other_only": int((other & ~same).sum()),
            "both": int((same & other).sum())}  # fmt: skip


def snap_stats(frame: pd.DataFrame) -> str:
    """How much snapping did: candidates with a snapped site, sites per candidate, move quantiles (Å)."""
    if "sites_snapped" not in frame.columns:
        return "no snapping"
    moved = frame.loc[frame["sites_snapped"] > 0, "snap_max_move"]
    q = np.quantile(moved, [0.5, 0.9]) if len(moved) else [float("nan")] * 2
    return (f"{100 * (frame['sites_snapped'] > 0).mean():.0f}% of candidates had a site snapped "
            f"({frame['sites_snapped'].mean():.2f} sites per candidate); largest move per candidate: "
            f"median {q[0]:.2f} Å, 90% {q[1]:.2f} Å")  # fmt: skip


def _stated_spacegroup(text: str) -> int | None:
    for line in text.splitlines():
        if line.startswith("_symmetry_Int_Tables_number") or line.startswith("_space_group_IT_number"):
            return int(line.split()[1])
    return None


def check_cifs(out_dir: Path, symprec: float = 0.1) -> dict[str, int]:
    """Read every CIF of a generation back with pymatgen; compare the stated space group with spglib's.

    Returns counts: ``cifs``, ``read`` (pymatgen parsed it), ``agree`` (stated number == spglib's at
    ``symprec`` Å on the read-back structure), ``accepted_rows`` (accepted rows in the summary).
    """
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    summary = pd.read_csv(out_dir / "summary.csv")
    counts = {"accepted_rows": int((summary["accepted"] == True).sum()), "cifs": 0, "read": 0, "agree": 0}  # noqa: E712
    for path in sorted((out_dir / "cifs").glob("*.cif")):
        counts["cifs"] += 1
        text = path.read_text()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structure = Structure.from_str(text, fmt="cif")
        except Exception:  # counted as not read
            continue
        counts["read"] += 1
        found = SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number()
        counts["agree"] += int(found == _stated_spacegroup(text))
    return counts


def seed_spread(frames: dict[int, pd.DataFrame]) -> tuple[list[float], float, float]:
    """Acceptance (%) per seed, their mean and sample standard deviation (0 with one seed)."""
    values = [acceptance(frames[s]) for s in sorted(frames)]
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return values, float(np.mean(values)), sd
