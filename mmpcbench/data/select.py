"""Select the items and interactions of a category: the paper's k-core or the authors' actual rule.

Two strategies, chosen by ``selection`` in config; both run in two steps around the image download:

``kcore`` (the paper's text)
    1. *Candidates* (:func:`select_kcore`): items with non-empty text in the configured field and a
       MAIN image URL → reviews on those items with a user → (user, item) deduplicated keeping the
       earliest → optional seeded item pre-sampling (``max_items``, drawn among items that have at
       least ``k`` interactions) → iterative k-core on users and items until no user or item has fewer
       than ``k`` interactions. Its items are the ones whose images are fetched.
    2. *Final set* (:func:`finalize_rec_set`): items whose image could not be had are dropped, and the
       k-core is run again, so the set that leaves the data stages is still a k-core.

``authors_code`` (what GAIR-Lab/MMPCBench's released code did)
    1. Candidate items have a title of at least ``min_title_chars`` characters and a MAIN ``large``
       image URL; reviews with rating ≥ ``min_rating`` on them, deduplicated; users with at least
       ``min_user_reviews`` such reviews, each truncated to the first ``max_user_reviews`` by time;
       the ``n_users`` users with the shortest histories (ties: first appearance in the raw file).
       Their items are the candidate items.
    2. The candidate items minus those whose image failed form the item set; the recommendation data
       are *all* reviews (any rating) on the item set, deduplicated keeping the earliest, from users
       with at least ``min_user_interactions`` interactions (items ≥ 1). This is not a k-core on
       items, by design: it is the authors' rule, which the paper calls "5-core".
"""

from __future__ import annotations

import logging

import numpy as np
import polars as pl

log = logging.getLogger(__name__)

TEXT_FIELDS = ("title", "description", "title_description")


def item_text(text_field: str) -> pl.Expr:
    """The product text of the configured field: ``title``, ``description`` or both joined by ". "."""
    if text_field == "title":
        return pl.col("title").fill_null("")
    if text_field == "description":
        return pl.col("description").fill_null("")
    if text_field == "title_description":
        title, description = pl.col("title").fill_null(""), pl.col("description").fill_null("")
        return (
            pl.when(description == "").then(title).when(title == "").then(description).otherwise(title + ". " + description)
        )
    raise ValueError(f"unknown text field {text_field!r}; known: {list(TEXT_FIELDS)}")


def eligible_items(items: pl.DataFrame, text_field: str, min_text_chars: int = 1, image_field: str = "image_large") -> pl.DataFrame:
    """Items with at least ``min_text_chars`` characters of text (after stripping) and a MAIN image
    URL in ``image_field`` (``hi_res`` falls back to ``large``). Adds the ``text`` column."""
    url = pl.col(image_field)
    if image_field == "image_hi_res":
        url = pl.coalesce("image_hi_res", "image_large")
    return (
        items.with_columns(item_text(text_field).str.strip_chars().alias("text"), url.alias("image_url"))
        .filter((pl.col("text").str.len_chars() >= min_text_chars) & pl.col("image_url").is_not_null())
    )


def dedupe_earliest(interactions: pl.DataFrame) -> pl.DataFrame:
    """Keep the earliest review of each (user, item) pair; ties in time go to the earlier raw line
    (``line`` identifies a row). Rows keep their input order; only the repeated pairs are sorted."""
    codes = [pl.col(name).cast(pl.Categorical).to_physical().cast(pl.UInt64) for name in ("user_id", "parent_asin")]
    pair = (codes[0] * (1 << 32) + codes[1]).alias("pair")  # one integer per (user, item): cheap to hash
    repeated = interactions.select(pair.is_duplicated()).to_series()
    if not repeated.any():
        return interactions
    subset = interactions.filter(repeated).select("user_id", "parent_asin", "timestamp", "line")
    keep = subset.sort(["timestamp", "line"]).unique(["user_id", "parent_asin"], keep="first")
    dropped = subset.join(keep.select("line"), on="line", how="anti")["line"]
    return interactions.filter(~pl.col("line").is_in(dropped.implode()))


