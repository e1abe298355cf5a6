"""xtalgen.evaluation: metrics for generated crystal structures and the evaluation report.

Entry points: :func:`xtalgen.evaluation.runner.evaluate` (all metrics, cached and parallel) and
:func:`xtalgen.evaluation.report.write_report` (metrics.json/.md, plots, gallery, HTML).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvaluationResult", "Metric", "default_metrics", "evaluate", "write_report"]


def __getattr__(name: str) -> Any:
    """Import the heavy modules (pymatgen, matminer, matplotlib) only when used."""
    if name in ("evaluate", "EvaluationResult", "default_metrics"):
        from xtalgen.evaluation import runner

        return getattr(runner, name)
    if name == "write_report":
        from xtalgen.evaluation.report import write_report

        return write_report
    if name == "Metric":
        from xtalgen.evaluation.base import Metric

        return Metric
    raise AttributeError(f"module 'xtalgen.evaluation' has no attribute {name!r}")
