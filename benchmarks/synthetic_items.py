"""What the completion benchmarks (complete_batch.py, engines.py) share: synthetic product covers and
titles drawn with the demo's cover painter, a tiny random-weight model when none is named, and the
prompts."""

from __future__ import annotations

from pathlib import Path

import polars as pl

PROMPTS = {"i2t": 'Write the product title as JSON {"title": "..."}.',
           "t2i": 'Product: "{text}". Write an image prompt as JSON {"prompt": "..."}.'}


def synthetic_items(work: Path, n_items: int) -> pl.DataFrame:
    """``n_items`` covers under ``work`` (``B00000.png`` ...) with their titles: ``parent_asin, text, image_path``."""
    from mmpcbench.demo import draw_cover
    from mmpcbench.demo.vocabulary import COLOURS, MATERIALS, PATTERNS

    rows = []
    for k in range(n_items):
        colour, pattern, material = list(COLOURS)[k % 8], PATTERNS[k % 4], list(MATERIALS)[k % 5]
        draw_cover(k % 6, colour, pattern, material).save(work / f"B{k:05d}.png")
        rows.append({"parent_asin": f"B{k:05d}", "text": f"{colour} {material} mug, {pattern}",
                     "image_path": f"B{k:05d}.png"})
    return pl.DataFrame(rows)


def model_or_tiny(model: str | None, family: str, work: Path) -> str:
    """``model``, or a tiny random-weight model of ``family`` built under ``work``."""
    if model is not None:
        return model
    from mmpcbench.demo.tiny_models import TINY_BUILDERS

    return str(TINY_BUILDERS[family](work / "model"))
