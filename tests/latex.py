"""`pdflatex`: compile generated LaTeX with the real pdflatex (Debian texlive; `make test` installs it when
missing); shared by the report, statistics and sweep tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def pdflatex(tex: str, folder: Path, name: str = "table") -> Path:
    """Compile `tex` in `folder`; fail with the log's errors (or a clear message when pdflatex is missing)."""
    if shutil.which("pdflatex") is None:
        pytest.fail("pdflatex is not installed: `make test` installs Debian's texlive-latex-base and "
                    "texlive-latex-recommended (apt-get); install them to run these tests", pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.tex").write_text(tex)
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                             f"{name}.tex"], cwd=folder, capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0, f"pdflatex failed: {errors or result.stdout[-2000:]}"
    pdf = folder / f"{name}.pdf"
    assert pdf.is_file() and pdf.stat().st_size > 1000
    return pdf
