"""Deterministic generator of a synthetic catalogue in the exact raw format of Amazon Reviews 2023.

Each product has five attributes. As in a real catalogue, the two modalities overlap but neither holds
everything: the cover draws the product type (shape), colour (fill), pattern (overlay) and material
(background texture); the title and description name the type, colour, material and the **brand** — the
pattern (the item's style) is only seen, the brand only read. Users choose by a colour, a product type, a
pattern and a brand (``_draw_choices``), so each modality carries something about who buys an item that
the other lacks: losing either one costs a recommender signal, which is what makes the demo's RecBench
able to tell real features from none (docs/calibration.md).

The files are realistic about flaws, in known, seeded amounts: items without a description, without a
MAIN image or without any image, HTML entities in titles, empty titles, duplicate (user, item) reviews,
reviews without ``user_id``, malformed JSON lines in both files, reviews of items that have no metadata,
an image URL that does not exist (a 404) and one whose bytes are HTML instead of a JPEG.

Written files (for each category, under ``out_dir``)::

    raw/review_categories/{Category}.jsonl.gz      reviews, one JSON object per line
    raw/meta_categories/meta_{Category}.jsonl.gz   item metadata
    images/{Category}/{parent_asin}.jpg            cover images, referenced by ``image_base_url``
    flaws_{Category}.json                          what was injected, for tests and docs/demo.md
    attributes_{Category}.csv                      each item's drawn attributes (type, colour, pattern,
                                                   material, brand), for probes and tests

Everything is a pure function of ``seed`` and the size arguments: two runs give byte-identical files
(gzip is written with ``mtime=0``).
"""

from __future__ import annotations

import gzip
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mmpcbench.demo.covers import draw_cover
# the vocabulary is re-exported here: callers name mmpcbench.demo.catalogue.COLOURS and its siblings
from mmpcbench.demo.vocabulary import BRANDS, COLOURS, MATERIALS, PATTERNS, PRODUCT_TYPES, SHAPES  # noqa: F401
from mmpcbench.io import atomic_path
from mmpcbench.seeds import derive_seed


@dataclass(frozen=True)
class CatalogueSize:
    """How big a generated category is. The defaults give a demo category that keeps a few hundred
    items and a few thousand interactions after the 5-core filter."""

    n_items: int = 700
    n_users: int = 2600
    mean_reviews_per_user: float = 6.0


def generate_catalogue(
    out_dir: str | Path,
    categories: list[str],
    image_base_url: str,
    seed: int = 0,
    size: CatalogueSize = CatalogueSize(),
    write_images: bool = True,
    chunk_rows: int = 500_000,
) -> dict[str, dict]:
    """Write the raw files of ``categories`` under ``out_dir`` and return the injected flaws per category.

    ``image_base_url`` is the URL prefix of the images folder (``file:///abs/path/images`` for the demo);
    image URLs are ``{image_base_url}/{Category}/{parent_asin}.jpg``.
    """
    out = Path(out_dir)
    flaws_by_category = {}
    for index, category in enumerate(categories):
        if category not in PRODUCT_TYPES:
            raise ValueError(f"unknown category {category!r}; known: {sorted(PRODUCT_TYPES)}")
        rng = np.random.default_rng(derive_seed(seed, category))
        items = _make_items(category, size.n_items, rng)
        flaws = _write_meta(out, category, items, image_base_url.rstrip("/"), rng)
        flaws.update(_write_reviews(out, category, items, size, rng, chunk_rows))
        if write_images:
            _write_images(out / "images" / category, items, flaws)
        with atomic_path(out / f"attributes_{category}.csv") as tmp:
            _attribute_names(items, category).write_csv(tmp)
        with atomic_path(out / f"flaws_{category}.json") as tmp:
            tmp.write_text(json.dumps(flaws, indent=1, sort_keys=True))
        flaws_by_category[category] = flaws
    return flaws_by_category


# --- items ----------------------------------------------------------------------------------------


