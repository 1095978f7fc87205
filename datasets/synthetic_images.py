"""Procedural chest-radiograph-like images: body, lungs, heart, ribs, spine, smooth noise, random pose and
contrast; anomalies are opacities (irregular brightenings) inside the lungs, from subtle to obvious."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import gaussian_filter

# Opacity contrast ranges (added brightness, image in [0, 1]) per difficulty.
DIFFICULTY_CONTRAST = {"easy": (0.15, 0.55), "medium": (0.06, 0.40), "hard": (0.03, 0.22)}


@dataclasses.dataclass(frozen=True)
class Lesion:
    """One opacity: centre (row, col) in pixels, radius in pixels, added contrast, and `stretch` (the ellipse's
    row semi-axis is radius * stretch, its column semi-axis radius / stretch)."""

    row: float
    col: float
    radius: float
    contrast: float
    stretch: float = 1.0


def _soft_inside(distance: np.ndarray, edge: float) -> np.ndarray:
    """1 inside (distance < 1), 0 outside, with a smooth edge of width `edge`."""
    return 1.0 / (1.0 + np.exp((distance - 1.0) / edge))


def render_chest(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One normal chest-like image in [0, 1] and its soft lung mask, both (size, size) float32."""
    grid = np.linspace(-1.0, 1.0, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    angle = np.deg2rad(rng.uniform(-7, 7))
    scale = rng.uniform(0.9, 1.08)
    shift_x, shift_y = rng.uniform(-0.07, 0.07, size=2)
    u = ((xx - shift_x) * np.cos(angle) + (yy - shift_y) * np.sin(angle)) / scale
    v = (-(xx - shift_x) * np.sin(angle) + (yy - shift_y) * np.cos(angle)) / scale
    edge = 2.5 / size

    body_w = rng.uniform(0.78, 0.92)
    body = _soft_inside(np.sqrt((u / body_w) ** 2 + ((v - 0.15) / 1.15) ** 2), edge * 3)
    lung_masks = []
    for side in (-1.0, 1.0):
        cx = side * rng.uniform(0.33, 0.42)
        cy = rng.uniform(-0.12, 0.0)
        rx, ry = rng.uniform(0.22, 0.29), rng.uniform(0.5, 0.62)
        lung = _soft_inside(np.sqrt(((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2), edge * 4)
        dome = _soft_inside(np.clip((v - (cy + 0.35 - 0.6 * (u - cx) ** 2)) / 0.3 + 1.0, 0, None), edge * 6)
        lung_masks.append(lung * dome)
    lungs = np.clip(lung_masks[0] + lung_masks[1], 0, 1)
    heart = _soft_inside(np.sqrt(((u - rng.uniform(0.05, 0.15)) / rng.uniform(0.2, 0.28)) ** 2
                                 + ((v - rng.uniform(0.22, 0.32)) / rng.uniform(0.18, 0.24)) ** 2), edge * 5)
    spine = _soft_inside(np.abs(u) / rng.uniform(0.06, 0.09), edge * 4) * body

    ribs = np.zeros_like(u)
    spacing = rng.uniform(0.13, 0.17)
    phase = rng.uniform(0, spacing)
    curvature = rng.uniform(0.55, 0.8)
    for k in range(-6, 8):
        offset = -0.75 + phase + k * spacing
        centre_line = offset + curvature * u**2
        ribs += np.exp(-(((v - centre_line) / (0.022 + 0.01 * rng.random())) ** 2))
    ribs = np.clip(ribs, 0, 1) * body * (np.abs(u) > 0.08)

    image = 0.05 + 0.5 * body
    image -= rng.uniform(0.3, 0.38) * lungs * (1 - 0.6 * heart)
    image += 0.18 * heart * body
    image += rng.uniform(0.1, 0.16) * spine
    image += rng.uniform(0.08, 0.14) * ribs
    image += gaussian_filter(rng.normal(size=(size, size)), sigma=size / 12) * rng.uniform(0.15, 0.3)
    image += rng.normal(scale=0.012, size=(size, size))
    image = np.clip(image, 0, 1) ** rng.uniform(0.8, 1.25)
    image = np.clip(image * rng.uniform(0.85, 1.1) + rng.uniform(-0.04, 0.04), 0, 1)
    return image.astype(np.float32), lungs.astype(np.float32)


def add_opacities(
    rng: np.random.Generator, image: np.ndarray, lungs: np.ndarray, difficulty: str
) -> tuple[np.ndarray, list[Lesion]]:
    """Add 1-3 irregular opacities centred inside the lungs; returns the image and the lesions."""
    size = image.shape[0]
    low, high = DIFFICULTY_CONTRAST[difficulty]
    # Centres well inside the lungs; at small sizes the soft edges keep the mask below 0.9, so relative to its max.
    candidates = np.argwhere(lungs > 0.9 * lungs.max())
    rows, cols = np.mgrid[0:size, 0:size]
    texture = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 32)
    texture = 0.7 + 0.3 * texture / (np.abs(texture).max() + 1e-8)
    lesions = []
    out = image.copy()
    for _ in range(rng.choice([1, 1, 2, 3])):
        row, col = candidates[rng.integers(len(candidates))]
        radius = rng.uniform(0.04, 0.16) * size
        contrast = rng.uniform(low, high)
        stretch = rng.uniform(0.6, 1.6)
        distance = np.sqrt(((rows - row) / (radius * stretch)) ** 2 + ((cols - col) * stretch / radius) ** 2)
        blob = np.exp(-0.5 * (distance * 1.6) ** 2) * texture
        out += contrast * blob * np.clip(lungs + 0.3, 0, 1)
        lesions.append(Lesion(float(row), float(col), float(radius), float(contrast), float(stretch)))
    return np.clip(out, 0, 1), lesions


def lesion_mask(lesions: list[Lesion], size: int) -> np.ndarray:
    """(size, size) bool: the pixels within one radius of a lesion's centre (its ellipse), where the opacity adds
    at least 28% of its peak brightness (exp(-0.5 * 1.6**2), before the texture)."""
    rows, cols = np.mgrid[0:size, 0:size]
    mask = np.zeros((size, size), dtype=bool)
    for lesion in lesions:
        distance = np.sqrt(((rows - lesion.row) / (lesion.radius * lesion.stretch)) ** 2
                           + ((cols - lesion.col) * lesion.stretch / lesion.radius) ** 2)
        mask |= distance <= 1.0
    return mask


def generate(seed: int, size: int, abnormal: bool, difficulty: str = "medium") -> tuple[np.ndarray, list[Lesion]]:
    """One uint8 (size, size) image from `seed`; abnormal images carry opacities."""
    rng = np.random.default_rng(seed)
    image, lungs = render_chest(rng, size)
    lesions: list[Lesion] = []
    if abnormal:
        image, lesions = add_opacities(rng, image, lungs, difficulty)
    return np.round(image * 255).astype(np.uint8), lesions
