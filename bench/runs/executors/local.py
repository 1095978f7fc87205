"""The default executor: runs one after another in this process, on one device."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape

from bench.core.progress import Progress
from bench.data.adapter import PreparedData
from bench.runs.execute import execute
from bench.runs.plan import RunOutcome, RunSpec


def run_local(specs: list[RunSpec], prepared: PreparedData, runs: Path, *, device: str = "auto",
              force: bool = False, wait: bool = False, progress: Progress | None = None,
              command: list[str] | None = None) -> list[RunOutcome]:
    """Execute each run in turn; failures are recorded and reported, and the next run goes on."""
    progress = progress or Progress()
    outcomes = []
    for spec in specs:
        progress.log(f"{spec.method} seed {spec.seed} on {spec.dataset} ({spec.preset})")
        outcome = execute(spec, prepared, runs, device=device, force=force, wait=wait, progress=progress,
                          command=command)
        if outcome.status == "failed":
            progress.log(f"[red]{spec.method} seed {spec.seed} failed: {escape(str(outcome.error))}[/red] "
                         f"(traceback in {outcome.folder / 'run.json'})")
        outcomes.append(outcome)
    return outcomes
