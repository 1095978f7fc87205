"""The ResNet-18 encoder-decoder of hmsch/natural-synthetic-anomalies `model/resnet.py` (`resnet18_enc_dec(
num_classes=1, pool=True, preact=False, in_channels=1, final_activation='sigmoid')`, as `train_chest_xray.py` builds
it), written anew with the same module names so the official state_dict loads unchanged.

Encoder: conv 7x7/2 (64) + BN + ReLU + max-pool 3/2, then ResNet-18's four stages of two BasicBlocks (64, 128, 256,
512). Bottleneck ("nin"): 1x1 convs 512 -> 256 -> 128, each followed by ReLU. Decoder: three TransposeBasicBlocks,
one per stage (128 -> 64 -> 32 -> 16, each x2 by a 3x3 stride-2 transposed conv; the shortcut a 1x1 transposed conv
+ BN), bilinear x2 (align_corners, as nn.UpsamplingBilinear2d), a 7x7 stride-2 transposed conv to one channel, and a
sigmoid: a map at the input's size. Init as the official: Kaiming-normal (fan_out) for Conv2d, BN weight 1 and bias
0; transposed convs keep PyTorch's default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Measured by building the official module (model/resnet.py at hmsch/natural-synthetic-anomalies HEAD) with the
# arguments above in a scratch folder and counting its parameters.
OFFICIAL_PARAMETERS = 11_491_440


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convs with BN, an identity or 1x1-conv shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _bn(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = _bn(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), _bn(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TransposeBasicBlock(nn.Module):
    """The decoder's block: a 3x3 stride-2 transposed conv (x2) and a 3x3 conv, with a 1x1 transposed-conv shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(inplanes, planes, 3, stride=stride, padding=1, output_padding=1, bias=False)
        self.bn1 = _bn(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = _bn(planes)
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(inplanes, planes, 1, stride=stride, output_padding=1, bias=False), _bn(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.upsample(x))


class ResNetEncDec(nn.Module):
    """ResNet-18 encoder-decoder: (B, 1, S, S) in [0, 1] -> (B, 1, S, S) sigmoid map (S a multiple of 32).

    `width`: the first stage's channels, every other width in proportion; 64 is the official network (every preset
    but FPI's smoke, which runs 16: see presets.py)."""

    def __init__(self, in_channels: int = 1, width: int = 64) -> None:
        super().__init__()
        if width % 4:
            raise ValueError(f"width must be a multiple of 4, got {width}")
        w = width
        self.conv1 = nn.Conv2d(in_channels, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = _bn(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths, inplanes = (w, 2 * w, 4 * w, 8 * w), w
        for i, planes in enumerate(widths, start=1):
            stride = 1 if i == 1 else 2
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes)))
            inplanes = planes
        self.nin = nn.Sequential(nn.Conv2d(8 * w, 4 * w, 1, bias=False), nn.ReLU(inplace=True),
                                 nn.Conv2d(4 * w, 2 * w, 1, bias=False), nn.ReLU(inplace=True))
        self.uplayer1 = nn.Sequential(TransposeBasicBlock(2 * w, w))
        self.uplayer2 = nn.Sequential(TransposeBasicBlock(w, w // 2))
        self.uplayer3 = nn.Sequential(TransposeBasicBlock(w // 2, w // 4))
        self.convtranspose1 = nn.ConvTranspose2d(w // 4, 1, 7, stride=2, padding=3, output_padding=1, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The map before the sigmoid."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.uplayer3(self.uplayer2(self.uplayer1(self.nin(x))))
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return self.convtranspose1(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
