"""Tiny real image files and data-set trees for tests: DICOM written with pydicom (uncompressed and
compressed), PNG/JPEG written with Pillow, label files with the official columns.

Shared helpers (any data-set test may import them): `ramp`, `write_png`, `write_jpeg`, `write_dicom`.
Tree writers for RSNA, VinDr-CXR, LAG and the Med-AD format return the true label of every image id.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

DICOM_SYNTAXES = ("explicit", "implicit", "rle", "jpeg-baseline", "jpeg-lossless", "jpeg-ls", "jpeg2000")


def ramp(size: int = 32, *, seed: int = 0, rgb: bool = False, high: int = 255,
         dtype: type = np.uint8) -> np.ndarray:
    """A left-to-right ramp from 0 to `high` with a little seeded noise: never constant, easy to check after
    decoding (the left edge is dark, the right edge bright)."""
    rng = np.random.default_rng(seed)
    base = np.tile(np.linspace(0, high, size), (size, 1))
    noise = rng.normal(0, high * 0.01, (size, size))
    pixels = np.clip(np.round(base + noise), 0, high).astype(dtype)
    pixels[:, 0], pixels[:, -1] = 0, high
    if rgb:
        pixels = np.stack([pixels, pixels[:, ::-1], np.full_like(pixels, high // 2)], axis=-1)
    return pixels


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """A grayscale (H, W) or RGB (H, W, 3) uint8 array (or uint16 grayscale) as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def write_jpeg(path: Path, pixels: np.ndarray, quality: int = 95) -> Path:
    """A grayscale or RGB uint8 array as JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=quality)
    return path


def _encode(pixels: np.ndarray, syntax: str, bits_stored: int) -> tuple[str, bytes]:
    """(transfer syntax UID, one encoded frame) for the compressed syntaxes pydicom cannot write itself."""
    import io

    import imagecodecs
    from pydicom import uid

    if syntax == "jpeg-baseline":
        buffer = io.BytesIO()
        Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="JPEG", quality=95)
        return uid.JPEGBaseline8Bit, buffer.getvalue()
    if syntax == "jpeg-lossless":
        return uid.JPEGLossless, imagecodecs.ljpeg_encode(pixels, bitspersample=bits_stored)
    if syntax == "jpeg-ls":
        return uid.JPEGLSLossless, imagecodecs.jpegls_encode(pixels)
    if syntax == "jpeg2000":
        return uid.JPEG2000Lossless, imagecodecs.jpeg2k_encode(pixels, level=0, codecformat="J2K",
                                                                 bitspersample=bits_stored)
    raise ValueError(f"unknown DICOM syntax {syntax!r}; one of {', '.join(DICOM_SYNTAXES)}")


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    syntax: str = "explicit",
    bits_stored: int | None = None,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    patient_id: str = "anon",
) -> Path:
    """A real single-frame grayscale radiograph file. `window` = (centre, width), `rescale` = (slope,
    intercept); `syntax` is one of DICOM_SYNTAXES (rle is encoded by pydicom itself, the JPEG family by
    Pillow/imagecodecs)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import (
        ComputedRadiographyImageStorage,
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        RLELossless,
        generate_uid,
    )

    pixels = np.ascontiguousarray(pixels)
    bits_allocated = 8 if pixels.dtype == np.uint8 else 16
    bits_stored = bits_stored or bits_allocated
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if syntax == "implicit" else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient_id
    ds.Modality = "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
        ds.RescaleType = "US"
    ds.PixelData = pixels.tobytes()
    if syntax == "rle":
        ds.compress(RLELossless)
    elif syntax not in ("explicit", "implicit"):
        transfer_syntax, frame = _encode(pixels, syntax, bits_stored)
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        if syntax == "jpeg-baseline":
            ds.LossyImageCompression = "01"
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def fake_uuid(index: int) -> str:
    """A patient id shaped like RSNA's (a UUID), deterministic by index."""
    return f"{index:08x}-0000-4000-8000-{index:012x}"


RSNA_BOXES = ((4.0, 5.0, 8.0, 9.0), (18.0, 6.0, 7.0, 10.0))  # x, y, width, height in the DICOM's pixels


def paint_boxes(pixels: np.ndarray, boxes: list[tuple[float, float, float, float]], value: int) -> np.ndarray:
    """`pixels` with every (x_min, y_min, x_max, y_max) box filled with `value` (integer pixel edges)."""
    out = pixels.copy()
    for x0, y0, x1, y1 in boxes:
        out[int(y0) : int(y1), int(x0) : int(x1)] = value
    return out


