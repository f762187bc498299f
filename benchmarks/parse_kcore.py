"""Benchmark: parse + 5-core of a large synthetic category, ours (polars, streaming) vs. pandas.

Generates a category of ``--reviews`` reviews with the demo generator (same raw format and flaws as
the demo: malformed lines, duplicates, reviews without user id), then runs in separate processes, on
the same files:

- **ours**: :func:`mmpcbench.data.parse.parse_category` (streaming, block by block) followed by
  :func:`mmpcbench.data.select.select_kcore` (title + MAIN image filter, dedupe, iterative 5-core);
- **pandas**: the straightforward implementation of the same steps — read each gzip line with
  ``json.loads`` (skipping the lines that fail), build DataFrames of the needed fields, filter items,
  ``drop_duplicates`` keeping the earliest, and the iterative k-core with ``groupby().transform``.

It checks that both give the same k-core, and prints wall time, rows/s and peak RSS of each, and the
ratios. Usage::

    python benchmarks/parse_kcore.py                 # 10M reviews (the figures in docs/benchmarks.md)
    python benchmarks/parse_kcore.py --reviews 1e6   # quicker
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = 0.0
CATEGORY = "Home_and_Kitchen"


def generate(root: Path, n_reviews: int, seed: int) -> None:
    from mmpcbench.demo import CatalogueSize, generate_catalogue

    mean = 6.0
    n_users = int(n_reviews / mean)
    size = CatalogueSize(n_items=max(1000, n_reviews // 50), n_users=n_users, mean_reviews_per_user=mean)
    generate_catalogue(root, [CATEGORY], "https://example.invalid/images", seed=seed, size=size, write_images=False)


def run_ours(root: Path, out: Path) -> dict:
    import polars as pl

    from mmpcbench.data.parse import parse_category
    from mmpcbench.data.select import select_kcore

    global START
    START = time.perf_counter()  # after the imports, as for pandas

    report = parse_category(
        root / f"raw/review_categories/{CATEGORY}.jsonl.gz", root / f"raw/meta_categories/meta_{CATEGORY}.jsonl.gz",
        out / "interactions.parquet", out / "items.parquet", out / "report.json",
    )
    frame, _, counts = select_kcore(pl.scan_parquet(out / "interactions.parquet"),
                                    pl.read_parquet(out / "items.parquet"), "title", k=5)
    seconds = time.perf_counter() - START
    frame.select("user_id", "parent_asin").sort("user_id", "parent_asin").write_parquet(out / "ours_core.parquet")
    return {"lines": report["reviews"]["lines"], "core_interactions": frame.height, "seconds": seconds}


def run_pandas(root: Path, out: Path) -> dict:
    import gzip
    import html

    import pandas as pd

    global START
    START = time.perf_counter()  # after the imports, as for ours

    def read(path, fields):
        columns = {name: [] for name in fields}
        lines = 0
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                lines += 1
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                for name in fields:
                    columns[name].append(record.get(name))
        return pd.DataFrame(columns), lines

    reviews, lines = read(root / f"raw/review_categories/{CATEGORY}.jsonl.gz",
                          ["user_id", "parent_asin", "rating", "timestamp"])
    reviews = reviews.dropna(subset=["user_id", "parent_asin", "timestamp"])
    reviews = reviews[reviews["user_id"] != ""]
    meta, _ = read(root / f"raw/meta_categories/meta_{CATEGORY}.jsonl.gz", ["parent_asin", "title", "images"])
    meta = meta.drop_duplicates("parent_asin")
    title = meta["title"].fillna("").map(lambda t: html.unescape(t).strip())
    has_main = meta["images"].map(
        lambda images: any(i.get("variant") == "MAIN" and i.get("large") for i in images or [])
    )
    keep = set(meta.loc[(title != "") & has_main, "parent_asin"])
    reviews = reviews[reviews["parent_asin"].isin(keep)]
    reviews = reviews.sort_values("timestamp", kind="stable").drop_duplicates(["user_id", "parent_asin"], keep="first")
    while True:
        user_degree = reviews.groupby("user_id")["parent_asin"].transform("size")
        item_degree = reviews.groupby("parent_asin")["user_id"].transform("size")
        kept = reviews[(user_degree >= 5) & (item_degree >= 5)]
        if len(kept) == len(reviews):
            break
        reviews = kept
    seconds = time.perf_counter() - START
    reviews[["user_id", "parent_asin"]].sort_values(["user_id", "parent_asin"]).to_parquet(
        out / "pandas_core.parquet", index=False)
    return {"lines": lines, "core_interactions": len(reviews), "seconds": seconds}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, root: Path, out: Path) -> None:
    # timed: from the start of the work (imports done) to the 5-core in memory; the sorted copy
    # written for the equality check is left out of both
    global START
    START = time.perf_counter()
    result = (run_ours if which == "ours" else run_pandas)(root, out)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviews", type=float, default=10e6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=REPO / "benchmarks/output")
    parser.add_argument("--child", choices=["ours", "pandas"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.workdir / f"catalogue_{int(args.reviews)}"
    if args.child:
        child(args.child, root, args.workdir)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not (root / f"raw/review_categories/{CATEGORY}.jsonl.gz").exists():
        started = time.perf_counter()
        generate(root, int(args.reviews), args.seed)
        print(f"generated {int(args.reviews):,} reviews in {time.perf_counter() - started:.0f} s")
    raw = root / f"raw/review_categories/{CATEGORY}.jsonl.gz"
    print(f"reviews file: {raw.stat().st_size / 2**20:.0f} MiB gzip")
    results = {}
    for which in ("ours", "pandas"):
        output = subprocess.run([sys.executable, __file__, "--reviews", str(args.reviews), "--workdir",
                                 str(args.workdir), "--child", which], capture_output=True, text=True, check=True)
        results[which] = json.loads(output.stdout.strip().splitlines()[-1])
    import polars as pl

    same = pl.read_parquet(args.workdir / "ours_core.parquet").equals(
        pl.read_parquet(args.workdir / "pandas_core.parquet"))
    print(f"{'':8} {'seconds':>9} {'lines/s':>12} {'peak RSS':>10} {'5-core rows':>12}")
    for which, result in results.items():
        print(f"{which:8} {result['seconds']:9.1f} {result['lines'] / result['seconds']:12,.0f} "
              f"{result['peak_rss_mb']:8,.0f}MB {result['core_interactions']:12,}")
    ours, pandas = results["ours"], results["pandas"]
    print(f"speed-up: {pandas['seconds'] / ours['seconds']:.1f}x   peak RSS ratio (pandas/ours): "
          f"{pandas['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x   same 5-core: {same}")


if __name__ == "__main__":
    main()
