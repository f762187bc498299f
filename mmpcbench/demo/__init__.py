"""The embedded demo: a synthetic catalogue in the exact Amazon Reviews 2023 raw format."""

from mmpcbench.demo.catalogue import CatalogueSize, generate_catalogue
from mmpcbench.demo.covers import draw_cover

__all__ = ["CatalogueSize", "draw_cover", "generate_catalogue"]