def kcore(interactions: pl.DataFrame, k: int) -> pl.DataFrame:
    """The k-core: repeatedly drop users and items with fewer than ``k`` interactions until none is left.

    The k-core is unique (the largest subgraph in which every user and item has degree ≥ k), so the
    order of removal does not change the result. Rows keep their input order. Users and items are
    coded as integers once; each round is two ``numpy.bincount``s over the rows still kept.
    """
    if k <= 1 or interactions.height == 0:
        return interactions
    users = interactions["user_id"].cast(pl.Categorical).to_physical().to_numpy()
    items = interactions["parent_asin"].cast(pl.Categorical).to_physical().to_numpy()
    keep = np.ones(interactions.height, dtype=bool)
    kept = keep.sum()
    while True:
        user_degree = np.bincount(users[keep], minlength=int(users.max()) + 1)
        item_degree = np.bincount(items[keep], minlength=int(items.max()) + 1)
        keep &= (user_degree[users] >= k) & (item_degree[items] >= k)
        now = keep.sum()
        if now == kept:
            return interactions.filter(pl.Series(keep))
        kept = now


def exclusion_counts(items: pl.DataFrame, text_field: str, image_field: str = "image_large") -> dict:
    """How many items lack text in ``text_field``, lack a MAIN image URL, or both (for the reports)."""
    url = pl.coalesce("image_hi_res", "image_large") if image_field == "image_hi_res" else pl.col(image_field)
    flags = items.select(
        (item_text(text_field).str.strip_chars() == "").alias("no_text"), url.is_null().alias("no_image")
    )
    return {
        "items_without_text": int((flags["no_text"] & ~flags["no_image"]).sum()),
        "items_without_main_image": int((flags["no_image"] & ~flags["no_text"]).sum()),
        "items_without_text_or_image": int((flags["no_text"] & flags["no_image"]).sum()),
    }


def _interactions_on(interactions: pl.LazyFrame, items: pl.DataFrame) -> pl.DataFrame:
    return (
        interactions.join(items.lazy().select("parent_asin"), on="parent_asin", how="semi")
        .select("user_id", "parent_asin", "rating", "timestamp", "line")
        .collect()
    )


