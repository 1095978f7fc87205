"""Run records -> frames: trees merge, a run found twice counts once, configurations get readable labels."""

from __future__ import annotations

from bench.report.collect import aggregate, distinguishing_labels, runs_frame
from tests.report.run_trees import copy_run


def test_a_run_found_in_two_trees_counts_once_and_the_later_copy_wins(tree, tmp_path):
    _, folders = tree
    folder = folders["odd"][0]
    copy_run(folder, tmp_path / "A", edit=lambda r: r.update(finished_at="2030-01-01T00:00:00+00:00"))
    copy_run(folder, tmp_path / "B", edit=lambda r: r["metrics"].update(auc=0.0))
    frame = runs_frame([tmp_path / "B", tmp_path / "A"])
    assert len(frame) == 1 and frame["auc"].iloc[0] > 0
    assert runs_frame([tmp_path / "A", tmp_path / "B"]).equals(frame)


def test_seeds_of_one_configuration_aggregate_together(tree):
    root, folders = tree
    summary = aggregate(runs_frame(root, ["synthetic"]))
    assert sorted(summary["n_seeds"]) == sorted(len(folders[k]) for k in ("pca", "pca4", "oracle", "odd"))


def test_labels_say_what_sets_a_configuration_apart(tree):
    root, _ = tree
    summary = aggregate(runs_frame(root, ["synthetic"]))
    labels = set(distinguishing_labels(summary))
    assert labels == {"pca (val-f1)", "pca (max_train_images=30, n_components=4, val-f1)",
                      "pca (n_components=2, test-oracle-f1)", "pca_v2 100%"}
