"""The adapter returns anomalib's own scores and maps: the same images written as PNG files and predicted by
anomalib's Engine (its file reader, its pre-processing callback, its predict step) give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core import registry
from bench.core.images import TrainData

NAMES = ["padim", "patchcore", "ganomaly"]


def anomalib_predictions(module, folder, tmp_path) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores and maps from anomalib's own predict path, in file-name order."""
    from anomalib.data import PredictDataset
    from anomalib.engine import Engine

    dataset = PredictDataset(folder)  # no transform: read_image only, the model's pre-processor does the rest
    loader = torch.utils.data.DataLoader(dataset, batch_size=5, collate_fn=dataset.collate_fn)
    engine = Engine(default_root_dir=tmp_path / "engine", logger=False, accelerator="cpu", devices=1,
                    enable_progress_bar=False)
    batches = engine.predict(model=module, dataloaders=loader)
    paths = [p for batch in batches for p in batch.image_path]
    order = np.argsort(paths)
    scores = torch.cat([b.pred_score.reshape(-1) for b in batches]).numpy()[order]
    if batches[0].anomaly_map is None:
        return scores, None
    maps = torch.cat([b.anomaly_map.reshape(len(b.pred_score), *b.anomaly_map.shape[-2:]) for b in batches])
    return scores, maps.numpy()[order]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_scores_and_maps_equal_anomalibs_own_predict(name, tiny_data, tmp_path):
    detector = registry.get_method(name).from_preset("smoke", seed=0, device="cpu", workdir=tmp_path / "run")
    detector.fit(TrainData(tiny_data.split("train_normal")))
    test = tiny_data.split("test")
    folder = tmp_path / "png"
    folder.mkdir()
    for index, image in enumerate(test.images):
        Image.fromarray(image[0]).save(folder / f"{index:03d}.png")  # grayscale, as a data set would hold it

    ours = detector.score(test)
    theirs, their_maps = anomalib_predictions(detector.module_, folder, tmp_path)

    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    our_maps = detector.anomaly_maps(test)
    assert (our_maps is None) == (their_maps is None)
    if our_maps is not None:
        np.testing.assert_allclose(our_maps, their_maps, rtol=1e-5, atol=1e-6)


def test_grayscale_is_replicated_to_rgb_as_anomalib_reads_files(tiny_data, tmp_path):
    from anomalib.data.utils import read_image

    from bench.methods.anomalib_models.data import as_anomalib_images

    image = tiny_data.split("test").images[:1]
    Image.fromarray(image[0, 0]).save(tmp_path / "x.png")
    expected = read_image(tmp_path / "x.png", as_tensor=True)
    converted = as_anomalib_images(image)[0]
    assert converted.shape == (3, *image.shape[-2:])
    assert torch.equal(converted, expected)
