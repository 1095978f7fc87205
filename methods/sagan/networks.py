"""SAGAN's generator as pure torch modules: ACM (patches + positional codes), ARRM (attention-gated decoder
stages), multi-level fusion, and the Bernoulli-gated residual output. The discriminator is HealthyGAN's PatchGAN
critic, shared in bench.methods._gan.networks.

Shapes at the paper's width (base 64, N = 2, 64 x 64 input): patches 32 x 32; encoder 64@32, 128@16, 256@8, 512@4;
decoder stages 256@8, 128@16, 64@32; fusion: stage 1 256@8 -> 128@16 -> 64@32, stage 2 128@16 -> 64@32, with
stage 3 192@32 -> 64@32 -> 1@32 (44.76M parameters in all); patches reassembled to 1@64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.methods._gan.networks import ResidualBlock, norm
from bench.methods.sagan.patches import code_bits, code_maps, merge_patches, patch_codes, split_patches


def conv_norm_relu(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False), norm(c_out), nn.ReLU(True))


def up_norm_relu(c_in: int, c_out: int) -> nn.Sequential:
    """ConvTranspose 4x4 s2 (doubles the side) + IN + ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), norm(c_out), nn.ReLU(True))


class WidthChangingBlock(nn.Module):
    """Residual block that changes width: h = ReLU(IN(conv3x3(x))) to the new width, then h + IN(conv3x3(h))."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.entry = conv_norm_relu(c_in, c_out, 3, 1, 1)
        self.refine = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), norm(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.entry(x)
        return h + self.refine(h)


class PositionInjection(nn.Module):
    """ACM: concatenate the patch codes as constant maps, then 1x1 conv + IN + ReLU back to the input width."""

    def __init__(self, channels: int, bits: int) -> None:
        super().__init__()
        self.project = conv_norm_relu(channels + bits, channels, 1)

    def forward(self, features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        maps = code_maps(codes, features.shape[0] // codes.shape[0], *features.shape[-2:]).to(features.dtype)
        return self.project(torch.cat([features, maps], dim=1))


class AttentionGate(nn.Module):
    """Attention U-Net gate: psi = sigmoid(IN(conv1x1(relu(IN(conv1x1(g)) + IN(conv1x1(skip)))))), one channel,
    intermediate width C/2; returns (skip * psi, psi) with psi in [0, 1] at the skip's spatial size."""

    def __init__(self, gate_channels: int, skip_channels: int) -> None:
        super().__init__()
        inner = max(1, skip_channels // 2)
        self.from_gate = nn.Sequential(nn.Conv2d(gate_channels, inner, 1, bias=False), norm(inner))
        self.from_skip = nn.Sequential(nn.Conv2d(skip_channels, inner, 1, bias=False), norm(inner))
        self.to_psi = nn.Sequential(nn.ReLU(True), nn.Conv2d(inner, 1, 1, bias=False), norm(1), nn.Sigmoid())

    def forward(self, gate: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.from_gate(gate)
        if g.shape[-2:] != skip.shape[-2:]:
            g = nn.functional.interpolate(g, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        psi = self.to_psi(g + self.from_skip(skip))
        return skip * psi, psi


class DecoderStage(nn.Module):
    """ARRM stage: gate the skip with the stage input, concat(input, gated skip), width-changing residual
    block, ConvTranspose 4x4 s2. Without ARRM (`gated=False`) the skip is not used at all."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, gated: bool) -> None:
        super().__init__()
        self.gate = AttentionGate(c_in, c_skip) if gated else None
        self.block = WidthChangingBlock(c_in + c_skip if gated else c_in, 2 * c_out)
        self.up = up_norm_relu(2 * c_out, c_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.gate is None:
            return self.up(self.block(x)), None
        gated, psi = self.gate(x, skip)
        return self.up(self.block(torch.cat([x, gated], dim=1))), psi


class MultiLevelFusion(nn.Module):
    """Upsample decoder stages 1 and 2 to stage 3's size and width, concat the three, fuse to `base` channels.

    Stage 1 (a quarter of stage 3's side) is enlarged by two x2 steps with IN + ReLU after each, halving the width
    each time (256 -> 128 -> 64 at the paper's width), as the authors' code does; stage 2 by one x2 step."""

    def __init__(self, stage_channels: tuple[int, int, int]) -> None:
        super().__init__()
        base = stage_channels[2]
        self.from_stage1 = nn.Sequential(up_norm_relu(stage_channels[0], stage_channels[1]),
                                         up_norm_relu(stage_channels[1], base))
        self.from_stage2 = up_norm_relu(stage_channels[1], base)
        self.fuse = WidthChangingBlock(3 * base, base)

    def forward(self, stage1: torch.Tensor, stage2: torch.Tensor, stage3: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.from_stage1(stage1), self.from_stage2(stage2), stage3], dim=1))


@dataclass
class Restoration:
    """What one generator pass produces: the restored image x', the additive map delta, and the attention
    coefficients of the three decoder stages reassembled into image layout (empty without ARRM)."""

    restored: torch.Tensor
    delta: torch.Tensor
    attention: list[torch.Tensor]


class SAGANGenerator(nn.Module):
    """G(x): patches (ACM) -> coded encoder -> 6 residual blocks -> gated decoder (ARRM) -> fusion -> delta;
    x' = tanh(m * delta + (1 - m) * x + x), m ~ Bernoulli(keep_prob) per pixel while gating, else m = 1."""

    def __init__(self, channels: int = 1, base: int = 64, n_patches: int = 2, n_res_blocks: int = 6,
                 acm: bool = True, arrm: bool = True, keep_prob: float = 0.95, gate_at_test: bool = False) -> None:
        super().__init__()
        self.n_patches = n_patches if acm else 1
        self.acm, self.arrm = acm, arrm
        self.keep_prob, self.gate_at_test = keep_prob, gate_at_test
        widths = (base, 2 * base, 4 * base, 8 * base)
        self.stem = conv_norm_relu(channels, widths[0], 7, 1, 3)
        self.down = nn.ModuleList(conv_norm_relu(widths[i], widths[i + 1], 4, 2, 1) for i in range(3))
        if acm:
            bits = code_bits(n_patches)
            self.register_buffer("codes", patch_codes(n_patches), persistent=False)
            self.position = nn.ModuleList(PositionInjection(w, bits) for w in widths[1:])
        self.bottleneck = nn.Sequential(*(ResidualBlock(widths[3]) for _ in range(n_res_blocks)))
        self.decoder = nn.ModuleList([
            DecoderStage(widths[3], widths[3], widths[2], arrm),
            DecoderStage(widths[2], widths[2], widths[1], arrm),
            DecoderStage(widths[1], widths[1], widths[0], arrm),
        ])
        self.fusion = MultiLevelFusion((widths[2], widths[1], widths[0])) if arrm else None
        self.head = nn.Conv2d(widths[0], channels, 7, 1, 3, bias=False)

    def gating(self) -> bool:
        """Whether the Bernoulli keep mask is drawn in this mode (training, or `gate_at_test`)."""
        return self.training or self.gate_at_test

    def restore(self, images: torch.Tensor) -> Restoration:
        """The restored images with their delta map and attention coefficients."""
        patches = split_patches(images, self.n_patches) if self.n_patches > 1 else images
        features = self.stem(patches)
        skips = []
        for i, down in enumerate(self.down):
            features = down(features)
            if self.acm:
                features = self.position[i](features, self.codes)
            skips.append(features)
        x = self.bottleneck(skips[2])
        stage_outputs, attention = [], []
        for stage, skip in zip(self.decoder, (x, skips[1], skips[0]), strict=True):
            x, psi = stage(x, skip)
            stage_outputs.append(x)
            if psi is not None:
                attention.append(self._to_image(psi))
        if self.fusion is not None:
            x = self.fusion(*stage_outputs)
        delta = self._to_image(self.head(x))
        return Restoration(self._blend(images, delta), delta, attention)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """x' for images in [-1, 1], shape (B, C, H, W) with H and W divisible by 8 * N."""
        return self.restore(images).restored

    def _to_image(self, patches: torch.Tensor) -> torch.Tensor:
        return merge_patches(patches, self.n_patches) if self.n_patches > 1 else patches

    def _blend(self, images: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        if self.gating():
            keep = torch.bernoulli(torch.full_like(delta, self.keep_prob))
            delta = keep * delta + (1 - keep) * images
        return torch.tanh(delta + images)
