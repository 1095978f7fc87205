"""The loss log of a run: `losses.csv` in the run folder (always) and TensorBoard events (when installed).

Rows are written every `log_every` iterations with each loss averaged over the steps since the previous row,
so a diverging GAN shows in the file. On resume, rows after the checkpoint's iteration are dropped first so
the file reads as one uninterrupted run.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

CSV_NAME = "losses.csv"


class LossAverager:
    """Sums loss tensors on the device (no host sync per step); `means()` syncs once and resets."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, losses: Mapping[str, torch.Tensor]) -> None:
        for name, value in losses.items():
            value = value.detach().float()
            self._sums[name] = self._sums[name] + value if name in self._sums else value
            self._counts[name] = self._counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        """The mean of each loss since the last call (one device-to-host copy for all of them)."""
        if not self._sums:
            return {}
        names = list(self._sums)
        values = torch.stack([self._sums[n] for n in names]).cpu().tolist()
        means = {n: v / self._counts[n] for n, v in zip(names, values, strict=True)}
        self._sums.clear()
        self._counts.clear()
        return means


class LossLog:
    """Appends rows to `<folder>/losses.csv` and mirrors them to TensorBoard when it is installed."""

    def __init__(self, folder: Path | None, *, resume_from: int = 0, tensorboard: bool = True) -> None:
        self.path = None if folder is None else Path(folder) / CSV_NAME
        self._columns: list[str] | None = None
        self._writer: Any = None
        if self.path is not None:
            self._truncate_after(resume_from)
            if tensorboard and importlib.util.find_spec("tensorboard") is not None:
                from torch.utils.tensorboard import SummaryWriter

                self._writer = SummaryWriter(log_dir=str(Path(folder) / "tensorboard"),
                                             purge_step=resume_from + 1)

    def _truncate_after(self, iteration: int) -> None:
        if self.path is None or not self.path.is_file():
            return
        with open(self.path, newline="") as handle:
            rows = list(csv.DictReader(handle))
            columns = list(rows[0].keys()) if rows else None
        kept = [r for r in rows if int(r["iteration"]) <= iteration]
        if columns is None:
            self.path.unlink()
            return
        self._columns = columns
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(kept)

    def write(self, iteration: int, values: Mapping[str, float]) -> None:
        """One row: the iteration and its values (columns fixed by the first row)."""
        if self._writer is not None:
            for name, value in values.items():
                tag = name if name.startswith("lr") else f"loss/{name}"
                self._writer.add_scalar(tag, value, iteration)
        if self.path is None:
            return
        row = {"iteration": iteration, **values}
        new_file = not self.path.is_file()
        if self._columns is None:
            self._columns = list(row)
        elif any(name not in self._columns for name in row):
            self._widen([*self._columns, *(n for n in row if n not in self._columns)])
        with open(self.path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self._columns, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)

    def _widen(self, columns: list[str]) -> None:
        """Rewrite the file with more columns (a loss that first appeared after the first row)."""
        assert self.path is not None
        rows = []
        if self.path.is_file():
            with open(self.path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        self._columns = columns

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
