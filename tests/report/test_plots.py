"""`bench plot`: the figures hold one curve / panel / column per configuration (checked on the matplotlib
objects), and the PNG and PDF files are written."""

from __future__ import annotations

import numpy as np

from bench.report.figures import dataset_figures, write_figures
from bench.report.plots import OKABE_ITO
from tests.report.run_trees import HARD_DATASET, copy_run

SYNTHETIC_ENTRIES = 4  # pca (val-f1), pca (n_components=4 ...), pca (oracle), pca_v2 100%


def legend_labels(figure) -> list[str]:
    legend = figure.legends[0] if figure.legends else figure.axes[0].get_legend()
    return [" ".join(text.get_text().replace("\u00a0", " ").split()) for text in legend.get_texts()]


def curve_lines(figure) -> list:
    return [line for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")]


def test_roc_and_pr_have_one_curve_per_configuration_with_its_number(tree):
    root, _ = tree
    figures = dataset_figures(root, "synthetic")
    for name, number in (("roc", "AUC"), ("pr", "AP")):
        assert len(curve_lines(figures[name])) == SYNTHETIC_ENTRIES
        labels = legend_labels(figures[name])
        assert len(labels) == SYNTHETIC_ENTRIES and all(f"({number} 0." in label for label in labels)
    colours = {line.get_color() for line in curve_lines(figures["roc"])}
    assert colours <= set(OKABE_ITO) and len(colours) == SYNTHETIC_ENTRIES


def test_roc_curves_run_from_origin_to_one(tree):
    root, _ = tree
    for line in curve_lines(dataset_figures(root, HARD_DATASET)["roc"]):
        x, y = line.get_data()
        assert (x[0], y[0]) == (0, 0) and y[-1] == 1 and np.all(np.diff(y) >= -1e-12)


def test_histograms_have_a_panel_per_configuration_with_normal_and_abnormal(tree):
    root, _ = tree
    figure = dataset_figures(root, "synthetic")["scores"]
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == SYNTHETIC_ENTRIES
    assert all(len(ax.containers) == 2 for ax in panels)  # two histograms: normal, abnormal
    assert legend_labels(figure) == ["normal", "abnormal"]


def test_example_grid_rows_are_images_and_columns_input_then_maps(tree):
    root, _ = tree
    figure = dataset_figures(root, "synthetic", per_class=2)["examples"]
    assert len(figure.axes) == 4 * (1 + SYNTHETIC_ENTRIES)
    assert all(ax.images for ax in figure.axes)  # every cell shows an image


def test_restored_images_get_their_own_column(tree, tmp_path):
    _, folders = tree
    folder = copy_run(folders["hard_odd"][0], tmp_path)
    with np.load(folder / "sample_maps.npz") as data:
        arrays = dict(data)
    np.savez_compressed(folder / "sample_maps.npz", **arrays, restored=255 - arrays["images"])
    figure = dataset_figures(tmp_path, HARD_DATASET, per_class=1)["examples"]
    titles = [ax.get_title() for ax in figure.axes[:3]]
    assert len(figure.axes) == 2 * 3 and "restored" in titles[1] and "map" in titles[2]


def test_png_and_pdf_files_are_written(tree, tmp_path):
    root, _ = tree
    written = write_figures(root, HARD_DATASET, tmp_path, per_class=1)
    assert sorted(p.name for p in written) == sorted(
        f"{HARD_DATASET}_{name}.{fmt}" for name in ("roc", "pr", "scores", "examples") for fmt in ("png", "pdf"))
    for path in written:
        head = path.read_bytes()[:8]
        assert head.startswith(b"\x89PNG" if path.suffix == ".png" else b"%PDF")
        assert path.stat().st_size > 5000