def write_rsna_tree(root: Path, *, normal: int, opacity: int, other: int = 2, size: int = 32,
                    syntax: str = "jpeg-baseline", dark_with_bright_boxes: bool = False) -> dict[str, int]:
    """The Kaggle RSNA Pneumonia layout: stage_2_train_images/<patientId>.dcm (8-bit MONOCHROME2, JPEG
    baseline like the real files), stage_2_train_labels.csv (one row per box: RSNA_BOXES, the first or both)
    and stage_2_detailed_class_info.csv. With `dark_with_bright_boxes`, every image is black with its boxes
    white, so decoded pixels show where the boxes went. Returns {patientId: label} of the Normal (0) and Lung
    Opacity (1) patients."""
    labels, class_rows, box_rows = {}, [], []
    kinds = ["Normal"] * normal + ["Lung Opacity"] * opacity + ["No Lung Opacity / Not Normal"] * other
    for index, kind in enumerate(kinds):
        pid = fake_uuid(index)
        boxes = list(RSNA_BOXES[: 1 + index % 2]) if kind == "Lung Opacity" else []
        pixels = ramp(size, seed=index)
        if dark_with_bright_boxes:
            pixels = paint_boxes(np.zeros_like(pixels), [(x, y, x + w, y + h) for x, y, w, h in boxes], 255)
            pixels[-1, -1] = 1  # never constant
        write_dicom(root / "stage_2_train_images" / f"{pid}.dcm", pixels, syntax=syntax, patient_id=pid)
        if kind == "Lung Opacity":
            box_rows += [(pid, *box, 1) for box in boxes]
            class_rows += [(pid, kind)] * len(boxes)
            labels[pid] = 1
        else:
            box_rows.append((pid, None, None, None, None, 0))
            class_rows.append((pid, kind))
            if kind == "Normal":
                labels[pid] = 0
    pd.DataFrame(box_rows, columns=["patientId", "x", "y", "width", "height", "Target"]).to_csv(
        root / "stage_2_train_labels.csv", index=False)
    pd.DataFrame(class_rows, columns=["patientId", "class"]).to_csv(
        root / "stage_2_detailed_class_info.csv", index=False)
    return labels


VINDR_FINDINGS = ("Aortic enlargement", "Cardiomegaly", "Pleural thickening", "Pulmonary fibrosis")


VINDR_BOX = (3.0, 4.0, 20.0, 25.0)  # x_min, y_min, x_max, y_max


def write_vindr_tree(root: Path, *, normal: int, abnormal: int, size: int = 32, image_format: str = "dicom",
                     monochrome1_every: int = 3, height: int | None = None,
                     reader_boxes: tuple[tuple[float, float, float, float] | None, ...] | None = None
                     ) -> dict[str, int]:
    """The VinBigData Kaggle layout: train/<image_id>.dcm (12-bit; every `monochrome1_every`-th one
    MONOCHROME1) or train/<image_id>.png, and train.csv with three radiologists' rows per image (official
    columns). Images are `height` (default `size`) rows by `size` columns. An abnormal image has a finding
    (VINDR_BOX) from one radiologist, or with `reader_boxes`, from radiologist R1, R2, R3 the box at that
    position (None: "No finding"). Returns {image_id: label}."""
    labels, rows = {}, []
    height = height or size
    for index in range(normal + abnormal):
        image_id = f"{index:032x}"
        label = int(index >= normal)
        labels[image_id] = label
        if image_format == "dicom":
            pixels = np.resize(ramp(size, seed=index, high=4095, dtype=np.uint16), (height, size))
            mono1 = monochrome1_every and index % monochrome1_every == 0
            if mono1:
                pixels = 4095 - pixels
            write_dicom(root / "train" / f"{image_id}.dcm", pixels, bits_stored=12,
                        photometric="MONOCHROME1" if mono1 else "MONOCHROME2", patient_id=image_id)
        else:
            write_png(root / "train" / f"{image_id}.png", np.resize(ramp(size, seed=index), (height, size)))
        for rad in (1, 2, 3):
            box = reader_boxes[rad - 1] if reader_boxes is not None else (VINDR_BOX if rad == 1 + index % 3 else None)
            if label and box is not None:
                finding = VINDR_FINDINGS[index % len(VINDR_FINDINGS)]
                rows.append((image_id, finding, VINDR_FINDINGS.index(finding), f"R{rad}", *box))
            else:
                rows.append((image_id, "No finding", 14, f"R{rad}", None, None, None, None))
    columns = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]
    pd.DataFrame(rows, columns=columns).to_csv(root / "train.csv", index=False)
    return labels


def write_lag_tree(root: Path, *, negative: int, glaucoma: int, size: int = 32) -> dict[str, int]:
    """The released LAG layout: non_glaucoma/image/*.jpg and suspicious_glaucoma/image/*.jpg (RGB fundus
    JPEGs, numbered across both folders). Returns {image id (file stem): label}."""
    labels = {}
    for index in range(negative + glaucoma):
        label = int(index >= negative)
        folder = "suspicious_glaucoma" if label else "non_glaucoma"
        stem = f"{index + 1:04d}"
        write_jpeg(root / folder / "image" / f"{stem}.jpg", ramp(size, seed=index, rgb=True))
        labels[stem] = label
    return labels


MEDAD_KEYS = ("train/0", "train/unlabeled/0", "train/unlabeled/1", "test/0", "test/1")


def write_medad_tree(root: Path, counts: dict[str, int], *, size: int = 32, suffix: str = ".png",
                     rgb: bool = False) -> dict[str, int]:
    """A DDAD "Med-AD" tree: images/<name> plus data.json listing each split (keys as in MEDAD_KEYS).
    Returns {image id (file stem): label}."""
    lists: dict[str, list[str]] = {}
    labels, index = {}, 0
    for key in MEDAD_KEYS:
        names = []
        for _ in range(counts.get(key, 0)):
            stem = f"{index:05d}"
            pixels = ramp(size, seed=index, rgb=rgb)
            (write_png if suffix == ".png" else write_jpeg)(root / "images" / f"{stem}{suffix}", pixels)
            names.append(f"{stem}{suffix}")
            labels[stem] = int(key.endswith("1"))
            index += 1
        lists[key] = names
    data = {"train": {"0": lists["train/0"], "unlabeled": {"0": lists["train/unlabeled/0"],
                                                          "1": lists["train/unlabeled/1"]}},
            "test": {"0": lists["test/0"], "1": lists["test/1"]}}
    (root / "data.json").write_text(json.dumps(data))
    return labels
