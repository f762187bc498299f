"""Benchmark: RecBench training and evaluation on a synthetic dataset of MMRec's "Baby" size.

Synthetic data: 19,445 users, 7,050 items, ~160k interactions (users buy within a latent group),
MMRec's per-user split, 384-d text and 4,096-d image features (MMRec's Baby sizes). For each model it
times one training epoch and one evaluation (the valid split) two ways, in this process:

- **ours**: ``mmpcbench.recsys`` (vectorised negative sampling and hit matching, only the batch's
  distinct feature rows projected, the evaluation graph computed once per evaluation);
- **MMRec's procedure**, re-enacted on the same model objects and parameters: a Python loop drawing
  each negative (``random`` over the train items, redrawn while a positive), every item's features
  projected in every batch (and BM3's targets dropped out on the full matrices), the full forward
  recomputed for every batch of evaluated users, and hits matched per user in Python.

"Same results" is checked, not assumed: on one batch both give the same loss and the same gradients
(BM3 with dropout 0, so both are deterministic), and both evaluations give the same metrics. FREEDOM's
kNN graph: the blocked build is timed against MMRec's dense ``n_items²`` similarity, and the peak
memory of each is printed (dense: n² floats; blocked: block × n).

    python benchmarks/recsys_speed.py                  # CPU, 2 threads
    python benchmarks/recsys_speed.py --device cuda
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import polars as pl
import torch
import torch.nn.functional as F

from mmpcbench.recsys import build
from mmpcbench.recsys.data import NegativeSampler, from_frame
from mmpcbench.recsys.evaluate import evaluate, topk_metrics
from mmpcbench.recsys.graph import knn_graph
from mmpcbench.recsys.trainer import train


def baby_like(n_users=19_445, n_items=7_050, n_inter=160_792, text_dim=384, image_dim=4096, seed=0):
    rng = np.random.default_rng(seed)
    groups = 50
    item_group = rng.integers(0, groups, n_items)
    user_group = rng.integers(0, groups, n_users)
    per_user = np.maximum(5, rng.poisson(n_inter / n_users - 5, n_users) + 5)
    by_group = [np.flatnonzero(item_group == g) for g in range(groups)]
    popular = rng.permutation(n_items)
    rows_u, rows_i, labels = [], [], []
    for user in range(n_users):
        n = int(per_user[user])
        own = rng.choice(by_group[user_group[user]], size=min(n, len(by_group[user_group[user]])), replace=False)
        noise = popular[rng.integers(0, n_items, size=n // 3)]
        items = np.unique(np.concatenate([own[: n - n // 3], noise]))[:n]
        items = rng.permutation(items)
        n = len(items)
        held = int(0.2 * n) if n >= 10 else 2
        valid = held // 2 if n >= 10 else 1
        lab = [0] * (n - held) + [1] * valid + [2] * (held - valid)
        rows_u += [user] * n
        rows_i += items.tolist()
        labels += lab
    frame = pl.DataFrame({"userID": rows_u, "itemID": rows_i, "x_label": labels})
    centres = rng.standard_normal((groups, 32)).astype(np.float32)
    text = centres[item_group] @ rng.standard_normal((32, text_dim)).astype(np.float32)
    image = np.abs(centres[item_group] @ rng.standard_normal((32, image_dim)).astype(np.float32))
    text += rng.standard_normal(text.shape).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return from_frame(frame, n_items), torch.from_numpy(text), torch.from_numpy(image.astype(np.float32))


# --- MMRec's procedure, re-enacted ----------------------------------------------------------------


def mmrec_negatives(users: np.ndarray, data, rnd: random.Random) -> np.ndarray:
    """MMRec's TrainDataLoader: one negative per pair, Python ``random`` over the train items."""
    items = np.unique(data.train_items).tolist()
    positives: dict[int, set] = {}
    for u, i in zip(data.train_users.tolist(), data.train_items.tolist()):
        positives.setdefault(u, set()).add(i)
    out = []
    for u in users.tolist():
        neg = rnd.choice(items)
        while neg in positives[u]:
            neg = rnd.choice(items)
        out.append(neg)
    return np.array(out)


