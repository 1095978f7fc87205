"""Decoding image files to uint8 arrays: Pillow for PNG/JPEG, pydicom for DICOM (modality LUT, VOI window,
MONOCHROME1 inversion); then a centre square crop and resize to the protocol's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import DataError

DICOM_SUFFIXES = {".dcm", ".dicom"}


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Min-max scale any numeric array to uint8 (a constant image becomes zeros)."""
    pixels = pixels.astype(np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    if high <= low:
        return np.zeros(pixels.shape, dtype=np.uint8)
    return np.round((pixels - low) / (high - low) * 255.0).astype(np.uint8)


def read_dicom(path: Path) -> np.ndarray:
    """A DICOM file as a 2-D (grayscale) or (H, W, 3) uint8 array, displayed as a radiologist would see it."""
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    dataset = pydicom.dcmread(path)
    pixels = dataset.pixel_array
    if pixels.ndim == 3 and getattr(dataset, "SamplesPerPixel", 1) == 1:
        pixels = pixels[0]  # multi-frame: the first frame
    if getattr(dataset, "SamplesPerPixel", 1) == 3:
        return to_uint8(pixels)
    pixels = apply_modality_lut(pixels, dataset)
    if "WindowCenter" in dataset or "VOILUTSequence" in dataset:
        pixels = apply_voi_lut(pixels, dataset)
    image = to_uint8(pixels)
    if str(getattr(dataset, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        image = 255 - image  # MONOCHROME1 shows low values as white
    return image


def read_image(path: Path) -> np.ndarray:
    """A file as uint8, (H, W) or (H, W, 3); an unreadable file raises DataError naming it."""
    path = Path(path)
    try:
        if path.suffix.lower() in DICOM_SUFFIXES:
            return read_dicom(path)
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I", "F"):
                return to_uint8(np.asarray(image))
            return np.asarray(image.convert("RGB" if image.mode in ("RGB", "RGBA", "P", "CMYK") else "L"))
    except FileNotFoundError:
        raise DataError(f"missing image file: {path}") from None
    except Exception as exc:  # any decoder failure is a corrupt file from the user's point of view
        raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from exc


def centre_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of `image`."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def load_image(path: Path, size: int, channels: int, *, crop_top: float = 0.0) -> np.ndarray:
    """Decode, optionally drop the top `crop_top` fraction of rows, centre-crop square, resize: (C, size, size) uint8."""
    image = read_image(path)
    if crop_top > 0:
        image = image[int(round(image.shape[0] * crop_top)) :]
    image = centre_square(image)
    mode = "L" if image.ndim == 2 else "RGB"
    pil = Image.fromarray(image, mode=mode)
    if channels == 1 and mode == "RGB":
        pil = pil.convert("L")
    elif channels == 3 and mode == "L":
        pil = pil.convert("RGB")
    if pil.size != (size, size):
        pil = pil.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    array = np.asarray(pil, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
