"""Issue 28, case 10: bad input that used to pass every upfront check and fail after decoding or training (exit 1,
a failed run folder) is exit 2 at plan time, with one line and no run folder written."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, run_bench, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny"]


@pytest.mark.parametrize(("args", "said"), [
    (["--seeds", "-1"], "seeds"),
    (["--seeds", "99999999999999999999"], "seeds"),
    (["--set", "n_components=inf"], "finite"),
    (["--set", "n_components=nan"], "finite"),
    (["--threshold", "val-f1"], "validation split"),
], ids=["negative-seed", "huge-seed", "inf", "nan", "val-f1-without-val"])
def test_bad_run_arguments_stop_before_any_run_folder(tmp_path, cache, args, said):
    write_tree(tmp_path / "tree")
    result = bench_in_process(*PCA, *args, "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"),
                              env=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr, result.stderr
    assert not list((tmp_path / "runs").glob("*/*/*")), "no run folder is written"


def test_a_nan_learning_rate_of_a_gan_is_refused_by_the_installed_script(tmp_path, cache):
    write_tree(tmp_path / "tree")
    result = run_bench("run", "--methods", "healthygan", "--dataset", "medad", "--preset", "tiny", "--set",
                       "g_lr=nan", "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"), env=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "g_lr" in one_line_error(result) and "finite" in result.stderr
    assert not list((tmp_path / "runs").glob("*/*/*"))


def test_an_empty_abnormal_test_list_fails_verify_and_run(tmp_path, cache):
    write_tree(tmp_path / "tree")
    data = json.loads((tmp_path / "tree" / "data.json").read_text())
    data["test"]["1"] = []
    (tmp_path / "tree" / "data.json").write_text(json.dumps(data))
    verify = bench_in_process("data", "verify", "medad", "--root", str(tmp_path / "tree"), env=cache)
    assert verify.returncode == 1 and "layout OK" not in verify.stdout
    assert "test split" in verify.stderr and "abnormal" in verify.stderr, verify.stderr
    run = bench_in_process(*PCA, "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"), env=cache)
    assert run.returncode == 2 and "test split" in run.stderr, run.stdout + run.stderr
    assert not list((tmp_path / "runs").glob("*/*/*"))


@pytest.mark.parametrize(("model_args", "said"), [
    ("{flow_steps: 4", ["model_args must be a JSON object"]),
    ('{"flow_stepz": 4}', ["Cflow has no argument(s) flow_stepz; it takes", "coupling_blocks"]),
], ids=["not-json", "unknown-keyword"])
def test_bad_model_args_stop_at_plan_time(tmp_path, cache, model_args, said):
    write_tree(tmp_path / "tree")
    result = bench_in_process("run", "--methods", "anomalib:cflow", "--dataset", "medad", "--preset", "tiny",
                              "--set", f"model_args={model_args}", "--root", str(tmp_path / "tree"),
                              "--runs", str(tmp_path / "runs"), env=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    assert all(text in result.stderr for text in said) and "Traceback" not in result.stderr, result.stderr
    assert not list((tmp_path / "runs").glob("*/*/*")), "nothing is written before the plan is valid"
