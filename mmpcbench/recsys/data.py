"""The interaction data a recommender trains and is evaluated on (MMRec's ``.inter`` contract).

``x_label`` 0/1/2 = train/valid/test; ids are 0-based and contiguous; ``n_users``/``n_items`` are
``max id + 1`` over the whole file (items seen only in valid/test are still ranked), as MMRec. Checks
that MMRec does not make: an empty validation or test set is an error (early stopping and the test
numbers would be meaningless); users without a train interaction are counted and left out of evaluation
(MMRec's ``filter_out_cod_start_users``); a user whose train positives cover every train item cannot
get a negative and is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

TRAIN, VALID, TEST = 0, 1, 2


class RecDataError(ValueError):
    """The interaction data cannot be trained or evaluated on; the message says why."""


@dataclass
class Split:
    """The held-out items of one split as CSR over its evaluated users (sorted user ids)."""

    users: np.ndarray  # evaluated users, ascending
    indptr: np.ndarray  # items of users[k] are items[indptr[k]:indptr[k + 1]]
    items: np.ndarray

    @property
    def n_users(self) -> int:
        return len(self.users)


@dataclass
class RecData:
    n_users: int
    n_items: int
    train_users: np.ndarray
    train_items: np.ndarray
    valid: Split
    test: Split
    counts: dict = field(default_factory=dict)
    _train_csr: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def n_train(self) -> int:
        return len(self.train_users)

    def train_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, items) of each user's train items, users 0..n_users-1 (computed once)."""
        if self._train_csr is None:
            order = np.lexsort((self.train_items, self.train_users))
            indptr = np.zeros(self.n_users + 1, dtype=np.int64)
            np.add.at(indptr, self.train_users + 1, 1)
            self._train_csr = (np.cumsum(indptr), self.train_items[order])
        return self._train_csr


def _split(users: np.ndarray, items: np.ndarray) -> Split:
    order = np.lexsort((items, users))
    users, items = users[order], items[order]
    unique, starts = np.unique(users, return_index=True)
    return Split(unique.astype(np.int64), np.append(starts, len(users)).astype(np.int64), items.astype(np.int64))


def from_frame(frame: pl.DataFrame, n_items: int | None = None) -> RecData:
    """RecData from a frame with ``userID, itemID, x_label`` (``n_items``: the item count of the
    category, e.g. the length of its id mapping; default ``max itemID + 1``)."""
    missing = {"userID", "itemID", "x_label"} - set(frame.columns)
    if missing:
        raise RecDataError(f"interaction table lacks column(s) {sorted(missing)}")
    if frame.height == 0:
        raise RecDataError("interaction table is empty")
    users = frame["userID"].to_numpy().astype(np.int64)
    items = frame["itemID"].to_numpy().astype(np.int64)
    labels = frame["x_label"].to_numpy()
    if users.min() < 0 or items.min() < 0:
        raise RecDataError("negative userID or itemID in the interaction table")
    n_users = int(users.max()) + 1
    max_items = int(items.max()) + 1
    if n_items is None:
        n_items = max_items
    elif n_items < max_items:
        raise RecDataError(f"itemID {max_items - 1} is out of range for {n_items} items")
    unknown = set(np.unique(labels).tolist()) - {TRAIN, VALID, TEST}
    if unknown:
        raise RecDataError(f"unknown x_label value(s) {sorted(unknown)}; known: 0 (train), 1 (valid), 2 (test)")
    train = labels == TRAIN
    has_train = np.zeros(n_users, dtype=bool)
    has_train[users[train]] = True
    counts = {"users": n_users, "items": n_items, "train": int(train.sum()),
              "users_without_train": int((~has_train).sum())}
    splits = {}
    for name, label in (("valid", VALID), ("test", TEST)):
        rows = labels == label
        cold = rows & ~has_train[users]
        counts[f"{name}_cold_start_rows_dropped"] = int(cold.sum())
        keep = rows & ~cold
        if not keep.any():
            raise RecDataError(
                f"the {name} split is empty (no x_label={label} row of a user with train interactions): "
                "early stopping and the reported numbers need both a valid and a test set"
            )
        splits[name] = _split(users[keep], items[keep])
        counts[name] = int(keep.sum())
        counts[f"{name}_users"] = splits[name].n_users
    data = RecData(n_users, n_items, users[train], items[train], splits["valid"], splits["test"], counts)
    degree = np.bincount(data.train_users, minlength=n_users)
    n_train_items = len(np.unique(data.train_items))
    full = np.flatnonzero(degree >= n_train_items)
    if len(full):
        raise RecDataError(
            f"user(s) {full[:5].tolist()} bought every train item: no negative item can be sampled for them"
        )
    return data


def load_inter(path, n_items: int | None = None) -> RecData:
    """RecData from MMRec's tab-separated ``.inter`` file (``userID, itemID, x_label`` read)."""
    frame = pl.read_csv(path, separator="\t", columns=["userID", "itemID", "x_label"])
    return from_frame(frame, n_items)


class NegativeSampler:
    """One uniform negative per (user, positive) pair, as MMRec: drawn from the items that occur in
    train, redrawn while it is one of the user's train positives. Vectorised: all pairs of an epoch
    are drawn at once and only the rejected ones redrawn (MMRec loops in Python per pair)."""

    def __init__(self, data: RecData):
        self.candidates = np.unique(data.train_items)
        self.n_items = data.n_items
        self.positives = np.unique(data.train_users * data.n_items + data.train_items)

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        negatives = self.candidates[rng.integers(0, len(self.candidates), size=len(users))]
        todo = np.arange(len(users))
        while len(todo):
            keys = users[todo] * self.n_items + negatives[todo]
            pos = np.searchsorted(self.positives, keys)
            pos = np.minimum(pos, len(self.positives) - 1)
            todo = todo[self.positives[pos] == keys]
            negatives[todo] = self.candidates[rng.integers(0, len(self.candidates), size=len(todo))]
        return negatives
