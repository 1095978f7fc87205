"""The image cache decoded on worker processes holds the same bytes as the serial decode, reports unreadable files
the same way, and takes its worker count from the cores or $BENCH_DECODE_WORKERS. (Speed is measured by
`python -m benchmarks.decode`, not here.)"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.core.errors import DataError
from bench.data.cache import WORKERS_ENV, build_image_cache, decode_workers
from tests.cli_helpers import environment
from tests.datasets.fake_trees import ramp, write_dicom, write_png


def mixed_files(root: Path) -> list[Path]:
    """Every kind the cache decodes: 8-bit JPEG DICOM, 12-bit DICOM in both photometric interpretations, with a
    window, non-square, grayscale, 16-bit and RGB PNG."""
    files = [
        write_dicom(root / "a.dcm", ramp(96, seed=1), syntax="jpeg-baseline"),
        write_dicom(root / "b.dcm", np.resize(ramp(80, seed=2, high=4095, dtype=np.uint16), (100, 80)),
                    bits_stored=12, photometric="MONOCHROME1"),
        write_dicom(root / "c.dcm", ramp(64, seed=3, high=4095, dtype=np.uint16), bits_stored=12,
                    window=(2000.0, 1500.0)),
        write_png(root / "d.png", np.resize(ramp(90, seed=4), (70, 90))),
        write_png(root / "e.png", ramp(64, seed=5, high=65535, dtype=np.uint16)),
        write_png(root / "f.png", ramp(48, seed=6, rgb=True)),
    ]
    return files * 3  # enough rows that every worker gets several


def build(files: list[Path], target: Path, **kwargs) -> tuple[np.ndarray, str]:
    manifest = pd.DataFrame({"path": [str(p) for p in files]})
    cached = build_image_cache(manifest, target.parent, target, size=32, channels=1, **kwargs)
    return np.array(cached.images), cached.images_id


def test_processes_write_the_serial_decodes_bytes(tmp_path):
    files = mixed_files(tmp_path / "files")
    serial, serial_id = build(files, tmp_path / "serial", workers=1, processes=False)
    parallel, parallel_id = build(files, tmp_path / "processes", workers=2, processes=True)
    assert serial.shape == (len(files), 1, 32, 32) and serial.std() > 0
    assert np.array_equal(serial, parallel) and serial_id == parallel_id
    assert (tmp_path / "serial" / "images.npy").read_bytes() == (tmp_path / "processes" / "images.npy").read_bytes()


def test_processes_redecode_a_changed_file_as_the_serial_path_does(tmp_path):
    files = mixed_files(tmp_path / "files")
    build(files, tmp_path / "cache", workers=2, processes=True)
    write_png(files[3], np.resize(ramp(90, seed=40), (70, 90)))  # a changed file: decoded again
    os.utime(files[3], ns=(1, 1))
    again, _ = build(files, tmp_path / "cache", workers=2, processes=True)
    fresh, _ = build(files, tmp_path / "fresh", workers=1, processes=False)
    assert np.array_equal(again, fresh)


def test_processes_name_every_unreadable_file(tmp_path):
    files = mixed_files(tmp_path / "files")
    broken = tmp_path / "files" / "broken.dcm"
    broken.write_bytes(b"not a dicom file at all")
    messages = []
    for name, processes in (("serial", False), ("processes", True)):
        with pytest.raises(DataError) as caught:
            build([*files, broken, tmp_path / "missing.png"], tmp_path / name, workers=2, processes=processes)
        messages.append(str(caught.value))
        assert "2 of 20 images could not be read" in messages[-1]
        assert str(broken) in messages[-1] and "missing image file" in messages[-1]
    assert messages[0] == messages[1]


def test_worker_count_follows_the_cores_or_the_environment():
    with environment({WORKERS_ENV: ""}):
        assert decode_workers() == (os.cpu_count() or 1)
    with environment({WORKERS_ENV: "3"}):
        assert decode_workers() == 3
    for bad in ("0", "two"):
        with environment({WORKERS_ENV: bad}), pytest.raises(DataError, match=WORKERS_ENV):
            decode_workers()
