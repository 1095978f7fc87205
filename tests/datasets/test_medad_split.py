"""`--set data.split=medad` on the official downloads: DDAD's real lists (the shipped files), generated images.

Each test builds the official layout of a data set holding every image DDAD lists (ids and labels from DDAD's
data.json), and DDAD's own Med-AD tree (its data.json byte for byte, generated PNGs): the split drawn from the
download equals DDAD's lists in counts and ids, and its split id equals the one bench computes for the Med-AD tree.
LAG (4,854 images) runs in the fast tier; RSNA (14,866) and VinDr-CXR (15,000) write about 30,000 files each: slow.
"""

from __future__ import annotations

import gzip
import hashlib

import pandas as pd
import pytest

from bench.core import registry
from bench.core.errors import DataError
from bench.data.manifest import manifest_hash
from bench.datasets.medad_split import LISTS_DIR, SHIPPED
from tests.cli_helpers import bench_in_process
from tests.datasets.ddad_trees import ddad_ids, write_medad_ddad, write_official_ddad

pytestmark = pytest.mark.usefixtures("clean_env")

# sha256 of DDAD's data.json files at caiyu6666/DDAD-ASR b1b7d0f (`git show HEAD:data/<set>/data.json | sha256sum`)
DDAD_SHA256 = {"rsna": "cdd3551c8ecdce90227691a23d6e7b9b6a09311854ef461be20a35d3dc5052e1",
               "vindr": "72d7d17cc2145d0a9adb98f1166ddc93bc1413d0b4dbd828874637df1e9afce2",
               "lag": "24927f0925780178c686b21d6dd780da849ed237ba82a7305830ddcd2d098cff"}
# The Med-AD protocol: DDAD's unlabeled set is the first int(size * 0.6) abnormal and the rest normal images of
# each pool list (anomaly_data.py); sizes 4000 (RSNA, VinDr-CXR) and 1500 (LAG).
UNLABELED = {"rsna": (1600, 2400), "vindr": (1600, 2400), "lag": (600, 900)}
SLOW = pytest.mark.slow


def adapter(name, root, **settings):
    cls = registry.get_dataset(name)
    return cls(root, cls.make_options({k: str(v) for k, v in settings.items()}))


def test_the_shipped_lists_are_ddads_files_byte_for_byte():
    for name, file in SHIPPED.items():
        assert hashlib.sha256(gzip.decompress((LISTS_DIR / file).read_bytes())).hexdigest() == DDAD_SHA256[name]


@pytest.fixture(scope="module")
def lag_trees(tmp_path_factory):
    """LAG's official layout and DDAD's Med-AD tree of it (read only; tests that change a tree write their own)."""
    root = tmp_path_factory.mktemp("lag")
    write_official_ddad("lag", root / "official")
    write_medad_ddad("lag", root / "medad")
    return root


def write_both(name, tmp_path):
    write_official_ddad(name, tmp_path / "official")
    write_medad_ddad(name, tmp_path / "medad")
    return tmp_path


def check_split_is_ddads(name, trees):
    official, tree = trees / "official", trees / "medad"
    manifest = adapter(name, official, split="medad").manifest()
    ids = ddad_ids(name)
    normal, abnormal = UNLABELED[name]
    expected = {"train_normal": ids["train/0"], "test": ids["test/0"] + ids["test/1"],
                "train_unlabeled": ids["train/unlabeled/0"][:normal] + ids["train/unlabeled/1"][:abnormal]}
    for split, listed in expected.items():
        got = manifest[manifest["split"] == split]
        assert sorted(got["id"]) == sorted(listed), split
    labelled = dict(zip(manifest["id"], manifest["label"], strict=True))
    assert all(labelled[i] == 1 for i in ids["test/1"] + ids["train/unlabeled/1"][:abnormal])
    assert sum(labelled.values()) == len(ids["test/1"]) + abnormal
    medad_manifest = adapter(name, tree).manifest()
    assert manifest_hash(manifest, dataset=name) == manifest_hash(medad_manifest, dataset=name)
    seeded = adapter(name, official).manifest()  # bench's own draw: another split, another id
    assert manifest_hash(seeded, dataset=name) != manifest_hash(manifest, dataset=name)
    return official


def test_lag_medad_split_equals_ddads_lists_and_the_medad_trees_split_id(lag_trees):
    check_split_is_ddads("lag", lag_trees)


