"""FPI-style pseudo-anomalies: box geometry ranges from METHODS.md, blending, sources."""

from __future__ import annotations

import torch

from bench.methods.sagan.pseudo_anomaly import derangement, make_pseudo_anomalies


def normals(n: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_box_centres_and_half_widths_span_the_ranges_at_64_px():
    made = make_pseudo_anomalies(normals(2000), torch.Generator().manual_seed(0))
    # centre in [0.2 * 64, 0.8 * 64) = [12.8, 51.2) -> whole pixels 12..51; half-width [3.2, 12.8) -> 3..12
    assert made.centres.min() == 12 and made.centres.max() == 51
    assert made.half_widths.min() == 3 and made.half_widths.max() == 12
    assert made.alphas.min() >= 0 and made.alphas.max() < 1


def test_boxes_are_squares_of_twice_the_half_width_inside_the_image():
    made = make_pseudo_anomalies(normals(500), torch.Generator().manual_seed(1))
    areas = made.boxes.sum(dim=(1, 2, 3))
    assert torch.equal(areas, (2 * made.half_widths).pow(2).float())
    rows = made.boxes.amax(dim=(1, 3))
    first_row = rows.argmax(dim=1)
    assert torch.equal(first_row, made.centres[:, 0] - made.half_widths)


def test_pseudo_anomaly_blends_the_source_inside_the_box_only():
    x = normals(8)
    made = make_pseudo_anomalies(x, torch.Generator().manual_seed(2))
    outside = made.boxes == 0
    assert torch.equal(made.images[outside], x[outside])
    alpha = made.alphas[:, None, None, None]
    expected = (1 - alpha) * x + alpha * x[made.sources]
    inside = ~outside
    torch.testing.assert_close(made.images[inside], expected[inside])


def test_each_image_takes_another_image_as_source():
    for seed in range(20):
        sources = derangement(7, torch.device("cpu"), torch.Generator().manual_seed(seed))
        assert sorted(sources.tolist()) == list(range(7))
        assert (sources != torch.arange(7)).all()


def test_same_generator_seed_gives_the_same_pseudo_anomalies():
    x = normals(16)
    a = make_pseudo_anomalies(x, torch.Generator().manual_seed(3)).images
    b = make_pseudo_anomalies(x, torch.Generator().manual_seed(3)).images
    assert torch.equal(a, b)
