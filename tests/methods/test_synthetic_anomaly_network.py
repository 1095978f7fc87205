"""The ResNet-18 encoder-decoder against the official module (hmsch/natural-synthetic-anomalies `model/resnet.py`).

How the numbers were obtained: the official `resnet18_enc_dec(num_classes=1, pool=True, preact=False,
in_channels=1, final_activation='identity')` was built in a scratch folder outside this repository (torch 2.14.1,
CPU); every floating tensor of its state_dict, in sorted key order, was filled from torch.Generator seed 1 in
float64 (running_var: |x| + 0.5; weights x 0.1; biases and means x 0.05); a (2, 1, 64, 64) input from seed 2 in
float64, cast to float32; the outputs below are its eval-mode logits. Our module has the same state_dict keys, so
the same recipe applied to ours must give the same numbers.
"""

from __future__ import annotations

import torch

from bench.methods.synthetic_anomaly.networks import OFFICIAL_PARAMETERS, ResNetEncDec, count_parameters

OFFICIAL_MEAN, OFFICIAL_STD = -0.0101770656183362, 0.020679069682955742
OFFICIAL_GRID = [  # logits[0, 0, ::16, ::16]
    [-0.006321217864751816, -0.030593140050768852, -0.02993062138557434, -0.029260067269206047],
    [-0.01046862080693245, -0.03653351962566376, -0.03598335385322571, -0.03543050214648247],
    [-0.010960780084133148, -0.03721136599779129, -0.03655384108424187, -0.03587976098060608],
    [-0.011446632444858551, -0.03788963332772255, -0.037103697657585144, -0.03632514178752899]]
# logits[1, 0, 7, ::16]
OFFICIAL_ROW = [-0.007517891004681587, -0.01772414520382881, -0.017462074756622314, -0.01717384159564972]


def seeded_weights(network: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    state = network.state_dict()
    filled = {}
    for key in sorted(state):
        value = state[key]
        if not value.is_floating_point():
            filled[key] = value
            continue
        t = torch.randn(value.shape, generator=generator, dtype=torch.float64).float()
        filled[key] = t.abs() + 0.5 if key.endswith("running_var") else t * (0.1 if key.endswith("weight") else 0.05)
    network.load_state_dict(filled)


def test_parameter_count_equals_the_official_module():
    assert OFFICIAL_PARAMETERS == 11_491_440
    assert count_parameters(ResNetEncDec()) == OFFICIAL_PARAMETERS


def test_forward_equals_the_official_module_with_the_same_weights():
    network = ResNetEncDec().eval()
    seeded_weights(network)
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64).float()
    with torch.no_grad():
        logits = network.logits(x)
        maps = network(x)
    assert logits.shape == (2, 1, 64, 64)
    torch.testing.assert_close(logits[0, 0, ::16, ::16], torch.tensor(OFFICIAL_GRID), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(logits[1, 0, 7, ::16], torch.tensor(OFFICIAL_ROW), rtol=1e-4, atol=1e-6)
    assert abs(logits.mean().item() - OFFICIAL_MEAN) < 1e-6 and abs(logits.std().item() - OFFICIAL_STD) < 1e-6
    torch.testing.assert_close(maps, torch.sigmoid(logits))


def test_the_map_has_the_input_size_at_both_resolutions():
    network = ResNetEncDec().eval()
    with torch.no_grad():
        for size in (64, 224):
            out = network(torch.rand(1, 1, size, size))
            assert out.shape == (1, 1, size, size) and float(out.min()) >= 0 and float(out.max()) <= 1