@SLOW
def test_bench_data_prepare_prints_one_split_id_for_the_download_and_the_medad_tree(lag_trees, tmp_path):
    official = lag_trees / "official"
    copies = ("--set", "data.allow_duplicates=true")  # the generated trees are copies of one image (ddad_trees)
    out = bench_in_process("data", "prepare", "lag", "--root", str(official), "--set", "data.split=medad",
                           "--set", "data.size=16", *copies, env={"BENCH_CACHE": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr
    medad = bench_in_process("data", "prepare", "lag", "--root", str(lag_trees / "medad"), "--set", "data.size=16",
                             *copies, env={"BENCH_CACHE": str(tmp_path / "cache")})
    split_id = manifest_hash(adapter("lag", official, split="medad").manifest(), dataset="lag")
    assert f"split {split_id}" in out.stdout and f"split {split_id}" in medad.stdout


@SLOW
@pytest.mark.parametrize("name", ["rsna", "vindr"])
def test_rsna_and_vindr_medad_split_equals_ddads_lists_and_the_medad_trees_split_id(name, tmp_path):
    check_split_is_ddads(name, write_both(name, tmp_path))


def test_a_download_missing_listed_images_fails_naming_each(tmp_path):
    write_official_ddad("lag", tmp_path)
    ids = ddad_ids("lag")
    gone = [ids["test/1"][0], ids["train/0"][5], ids["train/unlabeled/0"][-1]]
    for stem in gone:
        folder = "suspicious_glaucoma" if stem == ids["test/1"][0] else "non_glaucoma"
        (tmp_path / folder / "image" / f"{stem}.jpg").unlink()
    with pytest.raises(DataError) as error:
        adapter("lag", tmp_path, split="medad").manifest()
    lines = str(error.value).splitlines()
    for stem in gone:
        assert any(line.strip().startswith(f"missing image {stem} (DDAD's lag") for line in lines), lines
    out = bench_in_process("data", "prepare", "lag", "--root", str(tmp_path), "--set", "data.split=medad",
                           env={"BENCH_CACHE": str(tmp_path / "cache")})
    assert out.returncode == 2
    assert all(stem in out.stderr for stem in gone), out.stderr


@SLOW
def test_a_relabelled_image_is_named(tmp_path):
    write_official_ddad("lag", tmp_path)
    stem = ddad_ids("lag")["test/0"][0]
    (tmp_path / "non_glaucoma" / "image" / f"{stem}.jpg").rename(tmp_path / "suspicious_glaucoma" / "image" /
                                                                 f"{stem}.jpg")
    with pytest.raises(DataError, match=f"image {stem} is labelled 1 in the download but DDAD's lag test/0"):
        adapter("lag", tmp_path, split="medad").manifest()


@SLOW
def test_rsna_patients_missing_from_the_label_files_or_the_images_are_named(tmp_path):
    write_official_ddad("rsna", tmp_path)
    ids = ddad_ids("rsna")
    no_file, no_row = ids["test/0"][3], ids["train/unlabeled/1"][7]
    (tmp_path / "stage_2_train_images" / f"{no_file}.dcm").unlink()
    for csv in ("stage_2_detailed_class_info.csv", "stage_2_train_labels.csv"):
        table = pd.read_csv(tmp_path / csv, dtype=str)
        table[table["patientId"] != no_row].to_csv(tmp_path / csv, index=False)
    problems = adapter("rsna", tmp_path, split="medad").problems()
    assert any(no_file in p and "DDAD's rsna test/0" in p for p in problems), problems
    assert any(p.startswith(f"missing image {no_row} (DDAD's rsna train/unlabeled/1") for p in problems), problems
    assert not any("missing image" in p and "DDAD" not in p for p in problems), "one line per missing image"


def test_medad_split_with_sizes_takes_the_first_of_each_list_like_the_medad_tree(lag_trees):
    official, tree = lag_trees / "official", lag_trees / "medad"
    sizes = {"n_normal": 100, "n_test": 50, "unlabeled_size": 60, "anomaly_ratio": 0.3}
    manifest = adapter("lag", official, split="medad", **sizes).manifest()
    ids = ddad_ids("lag")
    assert sorted(manifest.loc[manifest["split"] == "train_normal", "id"]) == sorted(ids["train/0"][:100])
    unlabeled = manifest.loc[manifest["split"] == "train_unlabeled", "id"]
    assert sorted(unlabeled) == sorted(ids["train/unlabeled/0"][:42] + ids["train/unlabeled/1"][:18])
    assert manifest_hash(manifest, dataset="lag") == manifest_hash(adapter("lag", tree, **sizes).manifest(),
                                                                   dataset="lag")
