"""CQBench content-quality metrics: ``text_scores`` and ``image_scores`` (one row per pair), ``fid`` (per set).

See ``mmpcbench.metrics.text`` and ``mmpcbench.metrics.image`` for every definition.
"""

from mmpcbench.metrics.image import IMAGE_METRICS, LOWER_IS_BETTER, fid, image_scores
from mmpcbench.metrics.text import TEXT_METRICS, text_scores

__all__ = ["IMAGE_METRICS", "LOWER_IS_BETTER", "TEXT_METRICS", "fid", "image_scores", "text_scores"]
