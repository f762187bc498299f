"""The demo's product covers: each product attribute visible in its cover (type → shape, colour → fill,
pattern → overlay, material → background texture)."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from mmpcbench.demo.vocabulary import COLOURS, IMAGE_SIZE, MATERIALS, SHAPES


def draw_cover(type_index: int, colour: str, pattern: str, material: str, size: int = IMAGE_SIZE) -> Image.Image:
    """Draw the cover of a product: a background textured by ``material``, and the product's shape
    (one per product type) filled with ``colour`` and overlaid with ``pattern``."""
    background = MATERIALS[material]
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    # material texture: wood grain, brushed metal, fabric weave, glass highlight; plastic stays flat
    tone = tuple(max(0, c - 25) for c in background)
    if material == "wooden":
        for y in range(0, size, 6):
            draw.arc((-size // 2, y - 8, size * 3 // 2, y + 8), 0, 180, fill=tone)
    elif material == "metal":
        for y in range(0, size, 3):
            draw.line((0, y, size, y), fill=tone if y % 2 else background)
    elif material == "fabric":
        for x in range(0, size, 4):
            draw.line((x, 0, x, size), fill=tone)
            draw.line((0, x, size, x), fill=tone)
    elif material == "glass":
        draw.polygon([(0, 0), (size // 3, 0), (0, size // 3)], fill=(240, 250, 255))
    fill = COLOURS[colour]
    mask = Image.new("L", (size, size), 0)
    _draw_shape(ImageDraw.Draw(mask), SHAPES[type_index], size, 255)
    body = Image.new("RGB", (size, size), fill)
    _draw_pattern(ImageDraw.Draw(body), pattern, size, tuple(int(c * 0.55) for c in fill))
    image.paste(body, (0, 0), mask)
    return image


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, size: int, fill: int) -> None:
    m, c = size // 8, size // 2
    r = c - m
    if shape == "circle":
        draw.ellipse((m, m, size - m, size - m), fill=fill)
    elif shape == "square":
        draw.rectangle((m + 6, m + 6, size - m - 6, size - m - 6), fill=fill)
    elif shape == "triangle":
        draw.polygon([(c, m), (size - m, size - m), (m, size - m)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(c, m), (size - m, c), (c, size - m), (m, c)], fill=fill)
    elif shape == "hexagon":
        draw.regular_polygon((c, c, r), 6, fill=fill)
    elif shape == "star":
        points = []
        for k in range(10):
            radius = r if k % 2 == 0 else r * 0.45
            angle = math.pi / 2 + k * math.pi / 5
            points.append((c + radius * math.cos(angle), c - radius * math.sin(angle)))
        draw.polygon(points, fill=fill)


def _draw_pattern(draw: ImageDraw.ImageDraw, pattern: str, size: int, ink: tuple[int, int, int]) -> None:
    if pattern == "striped":
        for x in range(-size, size, 12):
            draw.line((x, 0, x + size, size), fill=ink, width=4)
    elif pattern == "dotted":
        for y in range(6, size, 14):
            for x in range(6, size, 14):
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=ink)
    elif pattern == "checked":
        for y in range(0, size, 16):
            for x in range(0, size, 16):
                if (x // 16 + y // 16) % 2 == 0:
                    draw.rectangle((x, y, x + 15, y + 15), fill=ink)
