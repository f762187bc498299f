"""RecBench recommenders: MMRec's metrics, masking, sampling, graphs, and that the models learn."""

import numpy as np
import polars as pl
import pytest
import torch

from mmpcbench.recsys import build, defaults
from mmpcbench.recsys.data import NegativeSampler, RecDataError, from_frame
from mmpcbench.recsys.evaluate import evaluate, ranked_hits, topk_metrics
from mmpcbench.recsys.graph import knn_graph, norm_adj
from mmpcbench.recsys.popularity import popularity_scorer
from mmpcbench.recsys.trainer import train


def planted(n_users=240, n_items=120, n_groups=6, per_user=8, seed=0, feature_dim=16):
    """Users buy items of their own group; item features reveal the group (plus noise). Popularity
    carries no group signal, so a model that uses features or collaborative signal beats it."""
    rng = np.random.default_rng(seed)
    item_group = np.arange(n_items) % n_groups
    user_group = rng.integers(0, n_groups, n_users)
    rows = []
    for user in range(n_users):
        pool = np.flatnonzero(item_group == user_group[user])
        items = rng.choice(pool, per_user, replace=False)
        labels = [0] * (per_user - 2) + [1, 2]
        rows += [(user, int(item), label) for item, label in zip(items, labels)]
    frame = pl.DataFrame(rows, schema=["userID", "itemID", "x_label"], orient="row")
    centres = rng.standard_normal((n_groups, feature_dim))
    text = centres[item_group] + 0.3 * rng.standard_normal((n_items, feature_dim))
    image = centres[item_group] @ rng.standard_normal((feature_dim, 24)) + 0.3 * rng.standard_normal((n_items, 24))
    return from_frame(frame), torch.tensor(text, dtype=torch.float32), torch.tensor(image, dtype=torch.float32)


FAST = {"learning_rate": 0.01, "batch_size": 256, "epochs": 30, "patience": 5, "topk": [5, 10, 20]}


def test_topk_metrics_match_mmrec_hand_case():
    metrics = topk_metrics(np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 0]]), np.array([2, 7]), ks=(1, 2, 3, 4, 5))
    recall = [metrics[f"recall@{k}"] for k in range(1, 6)]
    ndcg = [metrics[f"ndcg@{k}"] for k in range(1, 6)]
    np.testing.assert_allclose(recall, [0.25, 0.321429, 0.321429, 0.571429, 0.571429], atol=1e-6)
    np.testing.assert_allclose(ndcg, [0.5, 0.5, 0.454615, 0.561759, 0.545601], atol=1e-6)


def test_training_items_never_in_top_k():
    data, _, _ = planted()
    indptr, items = data.train_csr()
    # a scorer that ranks every user's train items highest: all must be masked away
    scores = torch.zeros(data.n_users, data.n_items)
    for user in range(data.n_users):
        scores[user, items[indptr[user] : indptr[user + 1]]] = 100.0

    def scorer(users):
        return scores[users].clone()

    top = {}

    def capture(users):
        out = scorer(users)
        top["scores"] = out
        return out

    hits = ranked_hits(capture, data.test, (indptr, items), data.n_items, 20)
    assert hits.shape == (data.test.n_users, 20)
    ranked = torch.topk(top["scores"], 20, dim=1).indices.numpy()
    for row, user in enumerate(data.test.users):
        assert not set(ranked[row]) & set(items[indptr[user] : indptr[user + 1]].tolist())


def test_vectorised_evaluation_equals_a_per_user_loop():
    data, _, _ = planted(seed=3)
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(data.n_users, data.n_items, generator=gen)
    got = evaluate(lambda users: scores[users].clone(), data, "test", ks=(5, 10, 20), batch_size=37)
    indptr, items = data.train_csr()
    recalls, ndcgs = [], []
    for row, user in enumerate(data.test.users):
        s = scores[user].clone()
        s[items[indptr[user] : indptr[user + 1]]] = -1e10
        ranked = torch.argsort(s, descending=True)[:20].tolist()
        truth = set(data.test.items[data.test.indptr[row] : data.test.indptr[row + 1]].tolist())
        hits = [1.0 if item in truth else 0.0 for item in ranked]
        recalls.append(sum(hits[:20]) / len(truth))
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits[:20]))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(truth), 20)))
        ndcgs.append(dcg / idcg)
    assert got["recall@20"] == pytest.approx(np.mean(recalls), abs=1e-12)
    assert got["ndcg@20"] == pytest.approx(np.mean(ndcgs), abs=1e-12)


def test_negative_sampler_draws_train_items_that_are_not_positives():
    data, _, _ = planted()
    sampler = NegativeSampler(data)
    negatives = sampler.sample(data.train_users, np.random.default_rng(0))
    positives = set(zip(data.train_users.tolist(), data.train_items.tolist()))
    assert not any((u, n) in positives for u, n in zip(data.train_users.tolist(), negatives.tolist()))
    assert set(negatives.tolist()) <= set(data.train_items.tolist())


