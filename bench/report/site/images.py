"""The site's figures as PNG bytes, each with the alt text and caption its page prints.

Per configuration: ROC and PR curves (mean over seeds), score histograms per seed, the example maps of its first
seed, and the GAN loss curves of every seed whose run folder has losses.csv. Per data set: the overlays of
`bench plot` (figures.table_figures). PNGs carry no software version or date, so the same runs give the same bytes.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.report import curves, examples, plots
from bench.report.figures import table_figures
from bench.report.render import format_value
from bench.report.site.content import Configuration, DatasetContent, SeedRun

DPI = 144
PER_CLASS = 3  # normal and abnormal images each in an example grid
LOSSES_FILE = "losses.csv"


@dataclasses.dataclass(frozen=True)
class Image:
    """One figure of a page: its file name beside the page, PNG bytes, alt text and caption."""

    name: str
    data: bytes
    alt: str
    caption: str
    wide: bool = False  # spans the page's whole width (a figure with many panels)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, from the PNG header."""
        width, height = struct.unpack(">II", self.data[16:24])
        return int(width), int(height)


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes at the site's resolution (no Software key: the bytes do not change with versions)."""
    buffer = io.BytesIO()
    with plots.style():
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _losses(run: SeedRun) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """(iterations, {loss: values}) of a run's losses.csv; learning-rate columns left out; None without a file."""
    path = run.folder / LOSSES_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
        iterations = pd.to_numeric(frame["iteration"], errors="raise").to_numpy(float)
    except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        warnings.warn(f"{path}: unreadable loss log left out of the site ({type(exc).__name__})", stacklevel=2)
        return None
    losses = {str(c): pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in frame.columns
              if c != "iteration" and not str(c).startswith("lr")}
    return (iterations, losses) if len(iterations) and losses else None


def _loss_images(config: Configuration, where: str) -> list[Image]:
    images = []
    for run in config.runs:
        found = _losses(run)
        if found is None:
            continue
        iterations, losses = found
        with plots.style():
            figure = plots.loss_figure(iterations, losses, f"{config.entry}, seed {run.seed}")
        span = f"{int(iterations[0])} to {int(iterations[-1])}"
        images.append(Image(f"losses-seed{run.seed}.png", png(figure),
                            f"Training losses of {config.entry} on {where}, seed {run.seed}: {', '.join(losses)}, "
                            f"one panel each, against the iteration ({span}).",
                            f"GAN losses during training, seed {run.seed} (from {LOSSES_FILE}).", len(losses) > 2))
    return images


def configuration_images(config: Configuration, where: str) -> list[Image]:
    """Every figure of one configuration's page; `where` names the data set in alt texts."""
    scores = [curves.load_test_scores(run.folder) for run in config.runs]
    row, seeds = config.row, _seeds(len(config.runs))
    auc, ap = format_value(row["auc_mean"], row["auc_std"]), format_value(row["ap_mean"], row["ap_std"])
    spread = " (shaded: one standard deviation over seeds)" if len(scores) > 1 else ""
    with plots.style():
        roc = plots.roc_figure([curves.roc(config.entry, scores)], [auc])
        pr = plots.pr_figure([curves.precision_recall(config.entry, scores)], [ap], curves.prevalence(scores))
        histograms = plots.histogram_figure([
            (f"seed {run.seed}", s.loc[s["label"] == 0, "score"].to_numpy(), s.loc[s["label"] == 1, "score"].to_numpy())
            for run, s in zip(config.runs, scores, strict=True)])
    images = [
        Image("roc.png", png(roc), f"ROC curve of {config.entry} on {where}, mean over {seeds}{spread}; AUC {auc}.",
              f"ROC curve on the test split, mean over {seeds}."),
        Image("pr.png", png(pr), f"Precision-recall curve of {config.entry} on {where}, mean over {seeds}{spread}; "
              f"AP {ap}; the dotted line is the share of abnormal test images.",
              f"Precision-recall curve on the test split, mean over {seeds}."),
        Image("scores.png", png(histograms), f"Histograms of the test scores of {config.entry} on {where}, one panel "
              "per seed, normal images in blue, abnormal images hatched in orange.",
              "Anomaly scores of normal and abnormal test images, per seed."),
    ]
    first = config.runs[0]
    samples = examples.load_samples(config.entry, first.folder)
    if samples is not None:
        with plots.style():
            grid = examples.examples_figure([samples], PER_CLASS)
        images.append(Image("examples.png", png(grid), f"Example test images of {where} (up to {PER_CLASS} normal, "
                            f"then {PER_CLASS} abnormal, one per row) with the anomaly maps of {config.entry}, seed "
                            f"{first.seed}.", f"Example anomaly maps, seed {first.seed}."))
    return images + _loss_images(config, where)


def dataset_images(content: DatasetContent, where: str) -> list[Image]:
    """The comparison page's figures: every configuration's curves on one axes, histograms and example maps."""
    if content.table is None or not content.table.entries:
        return []
    with plots.style():
        figures = table_figures(content.table, content.frame, content.name, per_class=PER_CLASS)
    n = len(content.table.entries)
    texts = {
        "roc": (f"ROC curves of the {n} configurations on {where}, mean over each one's seeds, AUC in the legend.",
                "ROC curves on the test split."),
        "pr": (f"Precision-recall curves of the {n} configurations on {where}, AP in the legend.",
               "Precision-recall curves on the test split."),
        "scores": (f"Histograms of the test scores of normal and abnormal images on {where}, one panel per "
                   "configuration (its first seed).", "Anomaly scores per configuration."),
        "examples": (f"Example test images of {where} with each configuration's anomaly map (first seed).",
                     "Example anomaly maps."),
    }
    return [Image(f"{name}.png", png(figure), *texts[name]) for name, figure in figures.items()]
