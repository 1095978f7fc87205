"""`bench site`: the static leaderboard site, read as files (links, accessibility, numbers against the run records)
and in a real headless Chromium (sorting by a click, following a link, the filter box, screenshots at laptop and
phone widths). `make test` installs Debian's chromium when it is missing."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest
from PIL import Image, ImageStat
from typer.testing import CliRunner

from bench.cli import app
from bench.report.site.build import MANIFEST, NO_JEKYLL, write_site
from bench.runs.folder import read_record
from bench.runs.scan import load_scores
from tests.report.chromium import Page, chromium, find_chromium
from tests.report.html_dom import Element, parse
from tests.report.run_trees import copy_run

SHIPPED = Path(__file__).resolve().parents[2] / "results" / "reported.csv"
PAPER_ROW = "Test,Table 9,synthetic,pca,PCA,,auc,0.5,percent,50.0\n"  # a paper's number for our synthetic pca
BENCH = Path(sys.executable).parent / "bench"
pytestmark = pytest.mark.xdist_group("site")  # one worker builds the site and starts the browser once (make test -n)


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reported") / "reported.csv"
    path.write_text(SHIPPED.read_text() + PAPER_ROW)
    return path


@pytest.fixture(scope="module")
def site(tree, reported: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of the shared run tree (built once for this module; tests must not change it)."""
    root, _ = tree
    to = tmp_path_factory.mktemp("site") / "site"
    write_site([root], to, reported)
    return to


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One tab of a headless Chromium with a new, empty profile."""
    executable = find_chromium()
    if executable is None:
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium (apt-get); install it to "
                    "run these tests", pytrace=False)
    with chromium(executable, tmp_path_factory.mktemp("chromium-profile")) as tab:
        yield tab


def site_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def html_pages(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


def rows(document: Element, table_id: str, attribute: str | None = "data-value") -> list[dict[str, str]]:
    """The body rows of a table as {column label: cell's sort value (or, attribute None, its text)}."""
    table = document.by_id(table_id)
    labels = [th.text().removesuffix(" ↕") for th in next(table.iter("thead")).iter("th")]
    found = []
    for tr in next(table.iter("tbody")).iter("tr"):
        cells = [c for c in tr.children if isinstance(c, Element)]
        found.append({label: (cell.text() if attribute is None else str(cell.attrs.get(attribute)))
                      for label, cell in zip(labels, cells, strict=True)})
    return found


def link_in(document: Element, table_id: str, text: str) -> str:
    """The href of the link with exactly `text` in a table."""
    (href,) = [a.attrs["href"] for a in document.by_id(table_id).iter("a") if a.text() == text]
    return str(href)


def mean_metric(folders: list[Path], metric: str) -> float:
    return sum(read_record(f).metrics[metric] for f in folders) / len(folders)


# ---- the files -------------------------------------------------------------------------------------------------

def test_same_runs_give_the_same_bytes_from_any_path(tree, site, reported, tmp_path):
    root, _ = tree
    moved = tmp_path / "elsewhere" / "runs"
    shutil.copytree(root, moved)
    write_site([moved], tmp_path / "again", reported)
    assert site_bytes(tmp_path / "again") == site_bytes(site)


def test_every_link_and_image_resolves_and_every_file_is_reachable_from_the_index(site):
    links: dict[Path, set[Path]] = {}
    for path in html_pages(site):
        document, problems = parse(path)
        assert not problems, f"{path.relative_to(site)}: {problems}"
        links[path] = set()
        for element in document.iter():
            target = element.attrs.get("href") or element.attrs.get("src")
            if target is None:
                continue
            assert not urlsplit(target).scheme and not target.startswith("/"), f"{path}: {target} is not relative"
            name, _, fragment = target.partition("#")
            resolved = (path.parent / unquote(name)).resolve() if name else path
            assert resolved.is_file() and site.resolve() in resolved.parents, f"{path}: broken link {target}"
            if fragment:
                parse(resolved)[0].by_id(fragment)
            if element.tag == "img":
                with Image.open(resolved) as image:
                    assert image.format == "PNG"
                    assert image.size == (int(element.attrs["width"]), int(element.attrs["height"]))
            links[path].add(resolved)
    reached, todo = set(), [(site / "index.html").resolve()]
    while todo:
        current = todo.pop()
        if current not in reached:
            reached.add(current)
            todo += [t for t in links.get(current, ()) if t.suffix == ".html"]
    every_file = {p.resolve() for p in site.rglob("*") if p.is_file() and p.name not in (MANIFEST, NO_JEKYLL)}
    linked = reached | {t for page in reached for t in links[page]}
    assert every_file == linked, f"unreachable: {sorted(str(p) for p in every_file - linked)}"


def test_pages_are_accessible(site):
    for path in html_pages(site):
        document, _ = parse(path)
        where = path.relative_to(site)
        assert next(document.iter("html")).attrs.get("lang") == "en"
        assert len(list(document.iter("h1"))) == 1, where
        assert any(m.attrs.get("name") == "viewport" for m in document.iter("meta")), where
        for image in document.iter("img"):
            assert len((image.attrs.get("alt") or "").split()) >= 5, f"{where}: {image.attrs['src']} lacks alt text"
        for table in document.iter("table"):
            assert next(table.iter("caption")).text(), where
            assert all(th.attrs.get("scope") == "col" for th in next(table.iter("thead")).iter("th")), where
            for tr in next(table.iter("tbody")).iter("tr"):
                first = next(c for c in tr.children if isinstance(c, Element))
                assert (first.tag, first.attrs.get("scope")) == ("th", "row"), where
        labelled = {label.attrs.get("for") for label in document.iter("label")}
        assert all(field.attrs.get("id") in labelled for field in document.iter("input")), where
        assert all(button.text() for button in document.iter("button")), where


def test_a_leaderboard_per_data_set_with_ours_beside_the_papers_numbers(site, tree):
    _, folders = tree
    document, _ = parse(site / "index.html")
    sections = [s.attrs["id"] for s in document.iter("section")]
    assert sections[:2] == ["set-synthetic", "set-synthetic_hard"]  # data sets with runs first
    assert {"set-covidx", "set-chestxray14", "set-rsna", "set-vindr", "set-lag"} <= set(sections)
    (pca,) = [r for r in rows(document, "board-synthetic") if r["Method"] == "pca"]
    assert float(pca["AUC"]) == pytest.approx(mean_metric(folders["pca"], "auc"), abs=1e-9)
    assert pca["AUC paper"] == "0.5" and float(pca["AUC Δ"]) == pytest.approx(float(pca["AUC"]) - 0.5, abs=1e-9)
    assert pca["Seeds"] == str(len(folders["pca"])) and pca["Status"] == "reproduced"
    assert pca["Checkpoint selection"] == read_record(folders["pca"][0]).selection == "last"
    assert pca["Threshold policy"] == "val-f1"
    (text,) = [r for r in rows(document, "board-synthetic", None) if r["Method"].startswith("pca ")]
    assert "±" in text["AUC"] and "95% CI [" in text["AUC"]
    covidx = rows(document, "board-covidx")
    assert len(covidx) == 7 and {r["Status"] for r in covidx} == {"not reproduced yet"}
    assert all(r["AUC paper"] and r["AUC"] == "" for r in covidx)
    assert not list(document.by_id("board-covidx").iter("a"))


def test_every_configuration_is_listed_and_test_oracle_thresholds_are_marked(site, tree):
    _, folders = tree
    document, _ = parse(site / "index.html")
    table = document.by_id("configs-synthetic")
    texts = rows(document, "configs-synthetic", None)
    assert len(texts) == 4 and sorted(int(r["Seeds"]) for r in texts) == [1, 2, 2, 3]
    oracle_rows = [tr for tr in next(table.iter("tbody")).iter("tr") if "oracle" in tr.attrs.get("class", "")]
    assert len(oracle_rows) == 1 == len(folders["oracle"])
    for row in texts:
        oracle = "test-oracle-f1" in row["Threshold policy"]
        assert ("test-oracle" in row["Threshold policy"].replace("test-oracle-f1", "")) == oracle
        assert ("†" in row["F1"]) == ("†" in row["Recall"]) == oracle and "†" not in row["AUC"]


def test_localisation_metrics_have_our_column_and_no_paper_column(site, tree):
    _, folders = tree
    document, _ = parse(site / "index.html")
    (pca,) = [r for r in rows(document, "configs-synthetic") if r["Configuration"] == "pca (val-f1)"]
    pixel = [read_record(f).localisation["metrics"]["pixel_auroc"] for f in folders["pca"]]
    assert float(pca["Pixel AUROC"]) == pytest.approx(sum(pixel) / len(pixel), abs=1e-9)
    (board,) = rows(document, "board-synthetic")[:1]
    assert "Pixel AUROC" in board and "Pixel AUROC paper" not in board and "AUC paper" in board


def test_configuration_page_has_provenance_metrics_per_seed_and_figures(site, tree):
    _, folders = tree
    index, _ = parse(site / "index.html")
    href = link_in(index, "configs-synthetic", "pca (max_train_images=30, n_components=4, val-f1)")
    path = site / href
    document, _ = parse(path)
    assert "n_components=4" in next(document.iter("h1")).text()
    records = [read_record(f) for f in folders["pca4"]]
    seeds = rows(document, next(t.attrs["id"] for t in document.iter("table") if t.attrs["id"].startswith("seeds-")))
    assert [int(r["Seed"]) for r in seeds] == sorted(r.seed for r in records)
    for row, record in zip(seeds, sorted(records, key=lambda r: r.seed), strict=True):
        assert float(row["AUC"]) == pytest.approx(record.metrics["auc"], abs=1e-9)
    text = document.text()
    first = records[0]
    for fact in (first.data.split_id, first.data.images_id, first.git["commit"][:10], first.versions["torch"],
                 f"{first.memory['peak_rss_mb']:.1f}", "device cpu", "max_train_images", "paper", "val-f1"):
        assert fact in text, fact
    sources = {Path(str(img.attrs["src"])).name for img in document.iter("img")}
    assert {"roc.png", "pr.png", "scores.png", "examples.png"} <= sources
    assert not any(name.startswith("losses") for name in sources)  # PCA has no losses.csv


def test_scores_download_as_csv_equal_to_the_runs_scores(site, tree):
    _, folders = tree
    index, _ = parse(site / "index.html")
    page = site / link_in(index, "configs-synthetic", "pca (val-f1)")
    document, _ = parse(page)
    downloads = [str(a.attrs["href"]) for a in document.iter("a") if "download" in a.attrs]
    assert len(downloads) == len(folders["pca"])
    by_seed = {read_record(f).seed: f for f in folders["pca"]}
    for href in downloads:
        seed = int(href.rsplit("seed", 1)[1].removesuffix(".csv"))
        csv = pd.read_csv(page.parent / href, dtype={"id": str})
        scores = load_scores(by_seed[seed])
        floats = {c: "float64" for c in scores.columns if pd.api.types.is_float_dtype(scores[c])}  # <NA> -> NaN
        pd.testing.assert_frame_equal(csv, scores.astype(floats), check_dtype=False)


def test_comparison_page_has_a_delong_row_per_pair_and_shared_seed(site, tree):
    _, folders = tree
    document, _ = parse(site / "synthetic" / "compare.html")
    table_id = next(t.attrs["id"] for t in document.iter("table"))
    tests = rows(document, table_id)
    seeds = {name: {read_record(f).seed for f in folders[name]} for name in ("pca", "pca4", "oracle", "odd")}
    names = list(seeds)
    expected = sum(len(seeds[a] & seeds[b]) for i, a in enumerate(names) for b in names[i + 1:])
    assert len(tests) == expected == 9
    assert all(0 < float(t["DeLong p"]) <= 1 for t in tests)
    assert all(float(t["AUC A − B"]) == pytest.approx(float(t["AUC A"]) - float(t["AUC B"]), abs=1e-9)
               for t in tests)


@pytest.fixture(scope="module")
def small_site(tree, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site of three runs: one with a GAN's losses.csv, and two seeds of another, one without a recall."""
    _, folders = tree
    runs = tmp_path_factory.mktemp("small") / "runs"
    gan_like = copy_run(folders["hard_odd"][0], runs)
    (gan_like / "losses.csv").write_text("iteration,D/loss,G/adv,lr_scale\n10,9.9,0.3,1.0\n20,4.2,0.5,1.0\n"
                                         "30,1.1,0.6,0.5\n")
    copy_run(folders["hard_pca"][0], runs)
    copy_run(folders["hard_pca"][1], runs, edit=lambda record: record["metrics"].pop("recall"))
    write_site([runs], runs.parent / "site")
    return runs.parent / "site"


def test_gan_loss_curves_appear_for_runs_with_losses_csv(small_site):
    images = {}
    for path in html_pages(small_site / "synthetic_hard"):
        document, _ = parse(path)
        images[path.stem] = {Path(str(i.attrs["src"])).name: str(i.attrs["alt"]) for i in document.iter("img")}
    (odd,) = [v for k, v in images.items() if k.startswith("pca_v2")]
    (pca,) = [v for k, v in images.items() if k.startswith("pca-")]
    assert "D/loss, G/adv" in odd["losses-seed0.png"] and "lr_scale" not in odd["losses-seed0.png"]
    assert not any(name.startswith("losses") for name in pca)


def test_a_metric_only_some_seeds_have_says_how_many_and_a_missing_one_shows_a_dash(small_site):
    document, _ = parse(small_site / "index.html")
    (pca,) = [r for r in rows(document, "configs-synthetic_hard", None) if r["Configuration"] == "pca"]
    assert pca["Seeds"] == "2" and pca["Recall"].startswith("0.") and "(n=1)" in pca["Recall"]
    assert "(n=" not in pca["Precision"]
    (odd,) = [r for r in rows(document, "board-synthetic_hard", None) if r["Method"].startswith("pca_v2")]
    assert odd["AUC paper"] == odd["AUC Δ"] == "-"


def test_cli_writes_the_site_prints_its_index_and_drops_pages_of_runs_gone(tree, tmp_path):
    _, folders = tree
    gone = copy_run(folders["hard_odd"][0], tmp_path / "runs")
    copy_run(folders["hard_pca"][0], tmp_path / "runs")
    arguments = ["site", "--runs", str(tmp_path / "runs"), "--to", str(tmp_path / "site")]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "site" / "index.html") in result.output
    before = {str(p.relative_to(tmp_path / "site")) for p in html_pages(tmp_path / "site")}
    shutil.rmtree(gone)
    assert CliRunner().invoke(app, arguments).exit_code == 0
    after = {str(p.relative_to(tmp_path / "site")) for p in html_pages(tmp_path / "site")}
    (dropped,) = before - after
    assert dropped.startswith("synthetic_hard/pca_v2") and not (tmp_path / "site" / dropped[:-5]).exists()
    assert "pca_v2" not in (tmp_path / "site" / "index.html").read_text()


def test_cli_refuses_a_folder_it_did_not_write_and_strict_names_damaged_runs(tree, tmp_path):
    _, folders = tree
    damaged = copy_run(folders["hard_odd"][0], tmp_path / "runs")
    (damaged / "run.json").write_text("{")
    copy_run(folders["hard_pca"][0], tmp_path / "runs")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    refused = subprocess.run([str(BENCH), "site", "--runs", str(tmp_path / "runs"), "--to", str(tmp_path / "notes")],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.txt"]
    strict = CliRunner().invoke(app, ["site", "--runs", str(tmp_path / "runs"), "--to", str(tmp_path / "site"),
                                      "--strict"])
    assert strict.exit_code == 1 and str(damaged) in strict.output.replace("\n", "")
    assert (tmp_path / "site" / "synthetic_hard" / "compare.html").is_file()  # the readable run is on the site


# ---- in a real browser -----------------------------------------------------------------------------------------

def column_values(page: Page, table: str, column: int) -> list[str]:
    return page.evaluate(f"Array.from(document.querySelectorAll('{table} tbody tr'))"
                         f".map(row => row.cells[{column}].dataset.value)")


def test_clicking_a_column_header_sorts_the_rows(site, page):
    page.navigate((site / "index.html").as_uri())
    table = "#configs-synthetic"
    labels = page.evaluate(f"Array.from(document.querySelectorAll('{table} thead th')).map(th => th.textContent)")
    column = [label.removesuffix(" ↕") for label in labels].index("AUC")
    before = column_values(page, table, column)
    header = f"{table} thead th:nth-child({column + 1})"
    page.click(f"{header} button")
    ascending = column_values(page, table, column)
    assert ascending != before and sorted(ascending) == sorted(before)
    assert [float(v) for v in ascending] == sorted(float(v) for v in before)
    assert page.evaluate(f"document.querySelector('{header}').getAttribute('aria-sort')") == "ascending"
    page.click(f"{header} button")
    assert column_values(page, table, column) == ascending[::-1]
    assert page.evaluate(f"document.querySelector('{header}').getAttribute('aria-sort')") == "descending"
    assert page.errors() == []


def test_a_leaderboard_link_opens_its_configuration_page_with_every_image(site, page):
    page.navigate((site / "index.html").as_uri())
    link = "#board-synthetic tbody a"
    name, href = page.evaluate(f"[document.querySelector('{link}').textContent, "
                               f"document.querySelector('{link}').getAttribute('href')]")
    page.events.clear()
    page.click(link)
    page.wait_for("Page.loadEventFired")
    assert page.evaluate("location.href") == (site / href).resolve().as_uri()
    assert page.evaluate("document.querySelector('h1').textContent").startswith(name)
    sizes = page.evaluate("Promise.all(Array.from(document.images).map(img => new Promise(done => { "
                          "const copy = new Image(); copy.onload = () => done(copy.naturalWidth); "
                          "copy.onerror = () => done(0); copy.src = img.src; })))")
    assert len(sizes) >= 4 and all(width > 100 for width in sizes)
    assert page.errors() == []


def test_the_filter_box_hides_rows_without_the_words(site, page):
    page.navigate((site / "index.html").as_uri())
    page.type_text("#filter", "oracle")
    shown = page.evaluate("Array.from(document.querySelectorAll('table[data-filterable] tbody tr'))"
                          ".filter(row => !row.hidden).map(row => row.textContent.toLowerCase())")
    total = page.evaluate("document.querySelectorAll('table[data-filterable] tbody tr').length")
    assert shown and len(shown) < total and all("oracle" in row for row in shown)
    status = page.evaluate("document.getElementById('filter-status').textContent")
    assert status == f"{len(shown)} of {total} rows shown"


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["laptop", "phone"])
def test_pages_render_at_laptop_and_phone_width(site, page, width, height, tmp_path):
    index, _ = parse(site / "index.html")
    paths = ["index.html", link_in(index, "configs-synthetic", "pca (val-f1)"), "synthetic/compare.html"]
    try:
        for relative in paths:
            page.navigate((site / relative).as_uri())
            png = page.screenshot(width, height)
            (tmp_path / f"{Path(relative).stem}-{width}.png").write_bytes(png)
            with Image.open(io.BytesIO(png)) as shot:
                grey = shot.convert("L")
            assert grey.size == (width, height)
            inked = sum(grey.histogram()[:200]) / (width * height)
            assert ImageStat.Stat(grey).var[0] > 200 and inked > 0.01, f"{relative} looks blank at {width} px"
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{relative} scrolls sideways by {overflow} px at {width} px"
            assert page.errors() == []
    finally:
        page.call("Emulation.clearDeviceMetricsOverride")
