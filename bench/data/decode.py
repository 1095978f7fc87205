"""Decoding image files to uint8 arrays: Pillow for PNG/JPEG, pydicom for DICOM; then a centre square crop and
resize to the protocol's size.

DICOM, as a radiologist would see it: modality LUT (rescale slope/intercept), VOI LUT or window where the file
has one, min-max to uint8, MONOCHROME1 inverted. Compressed transfer syntaxes are decoded by whichever
pydicom plugin is installed: RLE natively, JPEG baseline and JPEG 2000 by Pillow, JPEG Lossless, JPEG-LS and
12-bit JPEG by python-gdcm. A file that cannot be decoded raises DataError naming it and what is missing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from PIL import Image

from bench.core.errors import DataError

DICOM_SUFFIXES = {".dcm", ".dicom"}
PLAIN_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
DECODER_HINT = ("install python-gdcm (`pip install python-gdcm`) or pylibjpeg with its plugins "
                "(`pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg`)")


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Min-max scale any numeric array to uint8 (a constant image becomes zeros)."""
    pixels = pixels.astype(np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    if high <= low:
        return np.zeros(pixels.shape, dtype=np.uint8)
    return np.round((pixels - low) / (high - low) * 255.0).astype(np.uint8)


def is_dicom(path: Path) -> bool:
    """A `.dcm`/`.dicom` file, or any file without a plain image suffix that carries the DICM magic bytes."""
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        return True
    if suffix in PLAIN_IMAGE_SUFFIXES:
        return False
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _check_decoder(dataset, path: Path) -> None:
    """Raise a DataError naming the file when its transfer syntax has no installed decoder."""
    from pydicom.pixels import get_decoder

    syntax = dataset.file_meta.get("TransferSyntaxUID")
    if syntax is None or not syntax.is_transfer_syntax or not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise DataError(f"cannot decode {path}: pydicom has no decoder for its transfer syntax "
                        f"{syntax.name} ({syntax}); convert the file (e.g. with gdcmconv --raw)") from None
    if not decoder.is_available:
        raise DataError(f"cannot decode {path}: its transfer syntax {syntax.name} needs a decoder that is "
                        f"not installed; {DECODER_HINT}")


def _windowed(pixels: np.ndarray, dataset) -> np.ndarray:
    """Modality LUT (rescale slope/intercept), then the first VOI LUT or window where the file has one."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    pixels = apply_modality_lut(pixels, dataset)
    if "VOILUTSequence" in dataset or ("WindowCenter" in dataset and "WindowWidth" in dataset):
        # a malformed window (e.g. width 0) is ignored: the full range is shown instead
        with contextlib.suppress(ValueError, TypeError, IndexError):
            pixels = apply_voi_lut(pixels, dataset, index=0)
    return pixels


def read_dicom(path: Path) -> np.ndarray:
    """A DICOM file as a 2-D (grayscale) or (H, W, 3) uint8 array, displayed as a radiologist would see it."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
    except InvalidDicomError:
        dataset = pydicom.dcmread(path, force=True)  # written without the 128-byte preamble and DICM prefix
    if "PixelData" not in dataset:
        raise DataError(f"{path} is a DICOM file without pixel data (not an image)")
    _check_decoder(dataset, path)
    pixels = dataset.pixel_array
    samples = int(getattr(dataset, "SamplesPerPixel", 1))
    if int(getattr(dataset, "NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]  # multi-frame: the first frame
    if samples == 3:  # colour (pydicom converts YBR to RGB)
        return pixels if pixels.dtype == np.uint8 else to_uint8(pixels)
    image = to_uint8(_windowed(pixels, dataset))
    if str(getattr(dataset, "PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        image = 255 - image  # MONOCHROME1 shows low values as white
    return image


def read_image(path: Path) -> np.ndarray:
    """A file as uint8, (H, W) or (H, W, 3); an unreadable file raises DataError naming it."""
    path = Path(path)
    try:
        if is_dicom(path):
            return read_dicom(path)
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return to_uint8(np.asarray(image))
            colour = image.mode in ("RGB", "RGBA", "P", "CMYK", "YCbCr")
            return np.asarray(image.convert("RGB" if colour else "L"))
    except FileNotFoundError:
        raise DataError(f"missing image file: {path}") from None
    except DataError:
        raise
    except Exception as exc:  # any decoder failure is a corrupt file from the user's point of view
        raise DataError(f"cannot read image {path}: {type(exc).__name__}: {exc}") from exc


def centre_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of `image`."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return image[top : top + side, left : left + side]


def crop_window(height: int, width: int, *, crop_top: float = 0.0, square: str = "crop") -> tuple[int, int, int, int]:
    """(top, left, rows, columns) of the part of a `height` x `width` image that `load_image` keeps before resizing:
    the top `crop_top` fraction of rows dropped, then (`crop`) the centre square of the rest, or (`squash`) all of it.
    Localisation ground truth follows the images through the same window (bench.data.masks)."""
    if square not in ("crop", "squash", "ddad"):  # ddad: DDAD's pixel path (bench.data.ddad_pixels), squashed
        raise ValueError(f"square must be crop or squash (or ddad, DDAD's pixel path), got {square!r}")
    top = int(round(height * crop_top)) if crop_top > 0 else 0
    rows, left, columns = height - top, 0, width
    if square == "crop":
        side = min(rows, columns)
        top, left = top + (rows - side) // 2, (columns - side) // 2
        rows = columns = side
    return top, left, rows, columns


def image_shape(path: Path) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    try:
        if is_dicom(path):
            import pydicom

            dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            return int(dataset.Rows), int(dataset.Columns)
        with Image.open(path) as image:
            return image.height, image.width
    except FileNotFoundError:
        raise DataError(f"missing image file: {path}") from None
    except Exception as exc:  # any header failure is a corrupt file from the user's point of view
        raise DataError(f"cannot read the size of image {path}: {type(exc).__name__}: {exc}") from exc


def load_image(path: Path, size: int, channels: int, *, crop_top: float = 0.0, square: str = "crop") -> np.ndarray:
    """Decode, optionally drop the top `crop_top` fraction of rows, make square (`crop`: the centre square;
    `squash`: resize the whole image, as DDAD's Med-AD preprocessing does), resize: (C, size, size) uint8.
    `ddad`: DDAD's own pixel path instead (bench.data.ddad_pixels; no crop)."""
    if square == "ddad":
        from bench.data.ddad_pixels import load_ddad

        return load_ddad(path, size, channels)
    image = read_image(path)
    top, left, rows, columns = crop_window(*image.shape[:2], crop_top=crop_top, square=square)
    image = image[top : top + rows, left : left + columns]
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


def decode_task(task: tuple[str, int, int, float, str]) -> tuple[np.ndarray | None, str | None]:
    """`load_image` for a worker process: (path, size, channels, crop_top, square) -> (image, None), or (None, the
    DataError's message) for an unreadable file, so one bad file does not stop the others."""
    path, size, channels, crop_top, square = task
    try:
        return load_image(Path(path), size, channels, crop_top=crop_top, square=square), None
    except DataError as exc:
        return None, str(exc)
