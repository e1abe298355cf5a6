"""Training metric logs: a CSV file (always) and TensorBoard (when installed and enabled)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xtalgen.data.atomic import atomic_write


class MetricsLogger:
    """Append metric rows to ``<log_dir>/metrics.csv``; on resume, drop rows after the resumed step.

    The header grows when new metric names appear (the file is rewritten once, atomically).
    """

    def __init__(
        self, log_dir: str | Path, *, resume_step: int | None = None, tensorboard: bool = False
    ) -> None:
        self.path = Path(log_dir) / "metrics.csv"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self.keys: list[str] = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="") as fh:
                reader = csv.DictReader(fh)
                self.keys = list(reader.fieldnames or [])
                self.rows = [r for r in reader if r.get("step") and int(float(r["step"])) <= resume_step]
        self._rewrite()
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(Path(log_dir) / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self._tb = None

    def _rewrite(self) -> None:
        with atomic_write(self.path, newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.keys or ["step"])
            writer.writeheader()
            writer.writerows(self.rows)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` at ``step`` (the number of completed steps)."""
        row = {"step": step, **{k: float(v) for k, v in metrics.items()}}
        new = [k for k in row if k not in self.keys]
        self.rows.append(row)
        if new:
            self.keys.extend(new)
            self._rewrite()
        else:
            with open(self.path, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self.keys).writerow(row)
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, float(v), step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
