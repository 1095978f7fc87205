"""FPI-style pseudo-anomalies: box geometry ranges from the paper (methods/sagan/README.md), blending, sources."""

from __future__ import annotations

import torch

from bench.methods.sagan.pseudo_anomaly import derangement, make_pseudo_anomalies, other_indices


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


def test_given_sources_are_blended_in_image_by_image():
    x, sources = normals(6, seed=4), normals(6, seed=5)
    made = make_pseudo_anomalies(x, torch.Generator().manual_seed(6), sources=sources)
    assert made.sources is None
    alpha = made.alphas[:, None, None, None]
    expected = (1 - alpha * made.boxes) * x + alpha * made.boxes * sources
    torch.testing.assert_close(made.images, expected)


def test_other_indices_never_pick_the_image_itself_and_reach_every_other_one():
    own = torch.arange(10).repeat(200)
    drawn = other_indices(own, 10, torch.Generator().manual_seed(7))
    assert not (drawn == own).any()
    for i in range(10):
        assert set(drawn[own == i].tolist()) == set(range(10)) - {i}


def test_other_indices_of_images_from_outside_the_set_reach_every_image():
    drawn = other_indices(torch.full((500,), -1), 10, torch.Generator().manual_seed(8))
    assert set(drawn.tolist()) == set(range(10))