def test_empty_validation_set_is_an_error():
    frame = pl.DataFrame({"userID": [0, 0, 1, 1], "itemID": [0, 1, 1, 2], "x_label": [0, 2, 0, 2]})
    with pytest.raises(RecDataError, match="valid split is empty"):
        from_frame(frame)


def test_user_without_train_is_counted_and_not_evaluated():
    frame = pl.DataFrame({"userID": [0, 0, 0, 1, 1, 2], "itemID": [0, 1, 2, 1, 2, 0], "x_label": [0, 1, 2, 0, 0, 2]})
    frame = pl.concat([frame, pl.DataFrame({"userID": [1], "itemID": [3], "x_label": [1]})])
    data = from_frame(frame)
    assert data.counts["users_without_train"] == 1
    assert data.counts["test_cold_start_rows_dropped"] == 1
    assert 2 not in data.test.users.tolist()


def test_unknown_label_is_an_error():
    with pytest.raises(RecDataError, match="x_label"):
        from_frame(pl.DataFrame({"userID": [0], "itemID": [0], "x_label": [3]}))


def test_blocked_knn_graph_equals_the_dense_one_and_has_weights_one_over_k():
    feats = torch.randn(53, 8, generator=torch.Generator().manual_seed(1))
    dense, _ = knn_graph(feats, 5, block_size=10_000)
    blocked, _ = knn_graph(feats, 5, block_size=7)
    assert torch.equal(dense.indices(), blocked.indices())
    assert torch.allclose(dense.values(), blocked.values())
    assert torch.allclose(dense.values(), torch.full_like(dense.values(), 0.2), atol=1e-6)
    unit = torch.nn.functional.normalize(feats, dim=1)
    expected = torch.topk(unit @ unit.T, 5, dim=1).indices
    rows = dense.indices()[0].reshape(53, 5)
    assert torch.equal(rows, torch.arange(53).unsqueeze(1).expand(-1, 5))
    assert {tuple(sorted(r)) for r in dense.indices()[1].reshape(53, 5).tolist()} == {
        tuple(sorted(r)) for r in expected.tolist()}


def test_zero_feature_rows_give_a_finite_graph_and_are_counted():
    feats = torch.randn(20, 4)
    feats[3:9] = 0
    graph, zero_rows = knn_graph(feats, 4)
    assert zero_rows == 6
    assert torch.isfinite(graph.values()).all()


def test_norm_adj_is_symmetric_normalised():
    adj = norm_adj(np.array([0, 0, 1]), np.array([0, 1, 1]), 2, 2).to_dense()
    assert torch.allclose(adj, adj.T)
    # user 0 (degree 2) – item 1 (degree 2): 1/2; user 1 (degree 1) – item 1: 1/sqrt(2)
    assert adj[0, 3].item() == pytest.approx(0.5, rel=1e-6)
    assert adj[1, 3].item() == pytest.approx(2 ** -0.5, rel=1e-6)


@pytest.mark.parametrize("name", ["VBPR", "BM3", "FREEDOM"])
def test_each_model_beats_popularity_on_planted_data(name):
    data, text, image = planted()
    popular = evaluate(popularity_scorer(data), data, "test", ks=(5, 10, 20))["recall@20"]
    run = train(build(name, data, text, image, {}, seed=0), data, FAST, seed=0)
    assert run["test"]["recall@20"] > popular + 0.05


@pytest.mark.parametrize("name", ["VBPR", "BM3", "FREEDOM"])
def test_training_is_reproducible_under_a_seed(name):
    data, text, image = planted(n_users=80, n_items=60)
    settings = {**FAST, "epochs": 4}
    first = train(build(name, data, text, image, {}, seed=5), data, settings, seed=5)
    second = train(build(name, data, text, image, {}, seed=5), data, settings, seed=5)
    assert first["history"] == second["history"] and first["test"] == second["test"]


def test_freedom_result_changes_when_its_features_change():
    data, text, image = planted()
    settings = {**FAST, "epochs": 8, "patience": 100}
    base = build("FREEDOM", data, text, image, {}, seed=0)
    shuffled = torch.randperm(len(text), generator=torch.Generator().manual_seed(0))
    other = build("FREEDOM", data, text[shuffled], image[shuffled], {}, seed=0)
    assert base.item_graph_hash() != other.item_graph_hash()
    assert train(base, data, settings, 0)["test"] != train(other, data, settings, 0)["test"]


def test_bm3_scores_never_read_an_items_own_features():
    """BM3 as MMRec has it scores with P(users) · P(items) over the id embeddings: the features only train
    the shared predictor P through the alignment loss (its targets detached). So once trained, moving
    every item's features to another item changes no score (docs/calibration.md: why BM3 cannot reward
    the right cover or title, only suffer from a constant one)."""
    data, text, image = planted(n_users=80, n_items=60)
    model = build("BM3", data, text, image, {}, seed=0)
    train(model, data, {**FAST, "epochs": 3}, seed=0)
    users = torch.arange(data.n_users)
    with torch.no_grad():
        before = model.scorer()(users)
        permutation = torch.randperm(data.n_items, generator=torch.Generator().manual_seed(1))
        for table in model.modalities.values():
            table.weight.copy_(table.weight[permutation])
        after = model.scorer()(users)
    assert torch.equal(before, after)


