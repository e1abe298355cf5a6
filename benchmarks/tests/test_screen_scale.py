"""benchmarks/screen_scale.py's bookkeeping on made-up numbers: recall, the cost model, the threshold rule and
the rates."""

from __future__ import annotations

import math

import pandas as pd
import screen_scale as S


def _rows() -> pd.DataFrame:
    # estimates (eV/atom), MetaSUN or not, relaxation work (force evaluations x sites)
    return pd.DataFrame({"estimate": [-0.1, 0.2, 0.4, 0.9, 2.0, float("nan")],
                         "positive": [True, True, False, True, False, False],
                         "work": [10.0, 10.0, 20.0, 30.0, 100.0, 30.0]})  # fmt: skip


def test_recall_counts_positives_at_or_below_the_threshold_and_drops_nan():
    rows = _rows()
    assert S.recall(rows["estimate"], rows["positive"], 0.2) == (2, 3)
    assert S.recall(rows["estimate"], rows["positive"], math.inf) == (3, 3)
    assert S.recall(rows["estimate"], rows["positive"], -1.0) == (0, 3)


def test_relax_work_is_force_evaluations_times_sites():
    assert list(S.relax_work([0, 9], [4, 2])) == [4.0, 20.0]


def test_option_table_prices_the_prescreen_plus_the_relaxations_kept():
    table = S.option_table(_rows(), prescreen_cpu=0.5, cpu_per_work=0.1, steps=0)
    at_1 = table[table["threshold"] == 1.0].iloc[0]
    assert at_1["kept"] == 4 and at_1["recall"] == 1.0
    assert abs(at_1["cpu_per_candidate"] - (0.5 + 0.1 * 70 / 6)) < 1e-12
    everything = table[table["threshold"] == math.inf].iloc[0]
    assert everything["kept"] == 5  # the NaN estimate is never kept


def test_the_rule_takes_the_cheapest_option_reaching_the_recall_target():
    cheap = S.option_table(_rows(), prescreen_cpu=0.1, cpu_per_work=0.1, steps=0)
    dear = S.option_table(_rows(), prescreen_cpu=5.0, cpu_per_work=0.1, steps=10)
    table = pd.concat([cheap, dear], ignore_index=True)
    best = S.choose_threshold(table, 0.95)
    # every threshold from 0.9 to just below 2.0 keeps the same four: the tie goes to the largest (safer)
    assert best["steps"] == 0 and best["threshold"] == 1.95 and best["recall"] == 1.0
    lower = S.choose_threshold(table, 0.6)  # two of three positives suffice: 0.2 up to just below 0.4
    assert lower["threshold"] == 0.35 and lower["recall_k"] == 2
    try:
        S.choose_threshold(table[table["threshold"] < 0], 0.95)
    except ValueError as exc:
        assert "recall 0.95" in str(exc)
    else:
        raise AssertionError("no option reaches the target: must refuse")


def test_rates_and_intervals():
    assert S.per_hour(10, 36.0) == 1000.0 and math.isnan(S.per_hour(3, 0.0))
    lo, hi = S.wilson(27, 30)
    assert 0.73 < lo < 0.75 and 0.96 < hi < 0.98  # Wilson 95 % of 27/30
    assert all(math.isnan(x) for x in S.wilson(0, 0))


def test_stage_rows_read_a_screen_report():
    report = {"stages": [{"name": "relax", "n_in": 5, "n_removed": 1, "n_cached": 0, "cpu_s": 12.5, "wall_s": 20}]}
    assert S.stage_rows(report) == [{"stage": "relax", "in": 5, "removed": 1, "reused": 0, "cpu_s": 12.5}]


def test_reused_cpu_is_added_to_its_stages():
    rows = [{"stage": "dedupe", "cpu_s": 1.0}, {"stage": "prescreen", "cpu_s": 0.0}, {"stage": "relax", "cpu_s": 50.0}]
    got = S.add_stage_cpu(rows, {"dedupe": 2.0, "relax": 38.0})
    assert [r["cpu_s"] for r in got] == [3.0, 0.0, 88.0]
    assert S.add_stage_cpu(rows, {}) == rows