def mmrec_loss(name, model, users, pos, neg):
    """The model's loss computed as MMRec computes it: every item's features projected per batch."""
    if name == "VBPR":
        items = torch.cat([model.i_embedding, model.item_linear(model.raw)], dim=1)
        u = model.u_embedding[users]
        p, n = items[pos], items[neg]
        from mmpcbench.recsys.base import bpr, emb_loss

        return bpr((u * p).sum(1), (u * n).sum(1)) + model.reg_weight * emb_loss(u, p, n)
    if name == "BM3":
        from mmpcbench.recsys.base import emb_loss

        u_all, i_all = model.forward()
        with torch.no_grad():
            u_t, i_t = F.dropout(u_all.clone(), model.dropout), F.dropout(i_all.clone(), model.dropout)
        u_o, i_o = model.predictor(u_all)[users], model.predictor(i_all)[pos]
        loss = (1 - F.cosine_similarity(u_o, i_t[pos], dim=-1).mean()) + (
            1 - F.cosine_similarity(i_o, u_t[users], dim=-1).mean())
        modal = 0.0
        for key, embedding in model.modalities.items():
            feat = model.projections[key](embedding.weight)
            with torch.no_grad():
                feat_t = F.dropout(feat.clone(), model.dropout)
            online = model.predictor(feat)[pos]
            modal = modal + (1 - F.cosine_similarity(online, i_t[pos], dim=-1).mean()) + (
                1 - F.cosine_similarity(online, feat_t[pos], dim=-1).mean())
        return loss + model.reg_weight * emb_loss(u_all, i_all) + model.cl_weight * modal
    if name == "FREEDOM":
        from mmpcbench.recsys.freedom import bpr_logsigmoid

        u_all, i_all = model.forward(model.masked_adj)
        u = u_all[users]
        loss = bpr_logsigmoid(u, i_all[pos], i_all[neg])
        modal = 0.0
        for key, embedding in model.modalities.items():
            feats = model.projections[key](embedding.weight)
            modal = modal + bpr_logsigmoid(u, feats[pos], feats[neg])
        return loss + model.reg_weight * modal
    raise KeyError(name)


def mmrec_epoch(name, model, data, optimiser, batch_size, rng, rnd, generator, device):
    model.train()
    model.pre_epoch(generator)
    order = rng.permutation(data.n_train)
    users_all, items_all = data.train_users[order], data.train_items[order]
    negatives = mmrec_negatives(users_all, data, rnd) if model.uses_negatives else items_all
    for start in range(0, data.n_train, batch_size):
        u = torch.as_tensor(users_all[start : start + batch_size], device=device)
        p = torch.as_tensor(items_all[start : start + batch_size], device=device)
        n = torch.as_tensor(negatives[start : start + batch_size], device=device)
        loss = mmrec_loss(name, model, u, p, n)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def mmrec_evaluate(model, data, split, ks=(5, 10, 20, 50), batch_size=4096, device="cpu"):
    """MMRec's evaluation: the full forward per batch of users, hits matched per user in Python."""
    target = getattr(data, split)
    indptr, train_items = data.train_csr()
    topk_rows = []
    model.eval()
    with torch.no_grad():
        for start in range(0, target.n_users, batch_size):
            users = target.users[start : start + batch_size]
            scores = model.scorer()(torch.as_tensor(users, device=device))
            rows = [r for r, u in enumerate(users) for _ in range(indptr[u + 1] - indptr[u])]
            cols = [int(i) for u in users for i in train_items[indptr[u] : indptr[u + 1]]]
            scores[rows, cols] = -1e10
            topk_rows.append(torch.topk(scores, max(ks), dim=-1).indices.cpu().numpy())
    top = np.concatenate(topk_rows)
    hits = []
    for row, items in enumerate(top):
        truth = target.items[target.indptr[row] : target.indptr[row + 1]].tolist()
        hits.append([i in truth for i in items])
    return topk_metrics(np.array(hits), np.diff(target.indptr), ks)


# --- the comparison ---------------------------------------------------------------------------------


