"""A forest plot per data set, drawn from the records as inline SVG (no script, no external file): one row per
method configuration that ran, its AUC (mean over seeds, a dot) with the 95% bootstrap CI of that mean (a bar),
and the paper's AUC for that method as a hollow diamond. Rows on an own split (reference_splits) say so in their
label, and the paper's diamond is drawn on them too, but grey: a mark to read, not a comparison."""

from __future__ import annotations

import math
from html import escape

from bench.report.reference_splits import OWN_SPLIT, split_status
from bench.report.site.content import DatasetContent

ROW, TOP, LEFT, RIGHT, WIDTH = 26, 30, 230, 20, 720


def _x(value: float, low: float, high: float) -> float:
    return LEFT + (value - low) / (high - low) * (WIDTH - LEFT - RIGHT)


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))


def forest_rows(content: DatasetContent) -> list[dict]:
    """Per configuration: label, AUC mean, CI (low, high) or None, the paper's AUC or None, its split status."""
    table, rows = content.table, []
    paper = {}
    for _, row in content.board.iterrows():
        if _finite(row.get("auc_reported")):
            paper.setdefault(str(row["method"]), float(row["auc_reported"]))
    for config in content.configurations:
        mean = config.row.get("auc_mean")
        if not _finite(mean):
            continue
        ci = None
        if table is not None and table.ci_low is not None and table.ci_high is not None:
            low = table.ci_low.loc[config.entry, (content.name, "auc")]
            high = table.ci_high.loc[config.entry, (content.name, "auc")]
            ci = (float(low), float(high)) if _finite(low) and _finite(high) else None
        rows.append({"label": config.entry, "mean": float(mean), "ci": ci, "paper": paper.get(config.method),
                     "status": split_status(content.name, config.row.get("split_id"))})
    return rows


def forest_svg(content: DatasetContent, label: str) -> str | None:
    """The data set's forest plot as an <svg> element, or None when no configuration has an AUC."""
    rows = forest_rows(content)
    if not rows:
        return None
    values = [v for r in rows for v in (r["mean"], *(r["ci"] or ()), r["paper"]) if v is not None]
    low, high = max(0.0, math.floor(min(values) * 10) / 10), min(1.0, math.ceil(max(values) * 10) / 10)
    if high - low < 0.2:
        low, high = max(0.0, high - 0.2), max(high, min(1.0, low + 0.2))
    height = TOP + ROW * len(rows) + 34
    title = f"{label}: AUC per configuration, 95% CI of the seed mean; diamonds: the paper's AUC"
    parts = [f'<svg class="forest" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'preserveAspectRatio="xMinYMin meet" aria-labelledby="forest-{content.slug}-title">',
             f'<title id="forest-{content.slug}-title">{escape(title)}</title>']
    ticks = [round(low + i * (high - low) / 4, 3) for i in range(5)]
    bottom = TOP + ROW * len(rows)
    for tick in ticks:
        x = _x(tick, low, high)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP - 8}" x2="{x:.1f}" y2="{bottom}"/>'
                     f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text class="axis" x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{bottom + 31}" '
                 'text-anchor="middle">AUC</text>')
    for i, row in enumerate(rows):
        y = TOP + ROW * i + ROW / 2
        own = row["status"] == OWN_SPLIT
        name = row["label"] + (" (own split)" if own else "")
        ci = row["ci"]
        described = f"{row['label']}: AUC {row['mean']:.3f}" + (f", 95% CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
        described += f"; paper {row['paper']:.3f}" if row["paper"] is not None else "; no paper value"
        parts.append(f'<g class="forest-row{" own-split" if own else ""}" data-entry="{escape(row["label"])}" '
                     f'data-auc="{row["mean"]:.6f}"><title>{escape(described)}</title>')
        parts.append(f'<text class="label" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(name)}</text>')
        if ci:
            parts.append(f'<line class="ci" x1="{_x(ci[0], low, high):.1f}" y1="{y:.1f}" '
                         f'x2="{_x(ci[1], low, high):.1f}" y2="{y:.1f}" data-low="{ci[0]:.6f}" '
                         f'data-high="{ci[1]:.6f}"/>')
        parts.append(f'<circle class="mean" cx="{_x(row["mean"], low, high):.1f}" cy="{y:.1f}" r="4.5"/>')
        if row["paper"] is not None:
            px = _x(row["paper"], low, high)
            parts.append(f'<path class="paper{" muted" if own else ""}" data-paper="{row["paper"]:.6f}" '
                         f'd="M{px:.1f},{y - 6:.1f} L{px + 6:.1f},{y:.1f} L{px:.1f},{y + 6:.1f} '
                         f'L{px - 6:.1f},{y:.1f} Z"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
