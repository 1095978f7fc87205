"""The Med-AD tree (images/ + data.json): reading, every bad-layout message, and the generic `medad` data set."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.core.errors import DataError
from bench.data.manifest import split_counts
from bench.datasets.medad_format import medad_problems, read_lists
from tests.datasets.scaled_protocol import MEDAD_COUNTS, make, write_medad

pytestmark = pytest.mark.usefixtures("clean_env")
WHOLE = {"train_normal": {0: 4}, "train_unlabeled": {0: 3, 1: 3}, "test": {0: 2, 1: 2}}


def generic(root, **options):
    """The generic medad data set at 32 px with `options` (its sizes default to whatever data.json lists)."""
    unset = dict.fromkeys(("n_normal", "pool_normal", "pool_abnormal", "n_test", "unlabeled_size"))
    return make("medad", root, **{**unset, **options})


@pytest.fixture
def tree(tmp_path):
    write_medad(tmp_path)
    return tmp_path


def test_the_five_lists_are_read_in_file_order(tree):
    lists = read_lists(tree)
    assert {key: len(names) for key, names in lists.items()} == MEDAD_COUNTS
    assert lists["train/unlabeled/1"] == sorted(lists["train/unlabeled/1"])


def test_the_generic_data_set_uses_every_listed_image_and_the_whole_pool(tree):
    adapter = generic(tree)
    assert adapter.protocol() == WHOLE
    assert split_counts(adapter.manifest()) == WHOLE


def test_unlabeled_size_and_ratio_draw_a_subset_of_the_pool(tree):
    adapter = generic(tree, unlabeled_size=4, anomaly_ratio=0.5)
    assert split_counts(adapter.manifest())["train_unlabeled"] == {0: 2, 1: 2} == adapter.protocol()["train_unlabeled"]


def test_rgb_trees_are_decoded_in_colour_on_request(tmp_path):
    write_medad(tmp_path, rgb=True)
    assert generic(tmp_path).prepare().images.shape[1] == 1
    assert generic(tmp_path, rgb="true").prepare().images.shape[1:] == (3, 32, 32)


def test_the_generic_data_set_refuses_the_official_format(tree):
    with pytest.raises(DataError, match="reads only the Med-AD format"):
        generic(tree, format="official")


def test_missing_data_json_and_images_folder_are_both_named(tmp_path):
    assert medad_problems(tmp_path) == [f"missing folder {tmp_path / 'images'}/ (the images data.json lists)",
                                        f"missing file {tmp_path / 'data.json'} (the split lists)"]


def test_malformed_json_and_missing_lists_are_named(tree):
    (tree / "data.json").write_text("{not json")
    assert "is not valid JSON" in medad_problems(tree)[0]
    (tree / "data.json").write_text(json.dumps({"train": {"0": []}, "test": {"0": [], "1": "x.png"}}))
    (problem,) = medad_problems(tree)
    assert "lacks train/unlabeled/0, train/unlabeled/1, test/1 as list(s) of file names" in problem


def test_listed_but_absent_images_and_images_listed_twice_are_named(tree):
    data = json.loads((tree / "data.json").read_text())
    (tree / "images" / data["test"]["1"][0]).unlink()
    data["test"]["0"].append(data["train"]["0"][0])
    (tree / "data.json").write_text(json.dumps(data))
    problems = medad_problems(tree)
    assert f"missing image {tree / 'images' / data['test']['1'][0]} (listed in test/1 of data.json)" in problems
    assert f"{data['train']['0'][0]} is listed in both train/0 and test/0 of data.json" in problems


def test_many_missing_images_are_named_up_to_twenty_and_counted(tree):
    data = json.loads((tree / "data.json").read_text())
    data["train"]["0"] += [f"gone{i}.png" for i in range(30)]
    (tree / "data.json").write_text(json.dumps(data))
    problems = medad_problems(tree)
    assert len(problems) == 21 and problems[-1] == "... and 10 more missing images (30 in all)"


def test_an_images_folder_without_data_json_is_pointed_out_for_rsna(tree):
    (tree / "data.json").unlink()
    assert make("rsna", tree).problems()[-1].endswith("data.json (images/ is there but data.json is not)")


def test_bench_run_works_on_a_med_ad_tree_for_the_generic_data_set(tree, tmp_path):
    result = CliRunner().invoke(app, ["run", "--methods", "pca", "--dataset", "medad", "--root", str(tree),
                                      "--preset", "smoke", "--device", "cpu", "--runs", str(tmp_path / "runs"),
                                      "--set", "data.size=32"])
    assert result.exit_code == 0, result.output
    (record,) = (tmp_path / "runs" / "medad" / "pca").glob("*/run.json")
    assert json.loads(record.read_text())["data"]["counts"]["train_unlabeled"] == {"0": 3, "1": 3}
