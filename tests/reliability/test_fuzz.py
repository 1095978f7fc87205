"""Randomly damaged Med-AD trees: every outcome of `bench data verify --decode` and `bench run --methods pca` is a
success with the right counts, or exit 1/2 with a message and no traceback; no run folder is left half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.reliability.harness import records, run_bench, write_tree

CASES = 8  # bounded: each case runs the CLI twice
pytestmark = pytest.mark.slow  # about a minute of subprocesses
KEYS = ("train/0", "train/unlabeled/0", "train/unlabeled/1", "test/0", "test/1")


def flip_bytes(root: Path, rng: np.random.Generator) -> str:
    path = rng.choice(sorted((root / "images").iterdir()))
    data = bytearray(path.read_bytes())
    for index in rng.integers(0, len(data), 8):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))
    return f"flipped bytes in {path.name}"


def truncate(root: Path, rng: np.random.Generator) -> str:
    path = rng.choice(sorted((root / "images").iterdir()))
    path.write_bytes(path.read_bytes()[: int(rng.integers(0, 60))])
    return f"truncated {path.name}"


def mangle_name(root: Path, rng: np.random.Generator) -> str:
    path = rng.choice(sorted((root / "images").iterdir()))
    path.rename(path.with_name("x" + path.name[::-1]))
    return f"renamed {path.name}"


def mutate_json(root: Path, rng: np.random.Generator) -> str:
    path = root / "data.json"
    data = json.loads(path.read_text())
    how = int(rng.integers(0, 5))
    if how == 0:
        path.write_text(path.read_text()[: int(rng.integers(1, 200))])
        return "truncated data.json"
    if how == 1:
        del data["test"]["1"]
    elif how == 2:
        data["train"]["0"] = "not a list"
    elif how == 3:
        data["test"]["0"].append(data["train"]["0"][0])  # listed twice
    else:
        data["train"]["unlabeled"]["1"].append(12345)
    path.write_text(json.dumps(data))
    return f"data.json mutation {how}"


MUTATIONS = (flip_bytes, truncate, mangle_name, mutate_json)


@pytest.fixture(scope="module")
def clean_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "tree"
    write_tree(root)
    return root


def listed_counts(root: Path) -> dict[str, int]:
    data = json.loads((root / "data.json").read_text())
    lists = {"train/0": data["train"]["0"], "train/unlabeled/0": data["train"]["unlabeled"]["0"],
             "train/unlabeled/1": data["train"]["unlabeled"]["1"], "test/0": data["test"]["0"],
             "test/1": data["test"]["1"]}
    return {key: len(names) for key, names in lists.items()}


def assert_clean_failure_or_success(result, what: str) -> None:
    assert result.returncode in (0, 1, 2), f"{what}: exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, f"{what}: a traceback\n{result.stderr}"
    if result.returncode:
        assert result.stderr.strip(), f"{what}: failed without saying why"


@pytest.mark.parametrize("case", range(CASES))
def test_damaged_tree_gives_a_clean_outcome(clean_tree, tmp_path, case):
    rng = np.random.default_rng(1000 + case)
    root = tmp_path / "tree"
    shutil.copytree(clean_tree, root)
    done = [MUTATIONS[int(i)](root, rng) for i in rng.choice(len(MUTATIONS), size=int(rng.integers(1, 3)))]
    what = "; ".join(done)
    env = {"BENCH_CACHE": str(tmp_path / "cache")}
    verify = run_bench("data", "verify", "medad", "--root", str(root), "--decode", env=env)
    assert_clean_failure_or_success(verify, f"verify ({what})")
    run = run_bench("run", "--methods", "pca", "--dataset", "medad", "--preset", "smoke", "--root", str(root),
                    "--runs", str(tmp_path / "runs"), env=env)
    assert_clean_failure_or_success(run, f"run ({what})")
    for folder in (tmp_path / "runs").glob("*/*/*"):
        assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp")), f"{what}: temp files left"
    found = records(tmp_path / "runs")
    assert all(r["status"] in ("complete", "failed") for r in found), f"{what}: a run left half-written"
    if run.returncode == 0:
        (record,) = found
        assert record["status"] == "complete"
        counts = listed_counts(root)
        test = record["data"]["counts"]["test"]
        assert (test.get("0", 0), test.get("1", 0)) == (counts["test/0"], counts["test/1"]), what
