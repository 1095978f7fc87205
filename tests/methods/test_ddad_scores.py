"""DDAD's score formulas against hand computation on fixed tensors (the authors' test.py `evaluate` and
`evaluate_r`), its losses against numbers measured on the authors' `models/losses.py` (run unchanged in a scratch
folder outside this repository, CPU), and the ASR-Net's synthetic patch anomalies against the authors'
`SelfAnomalyDataset.generate_anomaly` rules."""

from __future__ import annotations

import pytest
import torch

from bench.methods.ddad.discrepancy import anomaly_probability, discrepancies, image_scores, refine_input
from bench.methods.ddad.losses import attention_entropy, focal_loss
from bench.methods.ddad.networks import Reconstruction
from bench.methods.ddad.synthetic import other_indices, patch_anomalies, patch_bounds

# FocalLoss()(softmax(randn(2, 2, 4, 4)), rand(2, 4, 4) > 0.5) and EntropyLossEncap()(softmax(randn(5, 25))), one
# generator seeded 3 drawing the three tensors in that order; measured on the official modules.
OFFICIAL_FOCAL_FIXED = 0.29415565729141235
OFFICIAL_ENTROPY_FIXED = 2.5969643592834473


def test_focal_loss_and_entropy_match_the_official_losses():
    generator = torch.Generator().manual_seed(3)
    p = torch.softmax(torch.randn(2, 2, 4, 4, generator=generator), dim=1)
    target = (torch.rand(2, 4, 4, generator=generator) > 0.5).long()
    attention = torch.softmax(torch.randn(5, 25, generator=generator), dim=1)
    assert focal_loss(p, target).item() == pytest.approx(OFFICIAL_FOCAL_FIXED, rel=1e-6)
    assert attention_entropy(attention).item() == pytest.approx(OFFICIAL_ENTROPY_FIXED, rel=1e-6)


def test_focal_loss_by_hand_on_one_pixel():
    # p = (0.2, 0.8), target 1: one-hot clamped to (1e-5, 1 - 1e-5); p_t = 0.8 (1 - 1e-5) + 0.2e-5 + 1e-5
    p = torch.tensor([0.2, 0.8]).view(1, 2, 1, 1)
    pt = 0.8 * (1 - 1e-5) + 0.2 * 1e-5 + 1e-5
    expected = -((1 - pt) ** 2) * torch.log(torch.tensor(pt, dtype=torch.float64)).item()
    assert focal_loss(p, torch.ones(1, 1, 1, dtype=torch.long)).item() == pytest.approx(expected, rel=1e-5)


def maps_of(backbone_logvar: bool):
    x = torch.tensor([[[[0.5, -1.0]]]])  # one image, 1 x 1 x 2
    udm = [Reconstruction(torch.tensor([[[[0.0, 0.0]]]])), Reconstruction(torch.tensor([[[[1.0, -1.0]]]]))]
    ndm_means = [torch.tensor([[[[0.0, 1.0]]]]), torch.tensor([[[[0.2, 1.0]]]]), torch.tensor([[[[0.4, -2.0]]]])]
    logvars = [torch.log(torch.tensor([[[[v, 4.0]]]])) for v in (1.0, 2.0, 3.0)] if backbone_logvar else [None] * 3
    ndm = [Reconstruction(m, lv) for m, lv in zip(ndm_means, logvars, strict=True)]
    return x, discrepancies(x, udm, ndm)


def test_rec_intra_inter_by_hand():
    x, maps = maps_of(backbone_logvar=False)
    # mu_B = (0.2, 0); mu_A = (0.5, -0.5); unbiased std of the NDM's (0, 0.2, 0.4) = 0.2, of (1, 1, -2) = sqrt(3)
    torch.testing.assert_close(maps.rec.flatten(), torch.tensor([0.3 ** 2, 1.0]))
    torch.testing.assert_close(maps.intra.flatten(), torch.tensor([0.2, 3 ** 0.5]))
    torch.testing.assert_close(maps.inter.flatten(), torch.tensor([0.3, 0.5]))
    torch.testing.assert_close(image_scores(maps.inter), torch.tensor([0.4]))


def test_ae_u_divides_by_the_ndm_predicted_variance():
    _, plain = maps_of(backbone_logvar=False)
    _, scaled = maps_of(backbone_logvar=True)
    var = torch.tensor([2.0, 4.0])  # mean of exp(logvar) over the NDM: (1 + 2 + 3) / 3, 4
    torch.testing.assert_close(scaled.rec.flatten(), plain.rec.flatten() / var)
    torch.testing.assert_close(scaled.intra.flatten(), plain.intra.flatten() / var.sqrt())
    torch.testing.assert_close(scaled.inter.flatten(), plain.inter.flatten() / var.sqrt())


def test_refined_inputs_and_probability():
    _, maps = maps_of(backbone_logvar=False)
    torch.testing.assert_close(refine_input(maps, "r-dual"), torch.cat([maps.inter, maps.intra], dim=1))
    torch.testing.assert_close(refine_input(maps, "r-intra"), maps.intra)
    logits = torch.tensor([0.0, 1.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(anomaly_probability(logits).flatten(), torch.sigmoid(torch.tensor([1.0])))


def test_patch_bounds_are_the_authors_at_64_px():
    # centre in randint(6.4, 57.6) -> [6, 57); half-width in randint(round(3.2), round(12.8)) -> [3, 13)
    assert patch_bounds(64, 64) == ((6, 57), (6, 57), 3, 13)


def test_patch_anomalies_blend_one_square_from_another_image():
    generator = torch.Generator().manual_seed(0)
    n = 400
    images, sources = torch.zeros(n, 1, 64, 64), torch.ones(n, 1, 64, 64)
    mixed, masks = patch_anomalies(images, sources, generator, probability=0.5)
    has_patch = masks.flatten(1).any(dim=1)
    assert 0.4 < has_patch.float().mean() < 0.6
    for i in torch.nonzero(has_patch).flatten()[:50].tolist():
        rows, cols = torch.nonzero(masks[i], as_tuple=True)
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert masks[i].sum() == height * width  # one axis-aligned rectangle, wholly labelled
        assert height <= 24 and width <= 24
        alpha = mixed[i, 0][masks[i].bool()]
        assert torch.all(alpha == alpha[0]) and 0 < alpha[0] < 1  # x (1 - a) + src a, one a per patch
        assert mixed[i, 0][~masks[i].bool()].abs().max() == 0
    assert torch.equal(mixed[~has_patch], images[~has_patch])


def test_sources_are_other_images():
    own = torch.arange(10).repeat(50)
    others = other_indices(own, 10, torch.Generator().manual_seed(0))
    assert (others != own).all() and set(others.tolist()) == set(range(10))
