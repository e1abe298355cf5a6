"""benchmarks/relaxation_throughput.py's bookkeeping on made-up records: the agreement of two runs (a stopped
structure counts as not metastable) and the offline replay of early-stop rules on energy traces."""

from __future__ import annotations

import relaxation_throughput as R

from xtalgen.postprocess.early_stop import EarlyStopRule

HULL = {"a": -5.0, "b": -5.0, "c": -5.0}


def _record(energy: float, steps: int, trace: list[float] | None = None, stopped: bool = False) -> dict:
    rec = {"energy_per_atom": energy, "steps": steps}
    if trace is not None:
        rec["energies"] = trace
    if stopped:
        rec["stopped_early"] = True
    return rec


def test_agreement_counts_stopped_structures_as_not_metastable():
    old = {"a": _record(-4.95, 50), "b": _record(-3.0, 80), "c": _record(-4.85, 60)}
    new = {"a": _record(-4.95, 50), "b": _record(-2.9, 30, stopped=True), "c": _record(-4.95, 61)}
    a = R.agreement(old, new, HULL, ["a", "b", "c"], 0.1, ase_old=False)
    assert a["n_both"] == 3 and a["n_stopped"] == 1 and a["n_stopped_metastable_old"] == 0
    assert a["n_disagree"] == 1 and a["disagreeing"][0][0] == "c"  # c: E_hull 0.15 vs 0.05
    assert a["n_to_end"] == 2 and abs(a["same_steps"] - 0.5) < 1e-12


def test_calibration_replays_the_rule_on_traces():
    flat_far = [-1.0] * 101  # stalls 4 eV/atom above the hull for 100 steps
    falling = [-1.0 - 0.04 * t for t in range(101)]  # reaches the hull: never stopped
    records = {"a": _record(flat_far[-1], 100, flat_far), "b": _record(falling[-1], 100, falling),
               "c": _record(-4.95, 2, [-4.9, -4.93, -4.95])}  # fmt: skip
    rule = EarlyStopRule(after=10, margin=0.3, window=5, max_drop=0.005)
    [row] = R.calibrate(records, HULL, [rule], 0.1)
    assert row["stopped"] == 1 and row["wrong"] == 0
    assert abs(row["calls_saved"] - 90 / (101 + 101 + 3)) < 1e-12
