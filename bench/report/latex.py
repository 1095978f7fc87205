"""LaTeX tables through pandas Styler (booktabs rules), pastable into a paper that loads only booktabs.

Styler writes `\\multirow` for grouped row labels and `\\cline` between groups; neither belongs in a booktabs table
(and multirow is one more package), so grouped labels are printed once and groups are separated by `\\midrule`.
"""

from __future__ import annotations

import re

import pandas as pd

PREAMBLE = r"""\documentclass{article}
\usepackage[utf8]{inputenc}
\usepackage{booktabs}
\usepackage[paperwidth=%dpt,paperheight=%dpt,margin=1cm]{geometry}
\pagestyle{empty}
\begin{document}
"""

_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_MULTIROW = re.compile(r"\\multirow\[\w\]\{\d+\}\{\*\}\{((?:\\.|[^{}\\])*)\}")
_CLINE = re.compile(r"^\\cline\{[\d-]+\}\n", re.MULTILINE)


def escape_latex(text: str) -> str:
    """Escape LaTeX's special characters in plain text (captions, notes)."""
    return "".join(_LATEX_SPECIALS.get(char, char) for char in str(text))


def caption_latex(text: str) -> str:
    """A plain-text caption in LaTeX: escaped, with ± as $\\pm$."""
    return escape_latex(text).replace("±", r"$\pm$")


def _column_rules(frame: pd.DataFrame) -> str:
    """`\\cmidrule(lr){2-4}` under each spanning top-level column header (booktabs style)."""
    if frame.columns.nlevels < 2:
        return ""
    start, rules = frame.index.nlevels + 1, []  # callers with a hidden index have flat columns
    top = pd.Series(frame.columns.get_level_values(0))
    for _, group in top.groupby((top != top.shift()).cumsum(), sort=False):
        if group.iloc[0] != "":
            rules.append(rf"\cmidrule(lr){{{start}-{start + len(group) - 1}}}")
        start += len(group)
    return " ".join(rules)


def _booktabs_only(latex: str, frame: pd.DataFrame) -> str:
    latex = _MULTIROW.sub(r"\1", latex)
    latex = _CLINE.sub(r"\\midrule\n", latex).replace("\\midrule\n\\bottomrule", "\\bottomrule")
    rules = _column_rules(frame)
    if rules:
        lines = latex.split("\n")
        first = next(i for i, line in enumerate(lines) if r"\multicolumn" in line)
        lines.insert(first + 1, rules)
        latex = "\n".join(lines)
    return latex


def latex_table(frame: pd.DataFrame, marks: pd.DataFrame | None, caption_text: str, *, label: str,
                index: bool = True, text_columns: int = 0) -> str:
    """A `table` float with a booktabs tabular. Cells are taken as LaTeX (callers escape text cells with
    escape_latex); row and column labels and the caption are escaped here. Best \\textbf, second \\underline.
    Without `index`, the first `text_columns` columns are left-aligned."""
    styler = frame.style.format_index(escape="latex", axis=0).format_index(escape="latex", axis=1)
    if not index:
        styler = styler.hide(axis="index")
    if marks is not None:
        commands = {"best": "textbf:--rwrap;", "second": "underline:--rwrap;", "": ""}
        styler = styler.apply(lambda _: marks.replace(commands), axis=None)
    n_text = frame.index.nlevels if index else text_columns
    column_format = "l" * n_text + "c" * (len(frame.columns) - (0 if index else text_columns))
    latex = styler.to_latex(hrules=True, caption=caption_latex(caption_text), label=label, position="htbp",
                            position_float="centering", multicol_align="c", column_format=column_format,
                            clines="skip-last;data" if index and frame.index.nlevels > 1 else None)
    return _booktabs_only(latex, frame)


def estimate_width_pt(frame: pd.DataFrame) -> int:
    """A generous estimate of a table's printed width: characters per column at 10pt, plus column padding."""
    labels = [len(" ".join(map(str, c)) if isinstance(c, tuple) else str(c)) for c in frame.columns]
    widths = [max([n, *frame[c].astype(str).map(len)]) for n, c in zip(labels, frame.columns, strict=True)]
    index = max([len(" ".join(map(str, i)) if isinstance(i, tuple) else str(i)) for i in frame.index] or [0])
    return int(4.6 * (sum(widths) + index) + 12 * (len(widths) + frame.index.nlevels))


def standalone_document(body: str, *, width_pt: int = 0) -> str:
    """A complete article that pdflatex compiles (booktabs and geometry only), at least A4, wider when the
    widest table (`width_pt`, see estimate_width_pt) needs it."""
    paper_width = max(595, width_pt + 60)
    return PREAMBLE % (paper_width, 842) + body.rstrip("\n") + "\n\\end{document}\n"
