"""Runs on a Ray cluster: one task per run, one GPU each where the cluster has GPUs.

Every task writes the same run folder the local executor would, so `--runs` must be on storage that the
workers share (and so must the data root and BENCH_CACHE). Connects to `$RAY_ADDRESS` when set, otherwise
starts a local Ray instance (useful on one multi-GPU machine).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.progress import Progress
from bench.runner import RunOutcome, RunSpec


def _run_one(spec: RunSpec, dataset_root: str | None, data_options: dict[str, Any], runs: str, device: str,
             force: bool, wait: bool, command: list[str]) -> RunOutcome:
    """The body of one Ray task: prepare the data (from the shared cache) and execute the run."""
    from bench import registry
    from bench.config import config_from_dict
    from bench.runner import execute

    adapter_cls = registry.get_dataset(spec.dataset)
    adapter = adapter_cls(dataset_root, config_from_dict(adapter_cls.options_class, data_options))
    return execute(spec, adapter.prepare(), Path(runs), device=device, force=force, wait=wait, command=command)


def run_on_ray(specs: list[RunSpec], adapter: Any, runs: Path, *, device: str = "auto", force: bool = False,
               wait: bool = False, progress: Progress | None = None, command: list[str] | None = None,
               adapter_for: Callable[[RunSpec], Any] | None = None,
               settings: Mapping[str, str] | None = None) -> list[RunOutcome]:
    """Submit every run as a Ray task and wait for all of them; outcomes come back in plan order. `adapter_for`
    gives each run its own data (a sweep over `data.*` keys); without it every run uses `adapter`."""
    try:
        import ray
    except ImportError:
        raise BenchError("--executor ray needs Ray: pip install 'medad-bench[ray]'") from None
    from bench.config import config_to_dict

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {k: v for k, v in os.environ.items() if k.startswith(("BENCH_", "HF_"))}})
    gpus = ray.cluster_resources().get("GPU", 0) if device != "cpu" else 0
    remote = ray.remote(num_cpus=1, num_gpus=1 if gpus else 0, max_retries=0)(_run_one)
    futures = []
    for spec in specs:
        data = adapter if adapter_for is None else adapter_for(spec)
        root = None if data.root is None else str(Path(data.root).resolve())
        futures.append(remote.remote(spec, root, config_to_dict(data.options), str(Path(runs).resolve()), device,
                                     force, wait, command or []))
    progress = progress or Progress()
    outcomes: dict[int, RunOutcome] = {}
    pending = {future: index for index, future in enumerate(futures)}
    with progress.task(f"{len(specs)} runs on Ray", total=len(specs)) as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done[0])
            outcomes[index] = ray.get(done[0])
            bar.advance(1)
    return [outcomes[i] for i in range(len(specs))]
