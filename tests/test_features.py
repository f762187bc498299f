"""RecBench features: masked sets, replacement, imputations, the missing-completion policy, bad input."""

import numpy as np
import polars as pl
import pytest

from mmpcbench.features.build import (
    FeatureError, aligned, imputed, mask_for, parse_variant, replaced, variant_features,
)
from mmpcbench.features.pipeline import FeaturePlan, write_features


def embeddings(asins, matrix):
    return pl.DataFrame({"parent_asin": asins}).with_columns(
        pl.Series("embedding", matrix.astype(np.float32), dtype=pl.Array(pl.Float32, matrix.shape[1])))


def test_masked_sets_are_seeded_nested_and_of_size_int_n_rate():
    masks = [mask_for(101, rate, seed=3) for rate in (0.2, 0.5, 0.8, 1.0)]
    assert [m.sum() for m in masks] == [20, 50, 80, 101]
    for small, large in zip(masks, masks[1:]):
        assert not (small & ~large).any()
    assert np.array_equal(mask_for(101, 0.5, 3), masks[1])
    assert not np.array_equal(mask_for(101, 0.5, 4), masks[1])


def test_completion_replaces_only_masked_items_of_one_modality():
    rng = np.random.default_rng(0)
    truth = {"text": rng.standard_normal((10, 3)).astype(np.float32), "image": rng.standard_normal((10, 2)).astype(np.float32)}
    completion = np.full((10, 3), 7.0, dtype=np.float32)
    out = variant_features("i2t-model", truth, [0.5], seed=1, completion=(completion, np.ones(10, bool)))[0.5]
    mask = mask_for(10, 0.5, 1)
    assert np.array_equal(out["text"][mask], completion[mask])
    assert np.array_equal(out["text"][~mask], truth["text"][~mask])
    assert np.array_equal(out["image"], truth["image"])
    assert out["masked"] == 5 and out["missing_completion"] == 0


def test_masked_item_without_completion_never_keeps_its_truth_by_default():
    truth = np.arange(12, dtype=np.float32).reshape(6, 2)
    mask = np.array([1, 1, 1, 0, 0, 0], bool)
    available = np.array([1, 0, 1, 1, 1, 1], bool)
    out, lacking = replaced(truth, mask, np.zeros_like(truth) - 1, available, "mean")
    assert lacking == 1
    np.testing.assert_allclose(out[1], truth[3:].mean(axis=0))
    leak, _ = replaced(truth, mask, np.zeros_like(truth) - 1, available, "ground_truth")
    assert np.array_equal(leak[1], truth[1])
    zeros, _ = replaced(truth, mask, np.zeros_like(truth) - 1, available, "zeros")
    assert not zeros[1].any()


def test_imputations():
    truth = np.arange(8, dtype=np.float32).reshape(4, 2)
    mask = np.array([1, 1, 0, 0], bool)
    assert not imputed("zeros", truth, mask, 0, 0.5).any()
    np.testing.assert_allclose(imputed("mean", truth, mask, 0, 0.5), [[5, 6], [5, 6]])
    np.testing.assert_allclose(imputed("mean", truth, np.ones(4, bool), 0, 1.0)[0], truth.mean(axis=0))
    random = imputed("random", truth, mask, 0, 0.5)
    assert random.shape == (2, 2) and np.array_equal(random, imputed("random", truth, mask, 0, 0.5))


def test_random_imputation_is_standard_normal_and_drawn_per_rate():
    truth = np.zeros((4000, 8), dtype=np.float32)
    mask = np.ones(4000, bool)
    draws = imputed("random", truth, mask, 0, 1.0)
    assert draws.dtype == np.float32 and draws.shape == (4000, 8)
    assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1.0) < 0.02   # N(0, 1), not zeros or the mean
    assert abs(np.mean(np.abs(draws) < 1.0) - 0.6827) < 0.01            # and normal, not uniform
    assert not np.array_equal(draws, imputed("random", truth, mask, 0, 0.5))  # another rate, other draws
    assert not np.array_equal(draws, imputed("random", truth, mask, 1, 1.0))  # another seed, other draws


def test_variant_names():
    assert parse_variant("original") == (None, None)
    assert parse_variant("t2i-qwen2.5-vl-7b") == ("t2i", "qwen2.5-vl-7b")
    with pytest.raises(FeatureError):
        parse_variant("x2y-model")


def test_features_must_cover_every_item():
    ids = pl.DataFrame({"original_id": ["a", "b", "c"], "new_id": [0, 1, 2]})
    with pytest.raises(FeatureError, match="have no row"):
        aligned(embeddings(["a", "b"], np.ones((2, 2))), ids, "text embeddings")


def test_nan_feature_rows_are_an_error():
    ids = pl.DataFrame({"original_id": ["a", "b"], "new_id": [0, 1]})
    with pytest.raises(FeatureError, match="NaN"):
        aligned(embeddings(["a", "b"], np.array([[1.0, np.nan], [0.0, 1.0]])), ids, "image embeddings")


