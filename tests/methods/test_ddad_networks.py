"""DDAD's networks against the authors' modules (caiyu6666/DDAD-ASR, models/autoencoder.py, memory_ae.py,
refine_net.py, losses.py at the fetched HEAD).

How the numbers were obtained: the official modules were run unchanged in a scratch folder outside this repository
(torch 2, CPU, one thread, deterministic algorithms), built as the authors' cfgs build them (latent 16, multiplier
1, 64 px; MemAE memory 25, shrinkage 0; ASR-Net 128 channels) right after `torch.manual_seed(0)`. Recorded: the
parameter count, the sha256 (first 16 hex digits) of the state_dict's "key:shape" lines in order, the sum and first
values of the eval-mode output on a fixed input (`torch.rand` from a generator seeded 1, scaled to [-1, 1]), and
the loss of the authors' training step (their loss, Adam with the cfg's lr and betas) before and after one step.
bench's modules build the same layers in the same order, so the same seed gives the same weights, and these tests
compare outputs without copying any weights across.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

from bench.methods.ddad.losses import focal_loss, reconstruction_loss
from bench.methods.ddad.networks import RefineNet, build_backbone, count_parameters

# backbone: (parameters, state_dict keys, key:shape digest, eval output sum, its first 3 values,
#            training loss at step 0, after one Adam step (lr 5e-4, betas (0.5, 0.999)))
OFFICIAL = {
    "ae": (4487248, 61, "b197a589df976fbe", -1.4928277330887454,
           (4.3640658986987546e-05, 0.00028016066062264144, 0.0002497301029507071), 0.916841983795166,
           0.801680862903595),
    "ae-u": (4487504, 61, "84876274568a9807", 1.491150641399372,
             (-4.764628465636633e-05, 6.506121280835941e-05, 0.00012881882139481604), 1.1739835739135742,
             0.9299986362457275),
    "memae": (4487648, 62, "c8ea1a187f3e1de2", -2.426699771043218,
              (-4.611701297108084e-05, -0.00011632672976702452, -0.00012696169142145663), 1.0519667863845825,
              0.893822193145752),
}
OFFICIAL_AEU_LOGVAR_SUM = -7.399643686761124
OFFICIAL_MEMAE_ATTENTION = (0.03946073725819588, 0.040144242346286774, 0.04013179987668991)  # image 0, slots 0-2
# ASR-Net with 2 inputs (R_dual) / 1 input (R_intra): (parameters, digest, eval output sum, first 3 values,
# focal loss at step 0, after one Adam step (lr 1e-4, betas (0.5, 0.999), weight decay 1e-4)); input: torch.rand
# (2, C, 64, 64) from a generator seeded 2, target: the same generator's next rand (2, 64, 64) > 0.7.
OFFICIAL_REFINE = {
    2: (152834, "8801855d60b7161e", -984.2191987041151,
        (-0.07554829120635986, -0.04956815391778946, -0.06310823559761047), 0.20719216763973236,
        0.18849991261959076),
    1: (151682, "5ec2f72de27431cb", 1794.8015374876559,
        (-0.002781342715024948, -3.142375499010086e-05, -0.013590695336461067), 0.18963973224163055,
        0.17810308933258057),
}


@pytest.fixture(autouse=True)
def deterministic():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


def structure_digest(module: torch.nn.Module) -> str:
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in module.state_dict().items())
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def seeded_backbone(backbone: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone(backbone, latent_size=16, multiplier=1.0, image_size=64, mem_dim=25, shrink_threshold=0.0)


def fixed_input() -> torch.Tensor:
    return torch.rand(4, 1, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1


@pytest.mark.parametrize("backbone", sorted(OFFICIAL))
def test_backbone_has_the_official_parameters_and_state_dict(backbone):
    params, n_keys, digest, *_ = OFFICIAL[backbone]
    model = seeded_backbone(backbone)
    assert count_parameters(model) == params
    assert len(model.state_dict()) == n_keys
    assert structure_digest(model) == digest  # the same keys, in the same order, with the same shapes


@pytest.mark.parametrize("backbone", sorted(OFFICIAL))
def test_backbone_forward_and_one_training_step_match_the_official_module(backbone):
    _, _, _, out_sum, first, loss0, loss1 = OFFICIAL[backbone]
    model, x = seeded_backbone(backbone), fixed_input()
    with torch.no_grad():
        out = model.eval()(x)
    assert out.mean.double().sum().item() == pytest.approx(out_sum, rel=1e-4, abs=1e-5)
    torch.testing.assert_close(out.mean.flatten()[:3], torch.tensor(first), rtol=1e-4, atol=1e-7)
    if backbone == "ae-u":
        assert out.logvar.double().sum().item() == pytest.approx(OFFICIAL_AEU_LOGVAR_SUM, rel=1e-5)
    if backbone == "memae":
        torch.testing.assert_close(out.attention[0, :3], torch.tensor(OFFICIAL_MEMAE_ATTENTION), rtol=1e-5, atol=0)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4, betas=(0.5, 0.999), weight_decay=0)
    loss = reconstruction_loss(backbone, x, model(x))["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert loss.item() == pytest.approx(loss0, rel=1e-5)
    assert reconstruction_loss(backbone, x, model(x))["loss"].item() == pytest.approx(loss1, rel=1e-4)


@pytest.mark.parametrize("inputs", sorted(OFFICIAL_REFINE))
def test_asr_net_matches_the_official_module(inputs):
    params, digest, out_sum, first, loss0, loss1 = OFFICIAL_REFINE[inputs]
    torch.manual_seed(0)
    net = RefineNet(in_channels=inputs, out_channels=2, mid_channels=128)
    assert count_parameters(net) == params
    assert structure_digest(net) == digest
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(2, inputs, 64, 64, generator=generator)
    target = (torch.rand(2, 64, 64, generator=generator) > 0.7).long()
    with torch.no_grad():
        out = net.eval()(x)
    assert out.double().sum().item() == pytest.approx(out_sum, rel=1e-4)
    torch.testing.assert_close(out.flatten()[:3], torch.tensor(first), rtol=1e-4, atol=1e-6)
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)
    loss = focal_loss(torch.softmax(net(x), dim=1), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert loss.item() == pytest.approx(loss0, rel=1e-5)
    assert focal_loss(torch.softmax(net(x), dim=1), target).item() == pytest.approx(loss1, rel=1e-4)


def test_widths_and_size_scale_as_the_authors_multiplier_and_image_size():
    # multiplier 0.5 at 32 px: convolutions 8/16/32/32, FC 32*2*2 -> 2048 (the smoke preset's networks)
    small = build_backbone("ae", latent_size=16, multiplier=0.5, image_size=32, mem_dim=25, shrink_threshold=0.0)
    assert small.encoder[0].out_channels == 8 and small.linear_enc[0].in_features == 32 * 2 * 2
    assert small(torch.zeros(2, 1, 32, 32)).mean.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="divisible by 16"):
        build_backbone("ae", latent_size=16, multiplier=1.0, image_size=40, mem_dim=25, shrink_threshold=0.0)