def check_same_results(name, data, text, image, device, params):
    params = {**params, "dropout": 0.0} if name == "BM3" else params
    model = build(name, data, text, image, params, seed=0).to(device)
    model.pre_epoch(torch.Generator().manual_seed(0))
    sampler = NegativeSampler(data)
    rng = np.random.default_rng(0)
    index = rng.choice(data.n_train, 2048, replace=False)
    u = torch.as_tensor(data.train_users[index], device=device)
    p = torch.as_tensor(data.train_items[index], device=device)
    n = torch.as_tensor(sampler.sample(data.train_users[index], rng), device=device)
    ours = model.loss(u, p, n)
    grads_ours = torch.autograd.grad(ours, list(model.parameters()), allow_unused=True)
    theirs = mmrec_loss(name, model, u, p, n)
    grads_theirs = torch.autograd.grad(theirs, list(model.parameters()), allow_unused=True)
    loss_diff = abs(float(ours.detach()) - float(theirs.detach()))
    grad_diff = max(float((a - b).abs().max()) for a, b in zip(grads_ours, grads_theirs) if a is not None)
    valid_ours = evaluate(model.scorer(), data, "valid", device=device)
    valid_theirs = mmrec_evaluate(model, data, "valid", device=device)
    metric_diff = max(abs(valid_ours[k] - valid_theirs[k]) for k in valid_ours)
    return loss_diff, grad_diff, metric_diff


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=["VBPR", "BM3", "FREEDOM"])
    parser.add_argument("--image-dim", type=int, default=4096)
    parser.add_argument("--freedom-reg-weight", type=float, default=None,
                        help="FREEDOM's reg_weight (default: MMRec's default 0, where the modality losses vanish)")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink users, items and interactions (a quick check)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # torch's first optimiser imports torch._dynamo (~3 s)
    data, text, image = baby_like(int(19_445 * args.scale), int(7_050 * args.scale), int(160_792 * args.scale),
                                  image_dim=args.image_dim)
    print(f"data: {data.n_users} users, {data.n_items} items, {data.n_train} train / {data.counts['valid']} valid / "
          f"{data.counts['test']} test; text {tuple(text.shape)}, image {tuple(image.shape)}; device {args.device}, "
          f"{args.threads} threads")
    settings = {"epochs": 1, "patience": 100}
    for name in args.models:
        params = {"reg_weight": args.freedom_reg_weight} if name == "FREEDOM" and args.freedom_reg_weight is not None else {}
        loss_diff, grad_diff, metric_diff = check_same_results(name, data, text, image, args.device, params)
        model = build(name, data, text, image, params, seed=0)
        ours_epoch = timed(lambda: train(model, data, {**settings, "eval_step": 10**6}, 0, args.device))
        ours_eval = timed(lambda: evaluate(model.eval().scorer(), data, "valid", device=args.device))
        model = build(name, data, text, image, params, seed=0).to(args.device)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        theirs_epoch = timed(lambda: mmrec_epoch(name, model, data, optimiser, 2048, np.random.default_rng(0),
                                                 random.Random(0), torch.Generator().manual_seed(0), args.device))
        theirs_eval = timed(lambda: mmrec_evaluate(model, data, "valid", device=args.device))
        label = f"{name} (reg_weight {model.reg_weight:g})" if name == "FREEDOM" else name
        print(f"{label:8s} epoch: ours {ours_epoch:6.2f} s, MMRec procedure {theirs_epoch:6.2f} s, "
              f"{theirs_epoch / ours_epoch:4.1f}x | evaluation: ours {ours_eval:5.2f} s, MMRec procedure "
              f"{theirs_eval:5.2f} s, {theirs_eval / ours_eval:4.1f}x | same results: loss {loss_diff:.1e}, "
              f"grad {grad_diff:.1e}, metrics {metric_diff:.1e}")
    n = data.n_items
    for block in (1024,):
        blocked = timed(lambda: knn_graph(image, 10, block_size=block))
        dense = timed(lambda: knn_graph(image, 10, block_size=n))
        print(f"FREEDOM kNN graph (image, {n} items): blocked ({block} rows) {blocked:.2f} s, peak similarity "
              f"{block * n * 4 / 2**20:.0f} MiB | dense {dense:.2f} s, {n * n * 4 / 2**20:.0f} MiB "
              f"(63k items: {63_001**2 * 4 / 2**30:.1f} GiB dense, {block * 63_001 * 4 / 2**20:.0f} MiB blocked)")


if __name__ == "__main__":
    main()