def test_write_features_in_item_id_order(tmp_path):
    ids = pl.DataFrame({"original_id": ["b", "a", "c"], "new_id": [0, 1, 2]})
    ids.write_csv(tmp_path / "i_id_mapping.csv")
    embeddings(["a", "b", "c"], np.array([[1.0, 0], [2, 0], [3, 0]])).write_parquet(tmp_path / "text.parquet")
    embeddings(["c", "a", "b"], np.array([[30.0], [10], [20]])).write_parquet(tmp_path / "image.parquet")
    completion = embeddings(["a", "b", "c"], np.array([[9.0], [9], [9]])).with_columns(
        pl.Series("status", ["encoded"] * 3))
    completion = completion.with_columns(pl.when(pl.col("parent_asin") == "c").then(None)
                                         .otherwise(pl.col("embedding")).alias("embedding"))
    completion.write_parquet(tmp_path / "completion.parquet")
    record = write_features(variant="t2i-model", item_map_path=tmp_path / "i_id_mapping.csv",
                            text_path=tmp_path / "text.parquet", image_path=tmp_path / "image.parquet",
                            completion_path=tmp_path / "completion.parquet", out_dir=tmp_path / "out",
                            manifest_path=tmp_path / "out" / "features.json", plan=plan())
    text = np.load(tmp_path / "out" / "rate_1.0" / "text_feat.npy")
    image = np.load(tmp_path / "out" / "rate_1.0" / "image_feat.npy")
    np.testing.assert_array_equal(text[:, 0], [2, 1, 3])          # b, a, c
    np.testing.assert_array_equal(image[:, 0], [9, 9, 20])        # c has no completion: the mean (20)
    assert record["rates"]["1.0"]["missing_completion"] == 1


def test_borrowed_completions_reuse_the_source_embedding_and_missing_ones_stay_empty(tmp_path):
    from mmpcbench.features.pipeline import embed_completion

    embeddings(["a", "b", "c"], np.array([[1.0, 0], [0, 1], [1, 1]])).write_parquet(tmp_path / "truth.parquet")
    pl.DataFrame({"parent_asin": ["a", "b", "c"], "text": ["x", "y", None], "source_asin": ["b", "a", None]}).write_parquet(
        tmp_path / "completion.parquet")
    out = embed_completion("i2t", tmp_path / "completion.parquet", tmp_path / "truth.parquet", {}, tmp_path,
                           tmp_path / "out.parquet")
    assert out["status"].to_list() == ["borrowed", "borrowed", "missing"]
    assert out["embedding"].to_list()[:2] == [[0.0, 1.0], [1.0, 0.0]]
    assert out["embedding"][2] is None


def _two_item_inputs(tmp_path):
    pl.DataFrame({"original_id": ["a", "b"], "new_id": [0, 1]}).write_csv(tmp_path / "i_id_mapping.csv")
    embeddings(["a", "b"], np.array([[1.0, 0], [0, 1]])).write_parquet(tmp_path / "text.parquet")
    embeddings(["a", "b"], np.array([[3.0, 4.0], [0, 2]])).write_parquet(tmp_path / "image.parquet")
    return {"item_map_path": tmp_path / "i_id_mapping.csv", "text_path": tmp_path / "text.parquet",
            "image_path": tmp_path / "image.parquet", "completion_path": None}


def plan(**changes):
    """The features' settings: one rate (1.0), seed 0, the mean for a missing completion, raw image rows,
    both modalities."""
    return FeaturePlan(**{"rates": [1.0], "seed": 0, "missing_completion": "mean", "image_normalise": False,
                          "modalities": ("text", "image"), **changes})


@pytest.mark.parametrize("normalise", [False, True])
def test_image_features_are_raw_or_l2_normalised_by_option(tmp_path, normalise):
    out = tmp_path / "out"
    record = write_features(variant="original", out_dir=out, manifest_path=out / "features.json",
                            plan=plan(image_normalise=normalise), **_two_item_inputs(tmp_path))
    image = np.load(out / "rate_0.0" / "image_feat.npy")
    expected = [[0.6, 0.8], [0, 1]] if normalise else [[3, 4], [0, 2]]
    np.testing.assert_allclose(image, expected, rtol=1e-6)
    assert record["image_normalise"] is normalise


def test_a_single_modality_writes_only_its_file_and_trains(tmp_path):
    import torch

    from mmpcbench.recsys.pipeline import load_features

    out = tmp_path / "out"
    record = write_features(variant="original", out_dir=out, manifest_path=out / "features.json",
                            plan=plan(modalities=["text"]), **_two_item_inputs(tmp_path))
    assert record["modalities"] == ["text"] and not (out / "rate_0.0" / "image_feat.npy").exists()
    text, image = load_features(out / "rate_0.0", 2)
    assert image is None and torch.equal(text, torch.tensor([[1.0, 0], [0, 1]]))
    with pytest.raises(ValueError, match="not among the configured modalities"):
        write_features(variant="t2i-zeros", out_dir=out, manifest_path=out / "f.json", plan=plan(modalities=["text"]),
                       **_two_item_inputs(tmp_path))
    with pytest.raises(FileNotFoundError, match="neither"):
        load_features(tmp_path, 2)


