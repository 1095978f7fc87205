"""DDAD's pixel path (`--set data.preprocess=ddad`): the pixels DDAD's models see, made from the original files.

DDAD (Cai et al., MedIA 2023; github.com/caiyu6666/DDAD-ASR) makes its Med-AD PNGs of RSNA and VinDr-CXR with
`data/preprocess_cxr.py` and reads them with `anomaly_data.py`. Reproduced here from those files (not copied):

1. the DICOM's stored pixels (`pixel_array`: no modality LUT, no window);
2. MONOCHROME1: `max - pixels` in the array's own dtype;
3. an array that is not uint8: `(pixels - min) * 1.0 / (max - min) * 255`, truncated to uint8 (astype, not
   rounded); a uint8 array is kept as it is;
4. Pillow, mode L, bilinear resize to 512 x 512 (the whole image, not a centre crop): DDAD's PNG;
5. the loader: `convert("L")` and Pillow's bilinear resize to the target size (no reducing_gap).

Files that are not DICOM (DDAD's own PNGs, LAG's JPEGs) take step 5 only. Departures: a constant image (max =
min, a division by zero in DDAD's script) becomes zeros; a multi-frame file gives its first frame; colour
(`channels=3`, LAG) converts to RGB where DDAD's loader converts every image to L.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.core.errors import DataError
from bench.data.decode import _check_decoder, decoding, is_dicom

PNG_SIZE = 512  # preprocess_cxr.py's img_size


def ddad_png(path: Path) -> Image.Image:
    """The image DDAD's preprocess_cxr.py would save for the DICOM file `path` (mode L, 512 x 512)."""
    import pydicom

    dataset = pydicom.dcmread(path, force=True)
    if "PixelData" not in dataset:
        raise DataError(f"{path} is a DICOM file without pixel data (not an image)")
    _check_decoder(dataset, path)
    pixels = dataset.pixel_array
    if int(getattr(dataset, "NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[0]
    if str(getattr(dataset, "PhotometricInterpretation", "")) == "MONOCHROME1":
        pixels = np.max(pixels) - pixels
    if pixels.dtype != np.uint8:
        low, high = np.min(pixels), np.max(pixels)
        if high == low:
            pixels = np.zeros(pixels.shape, dtype=np.uint8)
        else:
            pixels = ((pixels - low) * 1.0 / (high - low) * 255).astype(np.uint8)
    return Image.fromarray(pixels).convert("L").resize((PNG_SIZE, PNG_SIZE), resample=Image.Resampling.BILINEAR)


def load_ddad(path: Path, size: int, channels: int) -> np.ndarray:
    """(C, size, size) uint8 as DDAD's loader gives it: the DICOM through `ddad_png`, any other file as it is,
    then grayscale (or RGB for `channels=3`) and a bilinear resize to `size`."""
    path = Path(path)
    with decoding(path):
        if is_dicom(path):
            image = ddad_png(path)
        else:
            image = Image.open(path)
            image.load()
        image = image.convert("L" if channels == 1 else "RGB").resize((size, size), resample=Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
