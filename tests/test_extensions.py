"""Families declared once: a user's module named in ``extensions`` adds a member of each family, config
validation accepts it (and names the known ones for a typo), and the library computes with it."""

import copy

import numpy as np
import pytest

from conftest import EXTENSION, REPO
from mmpcbench import families
from mmpcbench.config import ConfigError, load_config, validate_config

def with_members(config: dict) -> dict:
    config = copy.deepcopy(config)
    config["extensions"] = [EXTENSION]
    config["recbench"]["recommenders"]["ItemBias"] = {"params": {"reg_weight": 0.01}}
    config["recbench"]["imputations"].append("ones")
    config["encoders"]["image"] = {"family": "pixel_grid", "image_size": 32}
    return config


@pytest.fixture
def paper_config():
    return load_config(REPO / "config.yaml")


def test_config_naming_an_extensions_members_is_valid(paper_config, extension):
    config = validate_config(with_members(paper_config))
    assert "ItemBias" in families.RECOMMENDERS and "ones" in families.IMPUTATIONS
    assert families.TASKS["i2t"].metrics()[-1] == "length_ratio"
    assert config["recbench"]["recommenders"]["ItemBias"]["params"] == {"reg_weight": 0.01}


def test_without_the_extension_its_members_are_unknown(paper_config):
    config = with_members(paper_config)
    del config["extensions"]
    with pytest.raises(ConfigError, match=r"unknown recommender 'ItemBias'"):
        validate_config(config)


@pytest.mark.parametrize(("where", "change", "message"), [
    ("recommenders", lambda c: c["recbench"]["recommenders"].update(LATTICE={}),
     r"'recbench\.recommenders': unknown recommender 'LATTICE'; known: \['BM3', 'FREEDOM', 'ItemBias', 'VBPR'\]"),
    ("imputations", lambda c: c["recbench"]["imputations"].append("median"),
     r"'recbench\.imputations': unknown imputation 'median'; known: \['mean', 'ones', 'propagation', 'random', 'zeros'\]"),
    ("image encoder", lambda c: c["encoders"]["image"].update(family="dino"),
     r"'encoders\.image\.family': unknown image encoder family 'dino'; known: \[.*'pixel_grid'.*\]"),
    ("MLLM family", lambda c: c["models"]["qwen2.5-vl-7b"].update(family="internvl3"),
     r"'models\.qwen2\.5-vl-7b\.family': unknown MLLM family 'internvl3'; known: \['gemma3', 'qwen2_5_vl'\]"),
])
def test_an_unknown_member_is_named_with_the_known_ones(paper_config, extension, where, change, message):
    config = with_members(paper_config)
    change(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_a_refused_dtype_of_a_family_is_a_config_error(paper_config):
    gemma = next(name for name, entry in paper_config["models"].items() if entry.get("family") == "gemma3")
    paper_config["models"][gemma]["dtype"] = "float16"
    with pytest.raises(ConfigError, match=rf"'models\.{gemma}\.dtype': Gemma-3 must run in bfloat16"):
        validate_config(paper_config)


def test_a_missing_extension_file_is_named(paper_config):
    paper_config["extensions"] = ["no/such/members.py"]
    with pytest.raises(FileNotFoundError, match=r"extensions.*'no/such/members\.py'"):
        validate_config(paper_config)


def test_the_schema_lists_no_family():
    import yaml

    def enums(node):
        if isinstance(node, dict):
            if "enum" in node:
                yield set(node["enum"])
            for value in node.values():
                yield from enums(value)
        elif isinstance(node, list):
            for value in node:
                yield from enums(value)

    schema = yaml.safe_load((REPO / "mmpcbench/schemas/config.schema.yaml").read_text())
    for registry in (families.RECOMMENDERS, families.IMPUTATIONS, families.IMAGE_ENCODERS, families.MLLM_FAMILIES,
                     families.TEXT_ENCODERS, families.TASKS):
        assert not any(set(registry) <= enum for enum in enums(schema)), registry.family


def test_an_extension_metric_is_a_column_of_the_text_scores(extension):
    from mmpcbench.metrics.text import text_scores

    scores = text_scores(["red wooden toy car", "blue mug", "lamp"], ["red car", None, "the"],
                         metrics=["overlap", "length_ratio"])
    assert scores.columns == ["overlap", "length_ratio"]
    assert scores["length_ratio"].to_list()[:2] == [0.5, None]  # a missing completion: null
    assert scores["length_ratio"][2] == pytest.approx(1.0)


def test_an_extension_imputation_fills_the_masked_rows(extension):
    from mmpcbench.features.build import variant_features

    truth = {"text": np.zeros((10, 3), np.float32), "image": np.zeros((10, 4), np.float32)}
    features = variant_features("i2t-ones", truth, [0.5], seed=0)[0.5]
    assert features["text"].sum() == 5 * 3 and features["image"].sum() == 0 and features["masked"] == 5


def test_an_extension_image_encoder_embeds_images(extension):
    from PIL import Image

    from mmpcbench.encoders import encode_pil_images
    from mmpcbench.metrics.image import encoder_label

    spec = {"family": "pixel_grid", "image_size": 32}
    red, blue = Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("RGB", (40, 30), (0, 0, 255))
    vectors = encode_pil_images([red, blue, red], spec)
    assert vectors.shape == (3, 48) and np.allclose(vectors[0], vectors[2]) and vectors[0] @ vectors[1] < 0.5
    assert encoder_label(spec) == "pixel grid 4×4, not CLIP: a stand-in"


def test_an_extension_recommender_learns_item_popularity(extension):
    import torch

    from mmpcbench.recsys import build
    from mmpcbench.recsys.trainer import train
    from test_recsys import FAST, planted

    data, text, image = planted()
    model = build("ItemBias", data, text, image, {}, seed=0)
    run = train(model, data, FAST, seed=0, device="cpu")
    assert run["best_epoch"] >= 1 and float(model.bias.abs().sum()) > 0
    assert set(run["test"]) >= {"recall@20", "ndcg@20"} and torch.isfinite(model.bias).all()
