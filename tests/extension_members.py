"""A user's own family members, outside the project (tests/test_extensions.py and the e2e tests name
this file in the config's ``extensions``): a recommender, a CQBench metric, an imputation and an image
encoder family, each one definition and one registry line."""

import numpy as np
import torch
from torch import nn

from mmpcbench.encoders import ImageNetwork
from mmpcbench.families import IMAGE_ENCODERS, IMPUTATIONS, METRICS, RECOMMENDERS, EncoderFamily, Imputation, Metric, Recommender
from mmpcbench.recsys.base import Recommender as RecommenderModel
from mmpcbench.recsys.base import bpr


class ItemBias(RecommenderModel):
    """One learned score per item, the same for every user (BPR): popularity, learned."""

    defaults = {"reg_weight": 0.0}

    def __init__(self, data, text, image, params):
        super().__init__(data, text, image, params)
        self.bias = nn.Parameter(torch.zeros(self.n_items))

    def loss(self, users, positives, negatives=None):
        return bpr(self.bias[positives], self.bias[negatives]) + self.params["reg_weight"] * self.bias.pow(2).mean()

    def scorer(self):
        bias = self.bias.detach()
        return lambda users: bias.expand(len(users), -1).clone()


def length_ratio(pairs) -> np.ndarray:
    """Words of the completion over words of the reference (normalised texts)."""
    return np.array([len(h.split()) / len(r.split()) for r, h in zip(pairs.normalised_references,
                                                                       pairs.normalised_hypotheses)], dtype=np.float64)


def impute_ones(truth, mask, seed, rate):
    return np.ones((int(mask.sum()), truth.shape[1]), dtype=np.float32)


class _Grid(nn.Module):
    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


def load_pixel_grid(spec) -> ImageNetwork:
    """A 4×4 grid of mean colours (48 values) of the image at 32×32."""
    net = _Grid()
    return ImageNetwork(net, net, spec.get("image_size", 32))


RECOMMENDERS.add(Recommender("ItemBias", ItemBias))
METRICS.add(Metric("length_ratio", "i2t", "Length ratio", length_ratio, digits=3))
IMPUTATIONS.add(Imputation("ones", impute_ones))
IMAGE_ENCODERS.add(EncoderFamily("pixel_grid", load_pixel_grid, lambda spec: "pixel grid 4×4, not CLIP: a stand-in"))

MEMBERS = {"RECOMMENDERS": "ItemBias", "METRICS": "length_ratio", "IMPUTATIONS": "ones", "IMAGE_ENCODERS": "pixel_grid"}
