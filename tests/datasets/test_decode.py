"""Decoding real files: a chest CR and a fundus photograph shipped by pydicom-data and scikit-image, and tiny
DICOM files written with pydicom in every transfer syntax we can encode."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import HTJ2KLossless

from bench.core.errors import DataError
from bench.data.decode import is_dicom, load_image, read_image
from tests.datasets.fake_trees import DICOM_SYNTAXES, ramp, write_dicom, write_jpeg, write_png

SIZE = 32


def chest_cr(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom-data does not hold {name}")
    return str(path)


def test_real_monochrome1_chest_radiograph_shows_lungs_darker_than_the_mediastinum():
    image = read_image(chest_cr("RG1_UNCR.dcm")).astype(float)  # CR, MONOCHROME1, 15-bit, with a window
    height, width = image.shape
    rows = slice(int(0.3 * height), int(0.5 * height))
    lungs = (image[rows, int(0.2 * width):int(0.35 * width)].mean() +
             image[rows, int(0.65 * width):int(0.8 * width)].mean()) / 2
    mediastinum = image[rows, int(0.46 * width):int(0.54 * width)].mean()
    assert image.min() == 0 and image.max() == 255
    assert mediastinum - lungs > 50, "a MONOCHROME1 radiograph decoded without inversion shows white lungs"


def test_real_jpeg2000_lossless_radiograph_decodes_to_the_same_pixels_as_its_uncompressed_copy():
    np.testing.assert_array_equal(read_image(chest_cr("RG1_J2KR.dcm")), read_image(chest_cr("RG1_UNCR.dcm")))


def test_real_fundus_photograph_keeps_its_colours(tmp_path):
    from skimage.data import retina

    photo = retina()
    path = write_jpeg(tmp_path / "retina.jpg", photo)
    colour = load_image(path, SIZE, 3)
    gray = load_image(path, SIZE, 1)
    assert colour.shape == (3, SIZE, SIZE) and gray.shape == (1, SIZE, SIZE)
    red, green, blue = (colour[c].astype(float).mean() for c in range(3))
    assert red > green > blue, "a fundus photograph is red-dominant; channels must stay in RGB order"


def test_monochrome1_is_inverted_so_low_values_show_white(tmp_path):
    pixels = ramp(SIZE, high=4095, dtype=np.uint16)
    mono2 = read_image(write_dicom(tmp_path / "m2.dcm", pixels, bits_stored=12))
    mono1 = read_image(write_dicom(tmp_path / "m1.dcm", pixels, bits_stored=12, photometric="MONOCHROME1"))
    assert mono2[:, 0].max() == 0 and mono2[:, -1].min() == 255
    np.testing.assert_array_equal(mono1, 255 - mono2)


def test_rescale_is_applied_before_the_window(tmp_path):
    stored = np.tile(np.linspace(0, 1000, SIZE), (SIZE, 1)).round().astype(np.uint16)
    # stored 0..1000 -> HU -1024..-24; the window -524 +- 100 shows stored 400..600 only
    path = write_dicom(tmp_path / "ct.dcm", stored, bits_stored=12, rescale=(1.0, -1024.0), window=(-524.0, 200.0))
    image = read_image(path)
    below, above, inside = stored[0] < 390, stored[0] > 610, (stored[0] > 420) & (stored[0] < 580)
    assert (image[:, below] == 0).all() and (image[:, above] == 255).all()
    middle = image[0, inside].astype(int)
    assert (np.diff(middle) >= 0).all() and middle.min() > 0 and middle.max() < 255


def test_a_malformed_window_falls_back_to_the_full_range(tmp_path):
    pixels = ramp(SIZE, high=4095, dtype=np.uint16)
    image = read_image(write_dicom(tmp_path / "w.dcm", pixels, bits_stored=12, window=(2048.0, 0.0)))
    np.testing.assert_array_equal(image, read_image(write_dicom(tmp_path / "plain.dcm", pixels, bits_stored=12)))


@pytest.mark.parametrize("syntax", [s for s in DICOM_SYNTAXES if s != "explicit"])
def test_every_supported_transfer_syntax_decodes_like_the_uncompressed_file(tmp_path, syntax):
    lossy = syntax == "jpeg-baseline"  # 8-bit only, and lossy
    pixels = ramp(SIZE) if lossy else ramp(SIZE, high=4095, dtype=np.uint16)
    bits = None if lossy else 12
    reference = read_image(write_dicom(tmp_path / "plain.dcm", pixels, bits_stored=bits))
    decoded = read_image(write_dicom(tmp_path / f"{syntax}.dcm", pixels, bits_stored=bits, syntax=syntax,
                                     photometric="MONOCHROME1"))
    difference = np.abs(decoded.astype(int) - (255 - reference.astype(int)))
    assert difference.max() <= (12 if lossy else 0)


def test_a_transfer_syntax_without_an_installed_decoder_is_named_with_the_file(tmp_path):
    from pydicom.pixels import get_decoder

    if get_decoder(HTJ2KLossless).is_available:
        pytest.skip("an HTJ2K decoder is installed here")
    path = write_dicom(tmp_path / "htj2k.dcm", ramp(SIZE, high=4095, dtype=np.uint16), bits_stored=12,
                       syntax="jpeg2000")
    import pydicom

    dataset = pydicom.dcmread(path)
    dataset.file_meta.TransferSyntaxUID = HTJ2KLossless
    dataset.save_as(path)
    with pytest.raises(DataError, match="htj2k.dcm") as error:
        read_image(path)
    assert "High-Throughput JPEG 2000" in str(error.value) and "pip install" in str(error.value)


def test_dicom_files_are_recognised_without_the_dcm_suffix(tmp_path):
    path = write_dicom(tmp_path / "1.2.840.99", ramp(SIZE))
    assert is_dicom(path) and not is_dicom(write_png(tmp_path / "x.png", ramp(SIZE)))
    assert read_image(path).shape == (SIZE, SIZE)


def test_a_dicom_file_without_pixel_data_is_named(tmp_path):
    import pydicom

    path = write_dicom(tmp_path / "report.dcm", ramp(SIZE))
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    with pytest.raises(DataError, match="report.dcm is a DICOM file without pixel data"):
        read_image(path)


def test_sixteen_bit_png_exports_are_scaled_by_their_bit_depth(tmp_path):
    """One rule for every image (issue 28): 16-bit values scale by 255/65535, never stretched per image."""
    full = read_image(write_png(tmp_path / "x16.png", ramp(SIZE, high=65535, dtype=np.uint16)))
    assert full.dtype == np.uint8 and full[:, 0].max() == 0 and full[:, -1].min() == 255
    twelve_bit = read_image(write_png(tmp_path / "x12.png", ramp(SIZE, high=4095, dtype=np.uint16)))
    assert twelve_bit[:, -1].min() == 16, "4095 * 255 / 65535 rounds to 16"