def test_freedom_with_a_constant_modality_ranks_as_its_other_graph_alone():
    """A constant image (the ``empty`` cover) gives every item the same k image neighbours, so the image
    part of FREEDOM's item graph adds one vector to every item: a per-user constant, the ranking of the
    text graph alone at weight 1 − mm_image_weight. What a cover can add is that tenth of the graph."""
    data, text, _ = planted(n_users=80, n_items=60)
    constant = torch.ones(data.n_items, 24)
    model = build("FREEDOM", data, text, constant, {}, seed=0)
    with torch.no_grad():
        full = model.scorer()(torch.arange(data.n_users))
        w = defaults("FREEDOM")["mm_image_weight"]
        text_graph, _ = knn_graph(text, defaults("FREEDOM")["knn_k"])
        model.mm_adj = ((1 - w) * text_graph).coalesce()
        text_only = model.scorer()(torch.arange(data.n_users))
    shift = full - text_only  # one value per user: the same for every item
    assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-5)
    assert not torch.allclose(shift, torch.zeros_like(shift))


def test_feature_rows_must_match_the_items():
    data, text, image = planted()
    with pytest.raises(ValueError, match="rows for"):
        build("VBPR", data, text[:-1], image, {}, seed=0)


def test_unknown_parameter_is_named():
    data, text, image = planted()
    with pytest.raises(KeyError, match="lambda_coeff"):
        build("FREEDOM", data, text, image, {"lambda_coeff": 0.9}, seed=0)
    assert "reg_weight" in defaults("VBPR")


def test_mmrec_mode_rounds_every_metric_to_four_decimals_before_early_stopping():
    from mmpcbench.recsys.trainer import rounded

    assert rounded({"recall@20": 0.123456, "ndcg@20": 0.00004}, 4) == {"recall@20": 0.1235, "ndcg@20": 0.0}
    data, text, image = planted(n_users=80, n_items=60)
    run = train(build("VBPR", data, text, image, {}, seed=1), data, {**FAST, "epochs": 4, "metric_digits": 4}, seed=1)
    for value in [*run["valid"].values(), *run["test"].values(), *(r["valid"] for r in run["history"])]:
        assert value == round(value, 4)


def _variant_files(tmp_path, data_rows, text, image):
    inter = tmp_path / "x.inter"
    data_rows.write_csv(inter, separator="\t")
    pl.DataFrame({"original_id": [f"i{i}" for i in range(len(text))], "new_id": range(len(text))}).write_csv(
        tmp_path / "i_id_mapping.csv")
    folder = tmp_path / "features" / "rate_1.0"
    folder.mkdir(parents=True)
    np.save(folder / "text_feat.npy", text.numpy())
    np.save(folder / "image_feat.npy", image.numpy())
    return inter


@pytest.mark.parametrize("select_on", ["valid", "test"])
def test_grid_point_is_kept_on_the_configured_split(tmp_path, select_on):
    from mmpcbench.recsys.pipeline import RecPlan, train_variant

    rng = np.random.default_rng(0)
    rows = [(u, int(i), label) for u in range(60) for i, label in
            zip(rng.choice(40, 6, replace=False), [0, 0, 0, 0, 1, 2])]
    frame = pl.DataFrame(rows, schema=["userID", "itemID", "x_label"], orient="row")
    text = torch.randn(40, 8, generator=torch.Generator().manual_seed(0))
    inter = _variant_files(tmp_path, frame, text, torch.randn(40, 4))
    result = train_variant(inter_path=inter, item_map_path=tmp_path / "i_id_mapping.csv",
                           features_dir=tmp_path / "features", out_path=tmp_path / "out.json",
                           plan=RecPlan(rates=[1.0], recommenders={"VBPR": {"params": {}, "grid": {"reg_weight": [1e-5, 0.1, 2.0]}}},
                                        settings={**FAST, "epochs": 3}, seeds=[1], device="cpu", select_on=select_on))
    entry = result["recommenders"]["VBPR"]["1.0"]
    scores = [point[f"{select_on}_mean"] for point in entry["grid"]]
    assert entry["params"] == entry["grid"][int(np.argmax(scores))]["params"]
    assert result["select_on"] == select_on
    assert (result["settings"]["metric_digits"] == 4) is (select_on == "test")
    with pytest.raises(ValueError, match="select_on"):
        train_variant(inter_path=inter, item_map_path=tmp_path / "i_id_mapping.csv", features_dir=tmp_path / "features",
                      out_path=tmp_path / "o.json", plan=RecPlan(rates=[1.0], recommenders={"VBPR": {}}, settings=FAST,
                                                                 seeds=[1], device="cpu", select_on="train"))
