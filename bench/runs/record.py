"""The run record (run.json) as one typed dataclass: written by the runner, read by reports, the leaderboard and
`bench compare`. Reading checks the schema version: a record from a newer bench is an error that says so, one
from an older schema is migrated on read (the file is left as it is)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError

SCHEMA_VERSION = 2
STATUSES = ("running", "complete", "failed", "interrupted")


class RecordError(BenchError):
    """A run.json that cannot be read: not JSON, truncated, or written by another schema than this bench reads."""


@dataclasses.dataclass
class Segment:
    """One stretch of work on a run: a first attempt, then one per resume."""

    started_at: str
    finished_at: str | None = None
    status: str = "running"
    fit_s: float | None = None
    pid: int | None = None
    host: str | None = None


@dataclasses.dataclass
class DataInfo:
    """What the run was trained and scored on: the split (manifest hash), the decoded images and the options."""

    split_id: str | None = None
    images_id: str | None = None  # hash of the decoded images: a changed file is different data
    image_size: int | None = None
    channels: int | None = None
    root: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    counts: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    n_train_normal: int | None = None
    n_train_unlabeled: int | None = None
    n_held_out_normal: int | None = None


@dataclasses.dataclass
class RunRecord:
    """Everything a run says about itself. `config_id` (`<preset>[-<overrides hash>]`) is what the seeds of one
    configuration share; `data` says what they ran on."""

    run_id: str
    method: str
    dataset: str
    seed: int
    preset: str
    config_id: str
    status: str = "running"
    overrides: dict[str, str] = dataclasses.field(default_factory=dict)
    data_overrides: dict[str, str] = dataclasses.field(default_factory=dict)
    threshold_policy: str | None = None  # the policy applied (the requested one, or the default)
    test_oracle: bool = False
    selection: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    segments: list[Segment] = dataclasses.field(default_factory=list)
    command: list[str] = dataclasses.field(default_factory=list)  # the command line that resumes this run
    versions: dict[str, Any] = dataclasses.field(default_factory=dict)
    git: dict[str, Any] = dataclasses.field(default_factory=dict)
    config: dict[str, Any] | None = None
    method_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: DataInfo = dataclasses.field(default_factory=DataInfo)
    metrics: dict[str, float] | None = None
    ci95: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    # pixel metrics of the anomaly maps with their definitions and the ground truth's rule, or why there are none
    # (bench.runs.localisation_step); None: not scored (records written before localisation existed)
    localisation: dict[str, Any] | None = None
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    memory: dict[str, float] = dataclasses.field(default_factory=dict)
    device: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with the schema version first."""
        body = dataclasses.asdict(self)
        return {"schema": body.pop("schema"), **body}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, where: str = "run.json") -> RunRecord:
        """Parse a run.json dict: a version check, then a migration from older schemas."""
        if not isinstance(raw, dict):
            raise RecordError(f"{where}: not a run record (a JSON object was expected)")
        version = raw.get("schema")
        if not isinstance(version, int):
            raise RecordError(f"{where}: no schema version; not a run record written by bench")
        if version > SCHEMA_VERSION:
            raise RecordError(f"{where} was written by a newer bench (record schema {version}; this one reads up "
                              f"to {SCHEMA_VERSION}): upgrade medad-bench to read it")
        if version < 1:
            raise RecordError(f"{where}: record schema {version} is older than any bench release")
        if version == 1:
            raw = _migrate_v1(raw)
        try:
            known = {f.name for f in dataclasses.fields(cls)}
            values = {k: v for k, v in raw.items() if k in known}
            values["data"] = DataInfo(**{k: v for k, v in (raw.get("data") or {}).items()
                                         if k in {f.name for f in dataclasses.fields(DataInfo)}})
            values["segments"] = [Segment(**s) for s in raw.get("segments") or []]
            record = cls(**values)
        except TypeError as exc:
            raise RecordError(f"{where}: malformed run record ({exc})") from None
        if record.status not in STATUSES:
            raise RecordError(f"{where}: unknown status {record.status!r}")
        return record

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """Read `path` (a run.json); a RecordError names the file and what is wrong with it."""
        if Path(path).exists() and not Path(path).is_file():  # a FIFO or a folder would block or fail the read
            raise RecordError(f"{path}: not a regular file")
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise RecordError(f"{path}: no run record") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecordError(f"{path}: unreadable run record (truncated or not JSON: {exc})") from None
        return cls.from_dict(raw, where=str(path))

    @property
    def fit_seconds(self) -> float | None:
        """Training time over every segment (a resumed run adds up its parts)."""
        parts = [s.fit_s for s in self.segments if s.fit_s is not None]
        return sum(parts) if parts else None


def _migrate_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 (rounds 1-2): no config_id, segments, command or images id; one segment from the timings."""
    out = dict(raw)
    seed = raw.get("seed")
    run_id = str(raw.get("run_id", ""))
    out["config_id"] = run_id.replace(f"-seed{seed}", "", 1)  # schema 1 ids: <preset>-seed<n>[-<hash>]
    if raw.get("started_at") and not raw.get("segments"):
        fit = (raw.get("timings") or {}).get("fit_s")
        out["segments"] = [{"started_at": raw["started_at"], "finished_at": raw.get("finished_at"),
                            "status": raw.get("status", "running"), "fit_s": fit}]
    out["schema"] = SCHEMA_VERSION
    return out
