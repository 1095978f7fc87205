"""The resume line of an interrupted run names the runs folder it was found in (issue 28): a tree copied to another
place or machine resumes there, not in the folder the original command wrote to."""

from __future__ import annotations

from pathlib import Path


def resume_command(command: list[str], runs_root: Path) -> list[str]:
    """`command` with its `--runs` value (either spelling) set to `runs_root`, added where it had none."""
    out, index, found = [], 0, False
    while index < len(command):
        part = command[index]
        if part == "--runs" and index + 1 < len(command):
            out += ["--runs", str(runs_root)]
            index, found = index + 2, True
            continue
        if part.startswith("--runs="):
            out.append(f"--runs={runs_root}")
            found = True
        else:
            out.append(part)
        index += 1
    return out if found else [*out, "--runs", str(runs_root)]
