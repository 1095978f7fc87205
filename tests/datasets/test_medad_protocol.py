"""The Med-AD protocol as RSNA, VinDr-CXR and LAG share it, on tiny fake trees in each official layout and in
the DDAD Med-AD layout: counts, labels, seeds, pools, roots, and `bench data verify` / `bench run`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.core import registry
from bench.core.errors import DataError
from bench.data.manifest import manifest_hash, split_counts
from bench.datasets.medad_protocol import unlabeled_split
from bench.methods.pca.detector import PCADetector
from bench.runs.execute import execute
from bench.runs.plan import RunSpec
from tests.datasets.scaled_protocol import OFFICIAL, data_settings, make, write_medad, write_official

pytestmark = pytest.mark.usefixtures("clean_env")
SCALED_COUNTS = {"train_normal": {0: 4}, "train_unlabeled": {0: 2, 1: 3}, "test": {0: 2, 1: 2}}


@pytest.mark.parametrize(("name", "normal", "pool_normal", "pool_abnormal", "unlabeled", "test"), [
    ("rsna", 3851, 4000, 5012, 4000, 1000),
    ("vindr", 4000, 5606, 3394, 4000, 1000),
    ("lag", 1500, 832, 900, 1500, 811),
])
def test_default_protocol_is_the_med_ad_recipe(name, normal, pool_normal, pool_abnormal, unlabeled, test):
    adapter = registry.get_dataset(name)(None)
    o = adapter.options
    assert (o.n_normal, o.pool_normal, o.pool_abnormal, o.unlabeled_size, o.n_test) == (
        normal, pool_normal, pool_abnormal, unlabeled, test)
    assert adapter.protocol() == {"train_normal": {0: normal},
                                  "train_unlabeled": {0: unlabeled - int(unlabeled * 0.6 + 1e-9),
                                                      1: int(unlabeled * 0.6 + 1e-9)},
                                  "test": {0: test, 1: test}}
    assert adapter.size == 64 and adapter.channels == (3 if name == "lag" else 1)


def test_unlabeled_counts_floor_the_abnormal_share_as_ddads_code_does():
    assert unlabeled_split(4000, 0.6) == (1600, 2400)
    assert unlabeled_split(3851, 0.6) == (1541, 2310)  # SAGAN's code variant on RSNA
    assert unlabeled_split(10, 0.0) == (10, 0) and unlabeled_split(10, 1.0) == (0, 10)


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_layout_gives_the_scaled_counts_and_the_true_labels(name, tmp_path):
    truth = write_official(name, tmp_path)
    adapter = make(name, tmp_path)
    assert adapter.tree_format() == "official"
    manifest = adapter.manifest()
    assert split_counts(manifest) == adapter.protocol() == SCALED_COUNTS
    assert not manifest["id"].duplicated().any()
    assert dict(zip(manifest["id"], manifest["label"], strict=True)).items() <= truth.items()


@pytest.mark.parametrize("name", OFFICIAL)
def test_the_split_is_reproducible_by_split_seed_and_changes_with_it(name, tmp_path):
    write_official(name, tmp_path)
    first = make(name, tmp_path).manifest()
    again = make(name, tmp_path).manifest()
    other = make(name, tmp_path, split_seed=1).manifest()
    assert first.equals(again)
    assert manifest_hash(first, dataset=name) != manifest_hash(other, dataset=name)


def test_the_test_split_does_not_move_when_the_training_sizes_change(tmp_path):
    write_official("rsna", tmp_path)
    test_ids = [set(make("rsna", tmp_path, n_normal=n, unlabeled_size=u).manifest().query("split == 'test'")["id"])
                for n, u in ((4, 5), (2, 3))]
    assert test_ids[0] == test_ids[1]


@pytest.mark.parametrize("name", OFFICIAL)
def test_a_med_ad_tree_is_detected_and_its_lists_are_the_split(name, tmp_path):
    write_medad(tmp_path)
    adapter = make(name, tmp_path)
    assert adapter.tree_format() == "medad" and adapter.problems() == []
    manifest = adapter.manifest()
    assert split_counts(manifest) == SCALED_COUNTS
    lists = json.loads((tmp_path / "data.json").read_text())
    by_split = {split: set(group["path"]) for split, group in manifest.groupby("split")}
    assert by_split["train_normal"] == {f"images/{n}" for n in lists["train"]["0"]}
    assert by_split["test"] == {f"images/{n}" for n in lists["test"]["0"] + lists["test"]["1"]}
    # DDAD's code takes the first images of each unlabeled list
    unlabeled = {f"images/{n}" for n in lists["train"]["unlabeled"]["0"][:2] + lists["train"]["unlabeled"]["1"][:3]}
    assert by_split["train_unlabeled"] == unlabeled


def test_seeded_pick_draws_the_unlabeled_set_from_the_pool_by_split_seed(tmp_path):
    write_medad(tmp_path, {"train/0": 4, "train/unlabeled/0": 8, "train/unlabeled/1": 8, "test/0": 2,
                           "test/1": 2})
    picks = [set(make("rsna", tmp_path, pool_normal=8, pool_abnormal=8, unlabeled_pick="seeded", split_seed=seed)
                 .manifest().query("split == 'train_unlabeled'")["id"]) for seed in (0, 0, 1)]
    assert picks[0] == picks[1] != picks[2]
    assert len(picks[0]) == 5


@pytest.mark.parametrize("name", OFFICIAL)
def test_format_can_be_forced_and_the_wrong_one_names_what_is_missing(name, tmp_path):
    write_medad(tmp_path)
    problems = make(name, tmp_path, format="official").problems()
    assert problems and all("data.json" not in p for p in problems)
    write_official(name, tmp_path / "official")
    assert make(name, tmp_path / "official", format="medad").problems()[-1].endswith("(the split lists)")


@pytest.mark.parametrize("name", OFFICIAL)
def test_an_empty_folder_names_both_layouts_the_source_and_the_kaggle_command(name, tmp_path):
    with pytest.raises(DataError) as error:
        make(name, tmp_path).verify()
    message = str(error.value)
    assert "data.json" in message and "Expected layout" in message and "Get it from" in message
    if name != "lag":
        assert "kaggle competitions download -c" in message


@pytest.mark.parametrize("name", OFFICIAL)
def test_a_short_pool_names_itself_and_the_gap_and_allow_short_warns_instead(name, tmp_path):
    write_official(name, tmp_path, normal=8)
    with pytest.raises(DataError, match=r"normal images: the protocol asks for 9 images .* \(1 short\)"):
        make(name, tmp_path).manifest()
    with pytest.warns(UserWarning, match="1 short"):
        manifest = make(name, tmp_path, allow_short="true").manifest()
    assert (manifest["label"] == 0).sum() == 7  # shrunk, never padded


def test_a_short_med_ad_list_names_the_list_and_the_gap(tmp_path):
    write_medad(tmp_path)
    with pytest.raises(DataError, match=r"train/0: the protocol asks for 6 images but the source lists 4 \(2 short"):
        make("vindr", tmp_path, n_normal=6).manifest()
    with pytest.warns(UserWarning, match="2 short"):
        assert split_counts(make("vindr", tmp_path, n_normal=6, allow_short="true").manifest())["train_normal"] \
            == {0: 4}


@pytest.mark.parametrize("name", OFFICIAL)
def test_the_root_comes_from_the_environment_or_the_config_file(name, tmp_path, monkeypatch):
    monkeypatch.setenv(f"BENCH_DATA_{name.upper()}", str(tmp_path / "from-env"))
    assert make(name, None).root == tmp_path / "from-env"
    monkeypatch.delenv(f"BENCH_DATA_{name.upper()}")
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\n{name} = "{tmp_path / "from-config"}"\n')
    monkeypatch.setenv("BENCH_CONFIG", str(config))
    assert make(name, None).root == tmp_path / "from-config"


@pytest.mark.parametrize("name", OFFICIAL)
def test_bench_data_verify_reads_the_root_from_the_environment_and_prints_the_counts(name, tmp_path, monkeypatch):
    write_official(name, tmp_path)
    monkeypatch.setenv(f"BENCH_DATA_{name.upper()}", str(tmp_path))
    result = CliRunner().invoke(app, ["data", "verify", name, *data_settings()])
    assert result.exit_code == 0, result.output
    assert "layout OK" in result.output and "train_unlabeled" in result.output
    failed = CliRunner().invoke(app, ["data", "verify", name, *data_settings(n_normal=5)])
    assert failed.exit_code == 1 and "short" in failed.output


class UnlabeledRecorder(PCADetector):
    """PCA that declares itself semi-supervised and records the unlabeled images `fit` receives."""

    name = "unlabeled-recorder-medad"
    uses_unlabeled = True
    seen: list = []

    def _fit(self, data, val):
        type(self).seen.append(data.unlabeled)
        super()._fit(data, val)


def test_unlabeled_labels_stay_in_the_manifest_but_never_reach_fit(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.methods._entries, UnlabeledRecorder.name,
                        registry.Entry(UnlabeledRecorder.name, UnlabeledRecorder, uses_unlabeled=True))
    UnlabeledRecorder.seen.clear()
    write_official("rsna", tmp_path / "rsna")
    prepared = make("rsna", tmp_path / "rsna").prepare()
    spec = RunSpec(UnlabeledRecorder.name, "rsna", 0, "smoke", {}, {})
    outcome = execute(spec, prepared, tmp_path / "runs", device="cpu")
    assert outcome.status == "complete", outcome.error
    (unlabeled,) = UnlabeledRecorder.seen
    assert set(unlabeled.labels.tolist()) == {-1}
    in_manifest = prepared.manifest.query("split == 'train_unlabeled'")
    assert sorted(unlabeled.ids) == sorted(in_manifest["id"]) and set(in_manifest["label"]) == {0, 1}


@pytest.mark.parametrize("name", OFFICIAL)
def test_bench_run_trains_and_scores_pca_on_the_fake_official_tree(name, tmp_path):
    write_official(name, tmp_path / name)
    result = CliRunner().invoke(app, ["run", "--methods", "pca", "--dataset", name, "--root", str(tmp_path / name),
                                      "--preset", "smoke", "--device", "cpu", "--runs", str(tmp_path / "runs"),
                                      *data_settings()])
    assert result.exit_code == 0, result.output
    (record,) = (tmp_path / "runs" / name / "pca").glob("*/run.json")
    run = json.loads(record.read_text())
    assert run["status"] == "complete"
    assert run["data"]["counts"]["test"] == {"0": 2, "1": 2} and run["data"]["image_size"] == 32
    assert run["data"]["channels"] == (3 if name == "lag" else 1)
    assert len(run["data"]["split_id"]) == 12
