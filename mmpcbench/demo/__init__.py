"""The embedded demo: a synthetic catalogue in the exact Amazon Reviews 2023 raw format."""

from mmpcbench.demo.catalogue import CatalogueSize, draw_cover, generate_catalogue

__all__ = ["CatalogueSize", "draw_cover", "generate_catalogue"]