def select_kcore(
    interactions: pl.LazyFrame,
    items: pl.DataFrame,
    text_field: str,
    k: int = 5,
    max_items: int | None = None,
    seed: int = 0,
    image_field: str = "image_large",
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Step 1 of ``kcore``: return (interactions, candidate items, counts of what each filter kept)."""
    counts = {"items_parsed": items.height, **exclusion_counts(items, text_field, image_field)}
    pool = eligible_items(items, text_field, 1, image_field)
    counts["items_with_text_and_image"] = pool.height
    # ids as categoricals while the frame is large: a quarter of the memory of the strings
    ids = [pl.col("user_id").cast(pl.Categorical), pl.col("parent_asin").cast(pl.Categorical)]
    frame = _interactions_on(interactions.with_columns(ids), pool.with_columns(ids[1]))
    counts["interactions_on_eligible_items"] = frame.height
    frame = dedupe_earliest(frame)
    counts["interactions_deduplicated"] = frame.height
    if max_items is not None:
        degree = frame.group_by("parent_asin").len()
        candidates = degree.filter(pl.col("len") >= k).sort("parent_asin")
        if candidates.height > max_items:
            chosen = candidates.sample(max_items, seed=seed, shuffle=False)
            frame = frame.join(chosen.select("parent_asin"), on="parent_asin", how="semi")
        counts["items_presampled"] = min(max_items, candidates.height)
    frame = kcore(frame, k).with_columns(pl.col("user_id", "parent_asin").cast(pl.String))
    counts["kcore_users"] = frame["user_id"].n_unique()
    counts["kcore_items"] = frame["parent_asin"].n_unique()
    counts["kcore_interactions"] = frame.height
    candidates = pool.join(frame.select("parent_asin").unique(), on="parent_asin", how="semi").sort("parent_asin")
    return frame, candidates, counts


def select_authors_code(
    interactions: pl.LazyFrame,
    items: pl.DataFrame,
    text_field: str = "title",
    n_users: int = 1000,
    min_title_chars: int = 5,
    min_rating: float = 4.0,
    min_user_reviews: int = 5,
    max_user_reviews: int = 20,
) -> tuple[pl.DataFrame, dict]:
    """Step 1 of ``authors_code``: return (candidate items, counts). See the module docstring."""
    counts = {"items_parsed": items.height, **exclusion_counts(items, text_field)}
    pool = eligible_items(items, "title", min_title_chars, "image_large")
    if text_field != "title":  # the configured text must exist too, or the item cannot be completed
        pool = pool.join(eligible_items(items, text_field, 1).select("parent_asin"), on="parent_asin", how="semi")
        pool = pool.with_columns(item_text(text_field).str.strip_chars().alias("text"))
    counts["items_with_title_and_image"] = pool.height
    liked = dedupe_earliest(_interactions_on(interactions, pool).filter(pl.col("rating") >= min_rating))
    counts["positive_reviews"] = liked.height
    history = (
        liked.sort(["timestamp", "line"])
        .with_columns(pl.int_range(pl.len()).over("user_id").alias("rank"), pl.len().over("user_id").alias("n"))
        .filter((pl.col("n") >= min_user_reviews) & (pl.col("rank") < max_user_reviews))
    )
    users = (
        history.group_by("user_id")
        .agg(pl.len().alias("n"), pl.col("line").min().alias("first_line"))
        .sort(["n", "first_line"])
        .head(n_users)
    )
    counts["users_selected"] = users.height
    chosen = history.join(users.select("user_id"), on="user_id", how="semi")
    candidates = pool.join(chosen.select("parent_asin").unique(), on="parent_asin", how="semi").sort("parent_asin")
    counts["candidate_items"] = candidates.height
    return candidates, counts


def finalize_rec_set(
    selection: str,
    interactions: pl.LazyFrame,
    candidates: pl.DataFrame,
    images: pl.DataFrame,
    k: int = 5,
    kcore_interactions: pl.DataFrame | None = None,
    min_user_interactions: int = 8,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Step 2: drop items whose image failed and return (rec interactions, rec items, counts).

    ``images`` is the image manifest (``parent_asin``, ``ok``, ``path``). For ``kcore`` the k-core is
    run again on ``kcore_interactions``; for ``authors_code`` all raw reviews on the item set are taken
    and users with fewer than ``min_user_interactions`` are dropped.
    """
    ok = images.filter(pl.col("ok")).select("parent_asin", "image_path")
    kept = candidates.join(ok, on="parent_asin", how="inner")
    counts = {"candidate_items": candidates.height, "items_without_image": candidates.height - kept.height}
    if selection == "kcore":
        if kcore_interactions is None:
            raise ValueError("selection 'kcore' needs the k-core interactions of step 1")
        frame = kcore(kcore_interactions.join(kept.select("parent_asin"), on="parent_asin", how="semi"), k)
    elif selection == "authors_code":
        frame = dedupe_earliest(_interactions_on(interactions, kept))
        frame = frame.filter(pl.len().over("user_id") >= min_user_interactions)
    else:
        raise ValueError(f"unknown selection {selection!r}; known: ['kcore', 'authors_code']")
    frame = frame.sort(["user_id", "timestamp", "line"])
    rec_items = kept.join(frame.select("parent_asin").unique(), on="parent_asin", how="semi").sort("parent_asin")
    counts.update(users=frame["user_id"].n_unique(), items=rec_items.height, interactions=frame.height)
    return frame, rec_items, counts