def _asins(rng: np.random.Generator, n: int, prefix: str, length: int) -> list[str]:
    """``n`` distinct random ids of ``length`` upper-case letters and digits after ``prefix``."""
    alphabet = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
    codes = alphabet[rng.integers(0, len(alphabet), size=(n * 2, length), dtype=np.uint8)]
    strings = codes.view(f"S{length}").ravel()
    _, first = np.unique(strings, return_index=True)
    distinct = strings[np.sort(first)][:n]
    if len(distinct) < n:
        raise ValueError(f"could not draw {n} distinct ids of length {length}")
    return [prefix + s.decode() for s in distinct]


def _make_items(category: str, n_items: int, rng: np.random.Generator) -> pl.DataFrame:
    types = PRODUCT_TYPES[category]
    return pl.DataFrame(
        {
            "parent_asin": _asins(rng, n_items, "B0", 8),
            "type": rng.integers(0, len(types), n_items),
            "colour": rng.integers(0, len(COLOURS), n_items),
            "pattern": rng.integers(0, len(PATTERNS), n_items),
            "material": rng.integers(0, len(MATERIALS), n_items),
            "brand": rng.integers(0, len(BRANDS), n_items),
            # popularity: a mild tail (log-normal, σ 0.6); with a heavy one a user's test item is mostly one
            # of a few popular items, whose ids the models learn without content (docs/calibration.md)
            "popularity": rng.lognormal(0.0, 0.6, n_items),
        }
    ).with_columns(pl.lit(category).alias("category"))


def _vocabulary(category: str) -> dict[str, list[str]]:
    """Each item attribute's values, in the order of the integer codes ``_make_items`` draws."""
    return {"type": PRODUCT_TYPES[category], "colour": list(COLOURS), "pattern": PATTERNS,
            "material": list(MATERIALS), "brand": BRANDS}


def _attribute_names(items: pl.DataFrame, category: str) -> pl.DataFrame:
    """Each item's attributes by name (what its cover draws and its text names)."""
    return items.select("parent_asin", *[pl.Series(key, words).gather(items[key]) for key, words in
                                         _vocabulary(category).items()])


def _title(category: str, item: dict, rng: np.random.Generator) -> str:
    colour = list(COLOURS)[item["colour"]]
    material = list(MATERIALS)[item["material"]]
    kind = PRODUCT_TYPES[category][item["type"]]
    brand = BRANDS[item["brand"]]
    # the pattern is not written: the cover alone shows it
    templates = [
        "{brand} {Colour} {Material} {Kind}",
        "{Colour} {Kind} by {brand} - {Material}",
        "{brand} {Kind} in {Colour} ({Material})",
    ]
    template = templates[int(rng.integers(0, len(templates)))]
    return template.format(
        brand=brand,
        Colour=colour.title(),
        Material=material.title(),
        Kind=kind.title(),
    )


def _description(category: str, item: dict) -> list[str]:
    colour = list(COLOURS)[item["colour"]]
    material = list(MATERIALS)[item["material"]]
    kind = PRODUCT_TYPES[category][item["type"]]
    shape = SHAPES[item["type"]]
    brand = BRANDS[item["brand"]]
    return [
        f"A {colour} {kind} made of {material}, from {brand}.",
        f"Its {shape}-shaped body makes it easy to recognise.",
    ]


