"""Randomly damaged Med-AD trees: every outcome of `bench data verify --decode` and `bench run --methods pca` is a
success with the right counts, or exit 1/2 with a message and no traceback; no run folder is left half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.reliability.harness import records, run_bench, write_tree

CASES = 10  # bounded: each case runs the CLI twice
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


def duplicate_across_splits(root: Path, rng: np.random.Generator) -> str:
    """A training image under a new name in a test list (issue 28: leakage by content)."""
    try:
        data = json.loads((root / "data.json").read_text())
        source = root / "images" / str(rng.choice(data["train"]["0"]))
    except (ValueError, KeyError, TypeError):
        return "no duplicate (data.json damaged)"
    if not source.is_file():
        return "no duplicate (source gone)"
    copy = source.with_name(f"dup_{source.name}")
    shutil.copy(source, copy)
    data["test"][str(int(rng.integers(0, 2)))].append(copy.name)
    (root / "data.json").write_text(json.dumps(data))
    return f"copied {source.name} into test as {copy.name}"


def sixteen_bit(root: Path, rng: np.random.Generator) -> str:
    """Some images rewritten as 16-bit PNGs of the same picture (issue 28: mixed bit depths)."""
    from PIL import Image

    paths = sorted((root / "images").iterdir())
    chosen = [paths[int(i)] for i in rng.choice(len(paths), size=min(8, len(paths)), replace=False)]
    for path in chosen:
        try:
            pixels = np.asarray(Image.open(path).convert("L"), dtype=np.uint16) * 257
        except Exception:  # noqa: BLE001 - an image an earlier mutation broke stays broken
            continue
        Image.fromarray(pixels).save(path, format="PNG")
    return f"{len(chosen)} images as 16-bit"


MUTATIONS = (flip_bytes, truncate, mangle_name, mutate_json, duplicate_across_splits, sixteen_bit)


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
    if "into test as" in what and run.returncode == 0:  # only if a later mutation changed the copy or its listing
        copies = list((root / "images").glob("dup_*"))
        intact = [c for c in copies if (root / "images" / c.name[4:]).is_file()
                  and c.read_bytes() == (root / "images" / c.name[4:]).read_bytes()]
        assert not intact or "dup_" not in (root / "data.json").read_text(), f"{what}: a leaked image went unnoticed"
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


@pytest.fixture(scope="module")
def finished_runs(clean_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seeds of PCA on the clean tree."""
    runs = tmp_path_factory.mktemp("fuzz-runs") / "runs"
    result = run_bench("run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny", "--seeds", "0,1",
                       "--root", str(clean_tree), "--runs", str(runs),
                       env={"BENCH_CACHE": str(runs.parent / "cache")})
    assert result.returncode == 0, result.stderr
    return runs


@pytest.mark.parametrize("case", range(4))
def test_randomly_edited_metrics_are_named_or_agree_with_the_scores(finished_runs, tmp_path, case):
    """Issue 28: a hand-edited metric is never averaged into a report without a word."""
    rng = np.random.default_rng(2000 + case)
    runs = tmp_path / "runs"
    shutil.copytree(finished_runs, runs)
    folder = sorted(runs.glob("medad/pca/*"))[int(rng.integers(0, 2))]
    record = json.loads((folder / "run.json").read_text())
    key = str(rng.choice(["auc", "ap", "f1", "precision", "recall", "specificity"]))
    record["metrics"][key] = [float(rng.uniform(-1, 2)), float("nan"), "0.5", None, True][int(rng.integers(0, 5))]
    (folder / "run.json").write_text(json.dumps(record))
    result = run_bench("report", "--dataset", "medad", "--runs", str(runs), "--format", "csv")
    assert_clean_failure_or_success(result, f"report after {key}={record['metrics'][key]!r}")
    if record["metrics"][key] is not None:
        assert str(folder) in result.stderr, f"{key}={record['metrics'][key]!r} went unnamed\n{result.stderr}"


def mount_tmpfs(where: Path, size: str) -> bool:
    """A small tmpfs at `where` (needs root); False where it cannot be mounted."""
    import subprocess

    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("full", ["cache", "runs"])
def test_a_full_disk_gives_one_line_and_no_partial_files(clean_tree, tmp_path, full):
    """Issue 28: the cache or the runs folder on a 64 KiB tmpfs (skipped where tmpfs cannot be mounted)."""
    import subprocess

    small = tmp_path / "small"
    if not mount_tmpfs(small, "64k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        cache = small if full == "cache" else tmp_path / "cache"
        runs = small if full == "runs" else tmp_path / "runs"
        result = run_bench("run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny", "--root",
                           str(clean_tree), "--runs", str(runs), env={"BENCH_CACHE": str(cache)})
        assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr and "full" in result.stderr and str(small) in result.stderr, \
            result.stderr
        assert not list(small.rglob("*.partial")) and not list(small.rglob("*.tmp")), "partial files left"
        assert all(r["status"] != "running" for r in records(runs)), "a run left 'running'"
    finally:
        subprocess.run(["umount", str(small)], check=False)
