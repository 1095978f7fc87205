"""Progress reporting: methods and the runner report through this; the CLI plugs in a rich display."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any


class ProgressTask(AbstractContextManager):
    """One bar: `advance(n, **fields)` moves it and shows the latest fields (losses, rates)."""

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Move the bar by `n` steps and show `fields`."""

    def __exit__(self, *exc: object) -> None:
        return None


class Progress:
    """Silent progress, the default outside the CLI (tests, library use)."""

    def task(self, description: str, total: int | None = None, completed: int = 0) -> ProgressTask:
        """Open a bar for `total` steps, starting at `completed` (a resumed run)."""
        return ProgressTask()

    def log(self, message: str) -> None:
        """A one-line message shown above the bars."""


def format_fields(fields: dict[str, Any]) -> str:
    """`{"d": 0.1234, "g": 2.0}` -> `d 0.123  g 2.000`."""
    parts = []
    for key, value in fields.items():
        parts.append(f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}")
    return "  ".join(parts)


class RichProgress(Progress):
    """Progress bars on the terminal with rich: description, bar, n/total, it/s, ETA and live fields."""

    def __init__(self, console: Any | None = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _RichProgress

        class _Rate(TextColumn):
            def __init__(self) -> None:
                super().__init__("")

            def render(self, task):  # type: ignore[override]
                from rich.text import Text

                speed = task.finished_speed or task.speed
                return Text("" if speed is None else f"{speed:.1f} it/s", style="progress.data.speed")

        self._progress = _RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _Rate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=False,
        )

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def task(self, description: str, total: int | None = None, completed: int = 0) -> ProgressTask:
        progress = self._progress
        task_id = progress.add_task(description, total=total, completed=completed, info="")

        class _Task(ProgressTask):
            def advance(self, n: int = 1, **fields: Any) -> None:
                if fields:
                    progress.update(task_id, advance=n, info=format_fields(fields))
                else:
                    progress.update(task_id, advance=n)

            def __exit__(self, *exc: object) -> None:
                progress.stop_task(task_id)

        return _Task()

    def log(self, message: str) -> None:
        self._progress.console.print(message, highlight=False)
