"""`bench site --runs DIR --to site/`: write the static site from run records and the papers' numbers.

The site is built in memory first, then written file by file (atomically; a file whose bytes did not change is
left alone). The folder keeps a list of what it wrote (`.bench-site`): a later build removes the pages of runs that
are gone, and a non-empty folder without that list is never written into (it is not a site bench made).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from bench.core.errors import BenchError
from bench.core.files import atomic_write
from bench.report.names import dataset_label
from bench.report.reported import SHIPPED_PATH, load_reported, main_table
from bench.report.site import pages
from bench.report.site.content import gather
from bench.report.site.images import configuration_images, dataset_images
from bench.runs.scan import load_scores

MANIFEST = ".bench-site"
NO_JEKYLL = ".nojekyll"  # GitHub Pages: serve the files as they are (Jekyll would drop folders starting with _)


def _asset(name: str) -> bytes:
    return resources.files("bench.report.site").joinpath("static", name).read_bytes()


def site_files(runs: Path | Sequence[Path], reported_path: Path | None = None) -> dict[str, bytes]:
    """Every file of the site by its path relative to the site's root."""
    contents = gather(runs, main_table(load_reported(reported_path or SHIPPED_PATH)))
    files = {f"assets/{name}": _asset(name) for name in pages.ASSETS}
    files[NO_JEKYLL] = b""
    files["index.html"] = pages.index_page(contents).encode()
    for content in contents:
        if not content.configurations:
            continue
        where = dataset_label(content.name)
        images = dataset_images(content, where)
        files[pages.compare_path(content)] = pages.compare_page(content, images).encode()
        files.update({f"{content.slug}/compare/{image.name}": image.data for image in images})
        for config in content.configurations:
            images = configuration_images(config, where)
            files[pages.page_path(content, config)] = pages.configuration_page(content, config, images).encode()
            folder = f"{content.slug}/{config.slug}/"
            files.update({folder + image.name: image.data for image in images})
            files.update({f"{folder}scores-seed{run.seed}.csv": pages.scores_csv(load_scores(run.folder))
                          for run in config.runs})
    return files


def _previous_files(to: Path) -> set[str]:
    """What an earlier build wrote into `to` (nothing for a new or empty folder); a BenchError for a folder bench
    did not make."""
    if to.exists() and not to.is_dir():
        raise BenchError(f"--to {to} is a file; choose a folder for the site")
    manifest = to / MANIFEST
    if manifest.is_file():
        return {line for line in manifest.read_text().splitlines() if line}
    if to.is_dir() and any(to.iterdir()):
        raise BenchError(f"--to {to} is not empty and holds no site written by `bench site` (no {MANIFEST}); "
                         "choose a new or empty folder")
    return set()


def _write(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    atomic_write(path, lambda temp: temp.write_bytes(data))


def _remove(to: Path, relative: str) -> None:
    """Delete a file the previous build wrote and this one did not, and the folders it leaves empty."""
    path = (to / relative).resolve()
    if to.resolve() not in path.parents:  # a manifest edited by hand must not reach outside the site
        return
    path.unlink(missing_ok=True)
    for folder in path.parents:
        if folder == to.resolve() or any(folder.iterdir()):
            break
        folder.rmdir()


def write_site(runs: Path | Sequence[Path], to: Path, reported_path: Path | None = None) -> Path:
    """Write the site under `to`; the path of its index.html. The papers' numbers come from `reported_path`, else
    from the copy bench ships."""
    to = Path(to)
    previous = _previous_files(to)
    files = site_files(runs, reported_path)
    for relative, data in files.items():
        _write(to / relative, data)
    for relative in sorted(previous - set(files)):
        _remove(to, relative)
    _write(to / MANIFEST, "".join(f"{name}\n" for name in sorted(files)).encode())
    return to / "index.html"
