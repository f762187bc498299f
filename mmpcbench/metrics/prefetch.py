"""Load every model the CQBench metrics of a config use, once, so their weights land in the local caches.

Run it where the internet is (a cluster's login node) before submitting the score jobs to compute
nodes that have none::

    python -m mmpcbench.metrics.prefetch config.yaml

It loads the BERTScore model (hub), the LPIPS backbone (torchvision), the image-similarity encoder
(open_clip / timm) and, for ``fid.features: inception``, torch-fidelity's Inception-v3 weights, and
says which it loaded.
"""

from __future__ import annotations

import sys

from mmpcbench.config import load_config


def prefetch(metrics: dict) -> list[str]:
    from mmpcbench.encoders import ImageFeatures
    from mmpcbench.metrics.image import FidAccumulator, LpipsScorer, encoder_label, image_options
    from mmpcbench.metrics.text import BertScorer, text_options

    text, image = text_options(metrics.get("text", {})), image_options(metrics.get("image", {}))
    loaded = [f"BERTScore: {BertScorer(**{**text['bertscore'], 'device': 'cpu'}).model}"]
    loaded.append(f"LPIPS: {LpipsScorer(**{**image['lpips'], 'device': 'cpu'}).label}")
    clip = {**image["clip"], "device": "cpu"}
    encoder = ImageFeatures(clip)
    loaded.append(f"image similarity: {encoder_label(clip)}")
    fid = {**image["fid"], "device": "cpu"}
    loaded.append(f"FID: {FidAccumulator(encoder=encoder, **fid).label}")
    return loaded


if __name__ == "__main__":
    for line in prefetch(load_config(sys.argv[1] if len(sys.argv) > 1 else "config.yaml")["metrics"]):
        print("loaded", line)
