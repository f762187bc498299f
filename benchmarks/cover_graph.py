"""Can FREEDOM's cover graph add to its title graph on the demo? (#21; docs/calibration.md)

Two measurements on a finished demo (``make demo``), both from the files the pipeline wrote:

1. **Neighbours**: for each test interaction, is the held-out item among the ``k`` nearest neighbours
   (cosine; by the titles' vectors, by the covers', or drawn at random) of one of the user's training
   items — and how often only through the covers'?
2. **A sweep** of FREEDOM's item-graph settings (``mm_image_weight`` × ``knn_k``) with the pipeline's own
   RecBench training (``train_variant``; the demo config's schedule and FREEDOM parameters, ``--seeds``):
   Recall@20 of the items' own features (``original``) against T→I ``empty`` and ``shuffled`` at rate
   1.0, mean over the categories ± the mean seed std, and whether ``original`` beats ``empty`` beyond the two spreads (Table 6's rule).

    python benchmarks/cover_graph.py demo_output
    python benchmarks/cover_graph.py demo_output --weights 0.1 0.5 --ks 10 --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from snakemake.utils import update_config

from mmpcbench.recsys.pipeline import RecPlan, train_variant

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("Toys_and_Games", "Video_Games")
VARIANTS = {"original": 0.0, "t2i-empty": 1.0, "t2i-shuffled": 1.0}


def neighbours(root: Path, category: str, k: int = 10, seed: int = 0) -> dict[str, float]:
    """Share of test interactions whose item is a k-neighbour of one of the user's train items."""
    inter = pl.read_csv(root / f"data/rec/{category}/{category}.inter", separator="\t")
    n_items = pl.read_csv(root / f"data/rec/{category}/i_id_mapping.csv").height
    lists = {}
    for modality in ("text", "image"):
        x = np.load(root / f"results/features/{category}/original/rate_0.0/{modality}_feat.npy").astype(float)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        similarity = x @ x.T
        np.fill_diagonal(similarity, -np.inf)
        lists[modality] = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    rng = np.random.default_rng(seed)
    lists["random"] = np.array([rng.choice(np.delete(np.arange(n_items), i), k, replace=False) for i in range(n_items)])
    history = dict(inter.filter(pl.col("x_label") == 0).group_by("userID").agg("itemID").iter_rows())
    test = inter.filter(pl.col("x_label") == 2)
    reached = {m: np.array([item in set(lists[m][history.get(user, [])].ravel())
                            for user, item in zip(test["userID"], test["itemID"])]) for m in lists}
    return {**{m: float(r.mean()) for m, r in reached.items()},
            "image only": float((reached["image"] & ~reached["text"]).mean()), "test interactions": test.height}


def demo_recbench() -> dict:
    """The demo run's ``recbench`` section: config.yaml with demo/config.yaml over it, as Snakemake merges."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "demo/config.yaml").read_text()))
    return config["recbench"]


def sweep(root: Path, weights, ks, seeds) -> list[dict]:
    recbench = demo_recbench()
    settings, base = recbench["train"], recbench["recommenders"]["FREEDOM"]["params"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in ks:
            for weight in weights:
                recommenders = {"FREEDOM": {"params": {**base, "knn_k": k, "mm_image_weight": weight}, "grid": {}}}
                means, stds = {}, {}
                for variant, rate in VARIANTS.items():
                    plan = RecPlan(rates=[rate], recommenders=recommenders, settings=settings, seeds=list(seeds),
                                   device="cpu", select_on="valid")
                    runs = []
                    for category in CATEGORIES:
                        result = train_variant(
                            inter_path=root / f"data/rec/{category}/{category}.inter",
                            item_map_path=root / f"data/rec/{category}/i_id_mapping.csv",
                            features_dir=root / f"results/features/{category}/{variant}",
                            out_path=Path(tmp) / "result.json", plan=plan)
                        runs.append(result["recommenders"]["FREEDOM"][str(rate)])
                    means[variant] = float(np.mean([r["test_mean"]["recall@20"] for r in runs]))
                    stds[variant] = float(np.mean([r["test_std"]["recall@20"] for r in runs]))
                beats = means["original"] - means["t2i-empty"] > stds["original"] + stds["t2i-empty"]
                rows.append({"knn_k": k, "mm_image_weight": weight, **{f"{v} R@20": f"{means[v]:.4f} ± {stds[v]:.4f}"
                             for v in VARIANTS}, "original beats empty": beats})
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo_output", type=Path)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 5, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    for category in CATEGORIES:
        print(category, "test items reached through 10 neighbours:", neighbours(args.demo_output, category))
    sweep(args.demo_output, args.weights, args.ks, args.seeds)


if __name__ == "__main__":
    main()
