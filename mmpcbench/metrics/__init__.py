"""CQBench content-quality metrics: ``text_scores`` and ``image_scores`` (one row per pair), ``fid`` (per set).

The metrics are declared in ``mmpcbench.families.METRICS``; see ``mmpcbench.metrics.text`` and
``mmpcbench.metrics.image`` for every definition.
"""

from mmpcbench.metrics.image import fid, image_scores
from mmpcbench.metrics.text import text_scores

__all__ = ["fid", "image_scores", "text_scores"]