# The propagation imputation on a graph small enough to compute by hand (issue #21). Users: u0 {0, 1},
# u1 {0, 1, 2}, u2 {2, 3}, u3 {3, 4}. Co-interactions: 0–1: 2, 0–2: 1, 1–2: 1, 2–3: 1, 3–4: 1.
# top_k 2: 0 → {1, 2}; 1 → {0, 2}; 2 → {0, 1} (three ties of 1: the lower itemIDs); 3 → {2, 4}; 4 → {3}.
# Degrees 2, 2, 2, 2, 1, so Â[i, j] = 1/2 for i, j < 4 and 1/√2 between 3 and 4.
# Items 2, 3, 4 masked, X₀ = [1, 2, 0, 0, 0]:
#   layer 1: x2 = (1 + 2)/2 = 1.5, x3 = (0)/2 + 0/√2 = 0, x4 = 0/√2 = 0
#   layer 2: x2 = 1.5, x3 = 1.5/2 = 0.75, x4 = 0
#   layer 3: x2 = 1.5, x3 = 0.75 + 0/√2 = 0.75, x4 = 0.75/√2
GRAPH_USERS = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3])
GRAPH_ITEMS = np.array([0, 1, 0, 1, 2, 2, 3, 3, 4])


@pytest.mark.parametrize("layers, expected", [(1, [1.5, 0, 0]), (2, [1.5, 0.75, 0]),
                                              (3, [1.5, 0.75, 0.75 / np.sqrt(2)])])
def test_propagation_imputation_by_hand_on_five_items(layers, expected):
    truth = np.array([[1.0, 10], [2, 20], [3, 30], [4, 40], [5, 50]], dtype=np.float32)
    mask = np.array([0, 0, 1, 1, 1], bool)
    rows = imputed("propagation", truth, mask, 0, 0.6, settings={"layers": layers, "top_k": 2},
                   interactions=(GRAPH_USERS, GRAPH_ITEMS))
    np.testing.assert_allclose(rows[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(rows[:, 1], 10 * np.array(expected), rtol=1e-6)  # each column alike


def test_propagation_graph_keeps_only_positive_co_interactions_and_no_self_loop():
    from mmpcbench.features.propagation import neighbour_graph

    graph = neighbour_graph(GRAPH_USERS, GRAPH_ITEMS, 6, top_k=3).toarray()  # item 5: never interacted
    assert not graph.diagonal().any() and not graph[5].any() and not graph[:, 5].any()
    assert (graph[4] > 0).sum() == 1  # one co-interacted item, not top_k of them
    half, root = 0.5, 1 / np.sqrt(6)  # item 2 has three neighbours now: 1/√(2·3)
    np.testing.assert_allclose(graph[0, [1, 2]], [half, root])
    with pytest.raises(FeatureError, match="needs the training interactions"):
        imputed("propagation", np.zeros((6, 2)), np.ones(6, bool), 0, 1.0, settings={"layers": 1, "top_k": 2})


def test_propagation_reads_only_the_training_split(tmp_path):
    """A validation or test interaction never links items (it would leak the held-out pairs)."""
    ids = pl.DataFrame({"original_id": ["a", "b", "c"], "new_id": [0, 1, 2]})
    ids.write_csv(tmp_path / "i_id_mapping.csv")
    embeddings(["a", "b", "c"], np.array([[1.0], [2], [3]])).write_parquet(tmp_path / "text.parquet")
    embeddings(["a", "b", "c"], np.array([[1.0], [2], [3]])).write_parquet(tmp_path / "image.parquet")
    # train: u0 {a, b}, u1 {b}; valid (x_label 1): u0 {c}; test (2): u1 {c}. In training c is linked to nothing.
    pl.DataFrame({"userID": [0, 0, 1, 0, 1], "itemID": [0, 1, 1, 2, 2], "x_label": [0, 0, 0, 1, 2]}).write_csv(
        tmp_path / "c.inter", separator="\t")
    out = tmp_path / "out"
    write_features(variant="i2t-propagation", item_map_path=tmp_path / "i_id_mapping.csv",
                   text_path=tmp_path / "text.parquet", image_path=tmp_path / "image.parquet", completion_path=None,
                   out_dir=out, manifest_path=out / "features.json", inter_path=tmp_path / "c.inter",
                   plan=plan(rates=[0.5], seed=0, imputation_settings={"layers": 2, "top_k": 5}))
    text = np.load(out / "rate_0.5" / "text_feat.npy")[:, 0]
    mask = mask_for(3, 0.5, 0)
    assert mask.sum() == 1
    masked = int(np.flatnonzero(mask)[0])
    expected = {0: 2.0, 1: 1.0, 2: 0.0}[masked]  # a ↔ b in training; c alone (its test pair unused)
    assert text[masked] == pytest.approx(expected)
