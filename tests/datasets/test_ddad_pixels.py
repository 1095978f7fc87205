"""`--set data.preprocess=ddad`: DDAD's pixel path from the DICOMs, checked against DDAD's procedure on generated
DICOM files (8-bit, 12-bit, MONOCHROME1): preprocess_cxr.py (stored pixels, MONOCHROME1 as max - x, min-max
truncated to uint8 unless already uint8, bilinear to 512, saved as PNG) then anomaly_data.py's loader (PNG read as
L, bilinear to the target size). The reference below follows those two files step by step through a real PNG."""

from __future__ import annotations

import io
import json

import numpy as np
import pydicom
import pytest
from PIL import Image

from bench.data.ddad_pixels import ddad_png
from bench.data.decode import read_dicom
from bench.data.pixels import load_pixels
from tests.datasets.fake_trees import ramp, write_dicom
from tests.datasets.scaled_protocol import make, write_official

pytestmark = pytest.mark.usefixtures("clean_env")


def ddad_reference(path, size: int) -> np.ndarray:
    """DDAD's preprocess_cxr.py and loader, as those files do it."""
    dicom = pydicom.dcmread(path)
    img = dicom.pixel_array
    if dicom.PhotometricInterpretation == "MONOCHROME1":
        img = np.max(img) - img
    if img.dtype != np.uint8:
        img = ((img - np.min(img)) * 1.0 / (np.max(img) - np.min(img)) * 255).astype(np.uint8)
    png = io.BytesIO()
    Image.fromarray(img).convert("L").resize((512, 512), resample=Image.BILINEAR).save(png, format="PNG")
    png.seek(0)
    return np.asarray(Image.open(png).convert("L").resize((size, size), resample=Image.BILINEAR))


CASES = {
    "8-bit": dict(pixels=np.clip(ramp(40, seed=1)[:, :56 - 16].repeat(1, 0), 20, 200).astype(np.uint8)),
    "12-bit": dict(pixels=np.resize(ramp(56, seed=2, high=4095, dtype=np.uint16), (40, 56)), bits_stored=12),
    "12-bit MONOCHROME1": dict(pixels=np.resize(ramp(56, seed=3, high=4095, dtype=np.uint16), (40, 56)),
                               bits_stored=12, photometric="MONOCHROME1"),
    "12-bit, window and rescale ignored": dict(pixels=np.resize(ramp(48, seed=4, high=3000, dtype=np.uint16),
                                                                (48, 30)), bits_stored=12, window=(500, 400),
                                               rescale=(2.0, -1024.0)),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("size", [64, 32])
def test_ddad_path_equals_ddads_procedure(case, size, tmp_path):
    path = write_dicom(tmp_path / "x.dcm", **CASES[case])
    ours = load_pixels(path, size, 1, square="ddad")
    assert ours.shape == (1, size, size)
    np.testing.assert_array_equal(ours[0], ddad_reference(path, size))


def test_ddad_scaling_truncates_keeps_8_bit_as_is_and_inverts_monochrome1(tmp_path):
    pixels = np.zeros((512, 512), np.uint16)
    pixels[:, 256:] = 1650  # 1650 / 4095 * 255 = 102.75: DDAD truncates to 102; bench's display path rounds
    pixels[0, 0] = 4095
    path = write_dicom(tmp_path / "12.dcm", pixels, bits_stored=12)
    png = np.asarray(ddad_png(path))
    assert png[100, 300] == 102 and read_dicom(path)[100, 300] == 103
    inverted = np.asarray(ddad_png(write_dicom(tmp_path / "m1.dcm", pixels, bits_stored=12,
                                               photometric="MONOCHROME1")))
    assert inverted[100, 300] == 152 and inverted[100, 100] == 255  # (4095 - 1650) / 4095 * 255 = 152.25
    narrow = np.full((512, 512), 20, np.uint8)
    narrow[:, 256:] = 200
    kept = np.asarray(ddad_png(write_dicom(tmp_path / "8.dcm", narrow)))
    assert kept[5, 5] == 20 and kept[5, 300] == 200  # uint8 is not stretched (bench's path makes it 0 and 255)
    assert read_dicom(tmp_path / "8.dcm")[5, 5] == 0


def test_vindr_prepared_with_preprocess_ddad_holds_ddads_pixels_in_a_cache_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    write_official("vindr", tmp_path / "vindr")  # 12-bit DICOMs, every third MONOCHROME1
    ddad = make("vindr", tmp_path / "vindr", preprocess="ddad").prepare()
    for row, image in zip(ddad.manifest.itertuples(), ddad.images, strict=True):
        np.testing.assert_array_equal(image[0], ddad_reference(tmp_path / "vindr" / row.path, ddad.size))
    ours = make("vindr", tmp_path / "vindr").prepare()
    assert ours.split_id == ddad.split_id, "the pixel path does not change the split"
    assert ours.images_id != ddad.images_id, "another pixel path is other images: another run"
    assert make("vindr", tmp_path / "vindr", preprocess="ddad").prepare().images_id == ddad.images_id


def test_the_pixel_path_and_the_split_are_part_of_the_run_identity():
    from bench.runs.plan import plan

    ids = {plan(["pca"], "rsna", [0], "smoke", sets)[0].config_id
           for sets in ({}, {"data.preprocess": "ddad"}, {"data.split": "medad"},
                        {"data.split": "medad", "data.preprocess": "ddad"})}
    assert len(ids) == 4


def test_official_dicoms_with_preprocess_ddad_equal_ddads_own_pngs_read_the_same_way(tmp_path, monkeypatch):
    """DDAD's Med-AD tree made from the same DICOMs by its procedure (PNGs at 512 px, data.json listing the split
    the official download gave): both prepared with preprocess=ddad hold the same pixels for every image id."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    official, tree = tmp_path / "vindr", tmp_path / "medad"
    write_official("vindr", official)
    ours = make("vindr", official, preprocess="ddad").prepare()
    manifest = ours.manifest
    (tree / "images").mkdir(parents=True)
    for row in manifest.itertuples():
        dicom = pydicom.dcmread(official / row.path)
        img = dicom.pixel_array
        if dicom.PhotometricInterpretation == "MONOCHROME1":
            img = np.max(img) - img
        img = ((img - np.min(img)) * 1.0 / (np.max(img) - np.min(img)) * 255).astype(np.uint8)
        Image.fromarray(img).convert("L").resize((512, 512), resample=Image.BILINEAR).save(tree / "images" /
                                                                                         f"{row.id}.png")

    def listed(split, label):
        rows = manifest[(manifest["split"] == split) & (manifest["label"] == label)]
        return [f"{i}.png" for i in sorted(rows["id"])]
    pool_normal = listed("train_unlabeled", 0)
    data = {"train": {"0": listed("train_normal", 0), "unlabeled": {"0": pool_normal,
                                                                   "1": listed("train_unlabeled", 1)}},
            "test": {"0": listed("test", 0), "1": listed("test", 1)}}
    (tree / "data.json").write_text(json.dumps(data))
    sizes = {"pool_normal": len(pool_normal), "pool_abnormal": len(data["train"]["unlabeled"]["1"])}
    theirs = make("vindr", tree, preprocess="ddad", **sizes).prepare()
    assert theirs.split_id == ours.split_id
    mine = dict(zip(ours.manifest["id"], ours.images, strict=True))
    for image_id, image in zip(theirs.manifest["id"], theirs.images, strict=True):
        np.testing.assert_array_equal(image, mine[image_id], err_msg=image_id)
