"""Reference splits in reports: runs on a protocol's reference split get the paper-vs-ours difference; runs on any
other split are marked "own split" (or "no reference split" where the protocol has none, COVIDx) in bench
leaderboard, bench report and bench site, with no difference; the site draws a forest plot per data set (checked
as files and in a real headless Chromium). The runs are the shared synthetic PCA runs, their records relabelled
as RSNA / COVIDx runs on chosen splits."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageStat

from bench.data.manifest import manifest_hash
from bench.report.leaderboard import leaderboard_frame
from bench.report.reference_splits import NO_REFERENCE, OWN_SPLIT, REFERENCE, REFERENCE_SPLITS
from bench.report.reported import load_reported, main_table
from bench.report.site.build import write_site
from bench.runs.folder import read_record
from tests.cli_helpers import bench_in_process
from tests.datasets.ddad_trees import ddad_ids
from tests.report.chromium import chromium, find_chromium
from tests.report.html_dom import parse
from tests.report.run_trees import ODD_METHOD

pytestmark = pytest.mark.xdist_group("site")
OTHER_SPLIT = "0c417495c65c"  # bench's own seed-0 draw of RSNA (not the reference)
PAPER = ("paper,table,dataset,method,paper_method,setting,metric,value,reported_as,reported_value\n"
         "Test,Table 9,rsna,pca,PCA,,auc,0.5,percent,50.0\n"
         f"Test,Table 9,rsna,{ODD_METHOD},Odd,,auc,0.5,percent,50.0\n"
         "Test,Table 9,covidx,pca,PCA,,auc,0.5,percent,50.0\n")


def test_med_ad_reference_ids_are_ddads_lists_under_ddads_unlabeled_rule():
    """From the shipped lists alone, as DDAD's anomaly_data.py builds its training set (the first
    size - int(size * 0.6) normal and int(size * 0.6) abnormal images of the pool lists)."""
    for dataset, size in (("rsna", 4000), ("vindr", 4000), ("lag", 1500)):
        ids = ddad_ids(dataset)
        abnormal = int(size * 0.6)
        rows = ([(i, 0, "train_normal") for i in ids["train/0"]]
                + [(i, 0, "train_unlabeled") for i in ids["train/unlabeled/0"][:size - abnormal]]
                + [(i, 1, "train_unlabeled") for i in ids["train/unlabeled/1"][:abnormal]]
                + [(i, 0, "test") for i in ids["test/0"]] + [(i, 1, "test") for i in ids["test/1"]])
        manifest = pd.DataFrame(rows, columns=["id", "label", "split"])
        assert manifest_hash(manifest, dataset=dataset) == REFERENCE_SPLITS[dataset].split_id, dataset
    assert REFERENCE_SPLITS["covidx"].split_id is None and "registry" in REFERENCE_SPLITS["covidx"].why


def relabel(folder: Path, runs: Path, dataset: str, split_id: str) -> None:
    record = json.loads((folder / "run.json").read_text())
    record["dataset"], record["data"]["split_id"] = dataset, split_id
    target = runs / dataset / folder.parts[-2] / folder.name
    shutil.copytree(folder, target)
    (target / "run.json").write_text(json.dumps(record, indent=2))


@pytest.fixture(scope="module")
def marked(tree, tmp_path_factory):
    """(runs, reported.csv): RSNA pca on the reference split, RSNA odd-named PCA on an own split, COVIDx pca."""
    _, folders = tree
    base = tmp_path_factory.mktemp("marked")
    runs = base / "runs"
    for folder in folders["pca"]:
        relabel(folder, runs, "rsna", REFERENCE_SPLITS["rsna"].split_id)
        relabel(folder, runs, "covidx", "aaaabbbbcccc")
    for folder in folders["odd"]:
        relabel(folder, runs, "rsna", OTHER_SPLIT)
    (base / "reported.csv").write_text(PAPER)
    return runs, base / "reported.csv"


def mean_auc(folders):
    return sum(read_record(f).metrics["auc"] for f in folders) / len(folders)


def test_leaderboard_marks_own_splits_and_shows_the_difference_only_on_the_reference(marked, tree):
    runs, reported = marked
    _, folders = tree
    board = leaderboard_frame([runs], main_table(load_reported(reported))).set_index(["dataset", "method"])
    assert board.loc[("rsna", "pca"), "split_status"] == REFERENCE
    assert board.loc[("rsna", "pca"), "auc_diff"] == pytest.approx(mean_auc(folders["pca"]) - 0.5, abs=1e-9)
    assert board.loc[("rsna", ODD_METHOD), "split_status"] == OWN_SPLIT
    assert board.loc[("covidx", "pca"), "split_status"] == NO_REFERENCE
    for key in (("rsna", ODD_METHOD), ("covidx", "pca")):
        assert pd.isna(board.loc[key, "auc_diff"]) and board.loc[key, "auc_reported"] == 0.5
    out = bench_in_process("leaderboard", "--runs", str(runs), "--to", str(runs.parent / "board"),
                           "--reported", str(reported))
    assert out.returncode == 0, out.stderr
    lines = (runs.parent / "board" / "leaderboard.md").read_text().splitlines()
    escaped = ODD_METHOD.replace("_", "\\_")  # as Markdown prints it
    (odd,) = [line for line in lines if f"| {escaped} |" in line and "| RSNA |" in line]
    (pca,) = [line for line in lines if "| pca |" in line and "| RSNA |" in line]
    assert f"{OTHER_SPLIT} (own split)" in odd and "| 0.50 |" in odd and "0.50 (" not in odd
    assert "own split" not in pca and "| 0.50 (+" in pca
    assert '"own split"' in "\n".join(lines), "the note says what own split means"


def test_report_caption_names_an_own_split(marked):
    runs, _ = marked
    out = bench_in_process("report", "--dataset", "rsna", "--runs", str(runs), "--format", "md")
    assert out.returncode == 0, out.stderr
    assert f"split {OTHER_SPLIT} (own split: not comparable with the paper)" in out.stdout
    assert f"split {REFERENCE_SPLITS['rsna'].split_id}," in out.stdout


@pytest.fixture(scope="module")
def site(marked):
    runs, reported = marked
    write_site([runs], runs.parent / "site", reported)
    return runs.parent / "site"


def test_site_badges_own_splits_and_draws_a_forest_plot_per_data_set(site, tree):
    _, folders = tree
    document, problems = parse(site / "index.html")
    assert not problems
    board = document.by_id("board-rsna")
    texts = {}
    for tr in next(board.iter("tbody")).iter("tr"):
        cells = [c.text() for c in tr.children if hasattr(c, "tag")]
        texts["odd" if cells[0].startswith(ODD_METHOD) else cells[0].split()[0]] = (tr.attrs.get("class") or "",
                                                                                    cells)
    assert "own-split" in texts["odd"][0] and any("own split" in c for c in texts["odd"][1])
    assert "own-split" not in texts["pca"][0] and not any("own split" in c for c in texts["pca"][1])
    forest = document.by_id("forest-set-rsna")
    groups = [g for g in forest.iter("g") if "forest-row" in (g.attrs.get("class") or "")]
    by_entry = {g.attrs["data-entry"]: g for g in groups}
    assert len(groups) == 2 and "own-split" in by_entry[next(e for e in by_entry if e.startswith(ODD_METHOD))
                                                        ].attrs["class"]
    pca_row = by_entry[next(e for e in by_entry if e.startswith("pca"))]
    assert float(pca_row.attrs["data-auc"]) == pytest.approx(mean_auc(folders["pca"]), abs=1e-6)
    (paper,) = [p for p in pca_row.iter("path") if "paper" in p.attrs.get("class", "")]
    assert float(paper.attrs["data-paper"]) == 0.5
    (ci,) = pca_row.iter("line")
    assert float(ci.attrs["data-low"]) <= float(pca_row.attrs["data-auc"]) <= float(ci.attrs["data-high"])
    assert document.by_id("forest-set-covidx") is not None


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium", pytrace=False)
    with chromium(executable, tmp_path_factory.mktemp("chromium-profile")) as tab:
        yield tab


def test_forest_plot_renders_in_a_browser_with_dots_ordered_by_auc(site, page):
    page.navigate((site / "index.html").as_uri())
    box = page.evaluate("(() => { const r = document.querySelector('#forest-set-rsna svg').getBoundingClientRect();"
                        " return [r.width, r.height]; })()")
    assert box[0] > 300 and box[1] > 60
    dots = page.evaluate("Array.from(document.querySelectorAll('#forest-set-rsna g.forest-row')).map(g => "
                         "[parseFloat(g.dataset.auc), g.querySelector('circle.mean').getBoundingClientRect().x, "
                         "g.querySelector('path.paper').getBoundingClientRect().x])")
    assert len(dots) == 2
    (auc_a, x_a, paper_a), (auc_b, x_b, paper_b) = dots
    assert (auc_a - auc_b) * (x_a - x_b) > 0, "a higher AUC is drawn further right"
    assert paper_a == pytest.approx(paper_b, abs=0.5), "both diamonds mark the same paper value"
    assert page.errors() == []


def test_forest_plot_screenshot_is_drawn(site, page, tmp_path):
    page.navigate((site / "index.html").as_uri())
    try:
        page.evaluate("document.getElementById('forest-set-rsna').scrollIntoView()")
        png = page.screenshot(1280, 800)
    finally:
        page.call("Emulation.clearDeviceMetricsOverride")
    (tmp_path / "forest.png").write_bytes(png)
    with Image.open(io.BytesIO(png)) as shot:
        grey = shot.convert("L")
    assert ImageStat.Stat(grey).var[0] > 200 and sum(grey.histogram()[:200]) > 0.01 * 1280 * 800
