"""The `--set ray.KEY=VALUE` settings of the Ray executor and what each run asks Ray for.

Pure (no Ray import): the CLI's bad values fail here, as one-line BenchErrors, before anything is submitted.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bench.core.errors import BenchError

if TYPE_CHECKING:
    from bench.core.detector import RunResources

DEFAULT_MAX_RETRIES = 3  # a run whose worker dies is tried at most 1 + this many times
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


@dataclasses.dataclass(frozen=True)
class RaySettings:
    """Validated `ray.*` settings: None = each method's own declaration (`Detector.resources`)."""

    num_gpus: float | None = None
    num_cpus: float | None = None
    memory: int | None = None  # bytes
    max_retries: int = DEFAULT_MAX_RETRIES


def _number(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BenchError(f"--set ray.{key}={value}: expected a number") from None
    if not math.isfinite(number):
        raise BenchError(f"--set ray.{key}={value}: expected a finite number")
    return number


def _gpus(value: str) -> float:
    gpus = _number("num_gpus", value)
    if gpus < 0 or (gpus > 1 and gpus != int(gpus)):  # Ray's rule: a fraction of one GPU, or whole GPUs
        raise BenchError(f"--set ray.num_gpus={value}: expected a fraction in [0, 1] (runs share a GPU) or a whole "
                         "number of GPUs")
    return gpus


def _cpus(value: str) -> float:
    cpus = _number("num_cpus", value)
    if cpus <= 0:
        raise BenchError(f"--set ray.num_cpus={value}: expected a number of CPUs above 0")
    return cpus


def parse_size(value: str) -> int:
    """Bytes from `8G`, `512MiB`, `2.5GB` or a plain number of bytes (k/m/g/t are powers of 1000, ki/mi/gi/ti of
    1024, as Ray and Kubernetes write them)."""
    match = _SIZE.match(value)
    if not match:
        raise BenchError(f"--set ray.memory={value}: expected a size such as 8G, 512MiB or a number of bytes")
    unit = (match.group(2) or "").lower().removesuffix("b")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise BenchError(f"--set ray.memory={value}: expected a size above 0")
    return size


def _retries(value: str) -> int:
    try:
        retries = int(value)
    except ValueError:
        raise BenchError(f"--set ray.max_retries={value}: expected a whole number (0: never retry)") from None
    if retries < 0:
        raise BenchError(f"--set ray.max_retries={value}: expected 0 or more (a bounded number of retries)")
    return retries


_PARSERS = {"num_gpus": _gpus, "num_cpus": _cpus, "memory": parse_size, "max_retries": _retries}


def parse_settings(settings: Mapping[str, str] | None) -> RaySettings:
    """RaySettings from the `ray.*` items of `--set` (keys without the prefix); an unknown key or a bad value is
    a one-line BenchError."""
    values: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        if key not in _PARSERS:
            raise BenchError(f"--set ray.{key}: unknown Ray setting; valid keys: "
                             + ", ".join(f"ray.{k}" for k in sorted(_PARSERS)))
        values[key] = _PARSERS[key](str(value).strip())
    return RaySettings(**values)


def task_options(resources: RunResources, settings: RaySettings, *, cluster_gpus: float, device: str
                 ) -> dict[str, Any]:
    """The Ray task options of one run: the method's declaration, overridden by the settings. GPUs are asked for
    only where the cluster has them and the device is not cpu (a GPU request on a GPU-less cluster would wait
    forever, so an explicit one is an error)."""
    use_gpus = cluster_gpus > 0 and device != "cpu"
    if settings.num_gpus is not None:
        if settings.num_gpus > 0 and not use_gpus:
            why = "--device cpu" if device == "cpu" else "the Ray cluster has no GPUs"
            raise BenchError(f"--set ray.num_gpus={settings.num_gpus:g}: {why}; drop the setting or set it to 0")
        gpus = settings.num_gpus
    else:
        gpus = resources.gpus if use_gpus else 0.0
        if use_gpus and device == "cuda" and gpus == 0:
            gpus = 0.1  # --device cuda must see a GPU: a small share of one (Ray hides the GPUs a task did not ask for)
    memory = settings.memory if settings.memory is not None else (
        None if resources.memory_gb is None else int(resources.memory_gb * 10**9))
    options: dict[str, Any] = {"num_cpus": settings.num_cpus if settings.num_cpus is not None else resources.cpus,
                               "num_gpus": gpus, "max_retries": settings.max_retries, "retry_exceptions": False}
    if memory is not None:
        options["memory"] = memory
    return options


def unschedulable(options: Mapping[str, Any], nodes: list[Mapping[str, float]]) -> str | None:
    """Why no node of the cluster (each node's total resources) could ever run a task with `options`; None when
    one can (Ray would otherwise wait for such a node forever)."""
    wants = {"CPU": options.get("num_cpus", 0), "GPU": options.get("num_gpus", 0), "memory": options.get("memory", 0)}
    wants = {k: v for k, v in wants.items() if v}
    if any(all(node.get(k, 0) >= v for k, v in wants.items()) for node in nodes):
        return None
    largest = {k: max((node.get(k, 0) for node in nodes), default=0) for k in wants}
    asked = ", ".join(f"{k} {v:g}" for k, v in wants.items())
    has = ", ".join(f"{k} {v:g}" for k, v in largest.items())
    return f"asks for {asked} but no node of the Ray cluster has that much (the most on one node: {has})"
