"""The pixels of one image file as a data set asks for them: bench's decoding (bench.data.decode: crop or squash,
resize) or DDAD's own pixel path (bench.data.ddad_pixels, `square="ddad"`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core.errors import DataError
from bench.data.ddad_pixels import load_ddad
from bench.data.decode import load_image


def load_pixels(path: Path, size: int, channels: int, *, crop_top: float = 0.0, square: str = "crop") -> np.ndarray:
    """(C, size, size) uint8 of one file; `square`: `crop`, `squash` or `ddad` (DDAD's path: no crop)."""
    if square == "ddad":
        return load_ddad(path, size, channels)
    return load_image(path, size, channels, crop_top=crop_top, square=square)


def decode_task(task: tuple[str, int, int, float, str]) -> tuple[np.ndarray | None, str | None]:
    """`load_pixels` for a worker process: (path, size, channels, crop_top, square) -> (image, None), or (None, the
    DataError's message) for an unreadable file, so one bad file does not stop the others."""
    path, size, channels, crop_top, square = task
    try:
        return load_pixels(Path(path), size, channels, crop_top=crop_top, square=square), None
    except DataError as exc:
        return None, str(exc)
