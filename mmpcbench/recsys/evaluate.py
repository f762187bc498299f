"""MMRec's evaluation: full ranking over all items, the user's train items masked, top-k metrics.

For every user with held-out items (valid or test), all ``n_items`` items are scored, that user's
**train** items only are set to -1e10 (the test ranking keeps valid items as candidates, as MMRec), and
the top ``max(k)`` are compared with the held-out items:

- Recall@k = hits@k / |GT| (not capped at k);
- NDCG@k = Σ_{rank r ≤ k} hit_r / log2(r + 1), divided by the ideal DCG over min(|GT|, k) positions;

averaged over the evaluated users. Vectorised per block of users (MMRec matches hits in a Python loop).
"""

from __future__ import annotations

import numpy as np
import torch

from mmpcbench.recsys.data import RecData, Split

MASK_SCORE = -1e10


def topk_metrics(hits: np.ndarray, n_relevant: np.ndarray, ks=(5, 10, 20, 50)) -> dict[str, float]:
    """Mean Recall@k and NDCG@k of ranked hit rows (``hits``: users × ranks, 0/1) with ``n_relevant``
    held-out items per user."""
    hits = np.asarray(hits, dtype=np.float64)
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    if hits.ndim != 2 or len(hits) != len(n_relevant):
        raise ValueError("hits must be users x ranks with one n_relevant per user")
    if (n_relevant <= 0).any():
        raise ValueError("every evaluated user needs at least one held-out item")
    n_ranks = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, n_ranks + 2))
    cum_hits = np.cumsum(hits, axis=1)
    dcg = np.cumsum(hits * discount, axis=1)
    ideal = np.cumsum(discount)
    out = {}
    for k in ks:
        if k > n_ranks:
            raise ValueError(f"k={k} is larger than the {n_ranks} ranks given")
        out[f"recall@{k}"] = float(np.mean(cum_hits[:, k - 1] / n_relevant))
        idcg = ideal[np.minimum(n_relevant, k).astype(int) - 1]
        out[f"ndcg@{k}"] = float(np.mean(dcg[:, k - 1] / idcg))
    return out


def ranked_hits(score_fn, split: Split, train_csr: tuple[np.ndarray, np.ndarray], n_items: int, max_k: int,
                batch_size: int = 4096, device: str = "cpu") -> np.ndarray:
    """The 0/1 hit rows of the top ``max_k`` items of every user of ``split`` (train items masked).
    ``score_fn(users)`` returns the ``len(users) × n_items`` score tensor."""
    indptr, train_items = train_csr
    max_k = min(max_k, n_items)
    rows = []
    for start in range(0, split.n_users, batch_size):
        users = split.users[start : start + batch_size]
        scores = score_fn(torch.as_tensor(users, device=device)).detach().float()
        lengths = indptr[users + 1] - indptr[users]
        row_ids = np.repeat(np.arange(len(users)), lengths)
        cols = np.concatenate([train_items[indptr[u] : indptr[u + 1]] for u in users]) if len(row_ids) else row_ids
        scores[torch.as_tensor(row_ids, device=scores.device), torch.as_tensor(cols, device=scores.device)] = MASK_SCORE
        top = torch.topk(scores, max_k, dim=1).indices
        relevant = torch.zeros_like(scores, dtype=torch.bool)
        gt_len = split.indptr[start + 1 : start + len(users) + 1] - split.indptr[start : start + len(users)]
        gt_rows = np.repeat(np.arange(len(users)), gt_len)
        gt_items = split.items[split.indptr[start] : split.indptr[start + len(users)]]
        relevant[torch.as_tensor(gt_rows, device=scores.device), torch.as_tensor(gt_items, device=scores.device)] = True
        rows.append(torch.gather(relevant, 1, top).cpu().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, max_k), dtype=bool)


def evaluate(score_fn, data: RecData, split: str, ks=(5, 10, 20, 50), batch_size: int = 4096,
             device: str = "cpu") -> dict[str, float]:
    """Recall@k and NDCG@k on ``split`` ("valid" or "test") for the scores of ``score_fn``."""
    target: Split = getattr(data, split)
    hits = ranked_hits(score_fn, target, data.train_csr(), data.n_items, max(ks), batch_size, device)
    return topk_metrics(hits, np.diff(target.indptr), ks)
