"""ACM's patch geometry: split images into N x N patches processed as one batch, reassemble them exactly,
and give each patch a binary code of its index (the positional encoding)."""

from __future__ import annotations

import math

import torch


def code_bits(n_patches: int) -> int:
    """Bits of a patch code: ceil(log2(N * N) + 1), as in the paper (3 for N = 2)."""
    return math.ceil(math.log2(n_patches * n_patches) + 1)


def patch_codes(n_patches: int) -> torch.Tensor:
    """(N * N, bits) float 0/1 codes of the row-major patch indices, most significant bit first."""
    bits = code_bits(n_patches)
    index = torch.arange(n_patches * n_patches).unsqueeze(1)
    shifts = torch.arange(bits - 1, -1, -1).unsqueeze(0)
    return ((index >> shifts) & 1).float()


def split_patches(images: torch.Tensor, n_patches: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * N * N, C, H / N, W / N): patches of each image, row-major, image-major."""
    b, c, h, w = images.shape
    if h % n_patches or w % n_patches:
        raise ValueError(f"image size {h}x{w} is not divisible into {n_patches}x{n_patches} patches")
    ph, pw = h // n_patches, w // n_patches
    grid = images.reshape(b, c, n_patches, ph, n_patches, pw)
    return grid.permute(0, 2, 4, 1, 3, 5).reshape(b * n_patches * n_patches, c, ph, pw)


def merge_patches(patches: torch.Tensor, n_patches: int) -> torch.Tensor:
    """Inverse of `split_patches` (exact): (B * N * N, C, h, w) -> (B, C, N * h, N * w)."""
    bn, c, ph, pw = patches.shape
    per_image = n_patches * n_patches
    if bn % per_image:
        raise ValueError(f"{bn} patches are not a whole number of {n_patches}x{n_patches} images")
    grid = patches.reshape(bn // per_image, n_patches, n_patches, c, ph, pw)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(bn // per_image, c, n_patches * ph, n_patches * pw)


def code_maps(codes: torch.Tensor, n_images: int, height: int, width: int) -> torch.Tensor:
    """Each patch's code broadcast to constant maps: (B * N * N, bits, height, width), same order as the patches."""
    per_patch = codes.repeat(n_images, 1)
    return per_patch[:, :, None, None].expand(-1, -1, height, width)