def _write_meta(
    out: Path, category: str, items: pl.DataFrame, image_base_url: str, rng: np.random.Generator
) -> dict:
    n = items.height
    order = rng.permutation(n)
    # disjoint sets of flawed items, chosen by position in a seeded permutation
    cuts = np.cumsum([int(0.08 * n), int(0.03 * n), int(0.02 * n), int(0.03 * n), max(2, int(0.01 * n))])
    no_description, no_main_image, no_images, html_entities, empty_title = np.split(order[: cuts[-1]], cuts[:-1])
    missing_url_item, html_bytes_item = order[cuts[-1]], order[cuts[-1] + 1]
    asins = items["parent_asin"].to_list()
    rows = items.to_dicts()
    lines: list[str] = []
    flags = {
        "no_description": set(no_description.tolist()),
        "no_main_image": set(no_main_image.tolist()),
        "no_images": set(no_images.tolist()),
        "html_entities": set(html_entities.tolist()),
        "empty_title": set(empty_title.tolist()),
    }
    for i, item in enumerate(rows):
        asin = item["parent_asin"]
        title = _title(category, item, rng)
        if i in flags["html_entities"]:
            title = title.replace(" - ", " &amp; ").replace("(", "&quot;").replace(")", "&quot;") + " &#39;24"
        if i in flags["empty_title"]:
            title = ""
        url = f"{image_base_url}/{category}/{asin}.jpg"
        if i == missing_url_item:
            url = f"{image_base_url}/{category}/{asin}-missing.jpg"  # no such file: a 404
        hi_res = url if rng.random() < 0.7 else None
        images = [
            {"thumb": url, "large": url, "variant": "MAIN", "hi_res": hi_res},
            {"thumb": url, "large": url, "variant": "PT01", "hi_res": None},
        ]
        if i in flags["no_main_image"]:
            images = images[1:]
        if i in flags["no_images"]:
            images = []
        record = {
            "main_category": category.replace("_", " "),
            "title": title,
            "average_rating": round(float(rng.uniform(3.0, 5.0)), 1),
            "rating_number": int(rng.integers(1, 5000)),
            "features": [f"{list(MATERIALS)[item['material']].title()} build", "Ships in a gift box"],
            "description": [] if i in flags["no_description"] else _description(category, item),
            "price": None if rng.random() < 0.3 else round(float(rng.uniform(3, 90)), 2),
            "images": images,
            "videos": [],
            "store": BRANDS[item["brand"]],
            "categories": [category.replace("_", " ")],
            "details": {"Colour": list(COLOURS)[item["colour"]], "Material": list(MATERIALS)[item["material"]]},
            "parent_asin": asin,
            "bought_together": None,
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    # malformed lines: a truncated object and a line that is not JSON at all
    lines.insert(n // 3, lines[n // 3][: len(lines[n // 3]) // 2])
    lines.insert(2 * n // 3, "<<< not json >>>")
    path = out / "raw" / "meta_categories" / f"meta_{category}.jsonl.gz"
    _write_gzip_lines(path, ["\n".join(lines) + "\n"])
    return {
        **{name: sorted(asins[i] for i in members) for name, members in flags.items()},
        "image_404": [asins[missing_url_item]],
        "image_not_jpeg": [asins[html_bytes_item]],
        "meta_malformed_lines": 2,
    }


# --- reviews --------------------------------------------------------------------------------------


def _cell_sampler(keys: np.ndarray, weights: np.ndarray, n_keys: int):
    """Return (order, cumulative weights, start, end per key) to draw an item within a key's cell
    with probability proportional to ``weights``, vectorised over many draws."""
    order = np.argsort(keys, kind="stable")
    cum = np.cumsum(weights[order])
    sorted_keys = keys[order]
    start = np.searchsorted(sorted_keys, np.arange(n_keys), side="left")
    end = np.searchsorted(sorted_keys, np.arange(n_keys), side="right")
    return order, cum, start, end


def _draw(sampler, cell: np.ndarray, u: np.ndarray) -> np.ndarray:
    order, cum, start, end = sampler
    s, e = start[cell], end[cell]
    empty = s == e
    s = np.where(empty, 0, s)
    e = np.where(empty, len(cum), e)
    low = np.where(s > 0, cum[np.maximum(s - 1, 0)], 0.0)
    high = cum[e - 1]
    position = np.searchsorted(cum, low + u * (high - low), side="right")
    return order[np.clip(position, s, e - 1)]


def _write_reviews(
    out: Path,
    category: str,
    items: pl.DataFrame,
    size: CatalogueSize,
    rng: np.random.Generator,
    chunk_rows: int,
) -> dict:
    """Draw the users and their reviews, inject the review flaws, write the reviews file; return the
    flaw counts. The draws from ``rng`` happen in a fixed order: users, choices, times, fields, flaws."""
    users = _draw_users(category, items.height, size, rng)
    reviewer, item, rating = _draw_choices(category, items, users, rng)
    timestamp = _draw_times(users["per_user"], rng)
    reviews = _review_records(items, users["ids"], reviewer, item, rating, timestamp, rng)
    reviews, extra_lines, flaws = _review_flaws(reviews, rng)
    path = out / "raw" / "review_categories" / f"{category}.jsonl.gz"
    _write_gzip_lines(path, _chunks_with_lines(reviews, extra_lines, chunk_rows, rng))
    return {"reviews": reviews.height, **flaws}


def _draw_users(category: str, n_items: int, size: CatalogueSize, rng: np.random.Generator) -> dict:
    """Each user's review count, id and latent preferences (a colour, a product type, a pattern, a brand)."""
    # reviews per user: 1 + floor of a log-normal draw; E[1 + floor(X)] ≈ E[X] + 0.5, so E[X] is set
    # to mean - 0.5 and the configured mean is the realised one
    sigma = 0.9
    mu = math.log(max(size.mean_reviews_per_user - 0.5, 0.5)) - sigma**2 / 2
    per_user = 1 + np.floor(rng.lognormal(mu, sigma, size.n_users)).astype(np.int64)
    per_user = np.minimum(per_user, n_items // 2)
    ids = np.array(_asins(rng, size.n_users, "A", 27))
    return {
        "per_user": per_user,
        "ids": ids,
        "colour": rng.integers(0, len(COLOURS), size.n_users),
        "type": rng.integers(0, len(PRODUCT_TYPES[category]), size.n_users),
        "pattern": rng.integers(0, len(PATTERNS), size.n_users),
        "brand": rng.integers(0, len(BRANDS), size.n_users),
    }


# How a review's item is chosen: (share of reviews, the item attributes whose cell the user's favourites
# pick). Colour and type are in both modalities, the pattern only on the cover, the brand only in the text;
# the rest follow popularity alone.
CHOICES = ((0.25, ("colour", "type")), (0.30, ("pattern", "type")), (0.30, ("brand", "type")))


def _draw_choices(category: str, items: pl.DataFrame, users: dict, rng: np.random.Generator):
    """Which item each review is of, and its rating: users choose by their preferences (``CHOICES``: a
    cell of two attributes, or popularity alone) and rate by how many of them the item meets.
    Returns (reviewer index, item index, rating) per review."""
    per_user = users["per_user"]
    n_reviews = int(per_user.sum())
    sizes = {key: len(_vocabulary(category)[key]) for key in ("colour", "type", "pattern", "brand")}
    attribute = {key: items[key].to_numpy() for key in sizes}
    popularity = items["popularity"].to_numpy()
    reviewer = np.repeat(np.arange(len(per_user)), per_user)
    favourite = {key: users[key][reviewer] for key in sizes}
    choice = rng.random(n_reviews)
    u = rng.random(n_reviews)
    # popularity alone for the share no cell claims
    item = _draw(_cell_sampler(np.zeros(len(popularity), dtype=np.int64), popularity, 1),
                 np.zeros(n_reviews, dtype=np.int64), u)
    bounds = np.cumsum([share for share, _ in CHOICES])
    for (share, (first, second)), upper in zip(CHOICES, bounds):
        sampler = _cell_sampler(attribute[first] * sizes[second] + attribute[second], popularity,
                                sizes[first] * sizes[second])
        chosen = (choice >= upper - share) & (choice < upper)
        cell = favourite[first][chosen] * sizes[second] + favourite[second][chosen]
        item[chosen] = _draw(sampler, cell, u[chosen])
    match = sum((attribute[key][item] == favourite[key]).astype(float) for key in sizes)
    rating = np.clip(np.round(2.4 + 0.6 * match + rng.normal(0, 0.9, n_reviews)), 1, 5)
    return reviewer, item, rating


def _draw_times(per_user: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Review times (ms): each user reviews over a span of time, in order, starting in 2015..2023."""
    n_reviews = int(per_user.sum())
    start = rng.integers(1_420_070_400_000, 1_672_531_200_000, len(per_user))
    gaps = rng.integers(3_600_000, 90 * 86_400_000, n_reviews)
    first_of_user = np.concatenate([[0], np.cumsum(per_user)[:-1]])
    cum_gaps = np.cumsum(gaps)
    reviewer = np.repeat(np.arange(len(per_user)), per_user)
    return start[reviewer] + cum_gaps - np.repeat(cum_gaps[first_of_user], per_user)


def _review_records(items: pl.DataFrame, user_ids: np.ndarray, reviewer: np.ndarray, item: np.ndarray,
                    rating: np.ndarray, timestamp: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """The review records, with every field of the Amazon 2023 format, in its column order."""
    n_reviews = len(item)
    asins = np.array(items["parent_asin"].to_list())
    reviews = pl.DataFrame(
        {
            "rating": rating,
            "title": np.array(["Great", "Okay", "Not for me", "Love it", "As described"])[
                rng.integers(0, 5, n_reviews)
            ],
            "text": np.array(
                [
                    "Works as expected.",
                    "The colour is exactly as in the picture.",
                    "Smaller than I thought.",
                    "Would buy again.",
                ]
            )[rng.integers(0, 4, n_reviews)],
            "asin": asins[item],
            "parent_asin": asins[item],
            "user_id": user_ids[reviewer],
            "timestamp": timestamp,
            "helpful_vote": rng.poisson(0.5, n_reviews),
            "verified_purchase": rng.random(n_reviews) < 0.9,
        }
    ).with_columns(pl.lit([], dtype=pl.List(pl.Struct({"small_image_url": pl.String}))).alias("images"))
    return reviews.select(
        "rating", "title", "text", "images", "asin", "parent_asin", "user_id", "timestamp",
        "helpful_vote", "verified_purchase",
    )


def _review_flaws(reviews: pl.DataFrame, rng: np.random.Generator) -> tuple[pl.DataFrame, list[str], dict]:
    """Inject the review flaws: duplicate (user, item) reviews (a later re-review) as rows, and as extra
    lines reviews without ``user_id``, reviews of an item without metadata, two malformed lines and a
    blank line. Returns (reviews with the duplicates, the extra lines, their counts)."""
    n_reviews = reviews.height
    n_dup = max(3, n_reviews // 200)
    duplicates = reviews.sample(n_dup, seed=int(rng.integers(2**31))).with_columns(
        (pl.col("timestamp") + 86_400_000).alias("timestamp")
    )
    extra_lines = []
    for _ in range(3):
        record = reviews.row(int(rng.integers(n_reviews)), named=True)
        record.pop("user_id")
        extra_lines.append(json.dumps(record))
    orphan_asin = "B0NOMETA" + f"{int(rng.integers(100)):02d}"
    for _ in range(3):
        record = reviews.row(int(rng.integers(n_reviews)), named=True)
        record["parent_asin"] = record["asin"] = orphan_asin
        extra_lines.append(json.dumps(record))
    broken = json.dumps(reviews.row(0, named=True))
    extra_lines += [broken[: len(broken) // 2], '{"rating": 5.0, "user_id": "A1", }', ""]
    counts = {"duplicate_reviews": n_dup, "reviews_without_user_id": 3, "reviews_without_meta": 3,
              "review_malformed_lines": 2, "review_blank_lines": 1}
    return pl.concat([reviews, duplicates]), extra_lines, counts


def _chunks_with_lines(reviews: pl.DataFrame, extra_lines: list[str], chunk_rows: int,
                       rng: np.random.Generator) -> list[str]:
    """The reviews as JSON lines in chunks of ``chunk_rows``, each extra line placed in a random chunk."""
    chunks = []
    positions = rng.integers(0, max(1, reviews.height // chunk_rows + 1), len(extra_lines))
    for c, offset in enumerate(range(0, reviews.height, chunk_rows)):
        text = reviews.slice(offset, chunk_rows).write_ndjson()
        injected = [line for line, p in zip(extra_lines, positions) if p == c]
        chunks.append(text + "".join(line + "\n" for line in injected))
    return chunks


def _write_gzip_lines(path: Path, chunks: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(
            filename=path.name, fileobj=raw, mode="wb", compresslevel=1, mtime=0
        ) as gz:
            for chunk in chunks:
                gz.write(chunk.encode("utf-8"))


# --- images ---------------------------------------------------------------------------------------


def _write_images(folder: Path, items: pl.DataFrame, flaws: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    not_jpeg = set(flaws["image_not_jpeg"])
    for item in items.iter_rows(named=True):
        path = folder / f"{item['parent_asin']}.jpg"
        if item["parent_asin"] in not_jpeg:
            # what a CDN error page looks like when saved under a .jpg name
            path.write_bytes(b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>\n")
            continue
        image = draw_cover(
            int(item["type"]),
            list(COLOURS)[item["colour"]],
            PATTERNS[item["pattern"]],
            list(MATERIALS)[item["material"]],
        )
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        path.write_bytes(buffer.getvalue())
