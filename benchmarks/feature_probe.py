"""How much of what the demo's users choose by does each modality's feature vector hold? (#21, the
sensitive demo.)

The demo's users choose by a colour, a product type, a pattern and a brand
(``mmpcbench/demo/catalogue.py``); the cover draws the pattern but not the brand, the text names the
brand but not the pattern. For each category of a finished demo run, this reads the rec items' true
attributes (``mirror/attributes_{category}.csv``, written by the generator) and fits a 5-fold
cross-validated multinomial logistic regression (scikit-learn) from each feature set the recommenders
see to each attribute:

- ``text``: the text embeddings (all-MiniLM-L6-v2, L2-normalised) — what RecBench's text features are;
- ``image raw``: the image encoder's raw vectors (the paper config's ``image_normalise: false``);
- ``image L2``: the same vectors L2-normalised;
- ``image std``: standardised per dimension (what a probe can read at best, not what a model gets).

It prints the accuracy per feature set and attribute beside the majority class's share, and the
features' scale (mean row norm). Nothing is trained on the benchmark; the probe only says whether the
signal is in the vectors at all.

    python benchmarks/feature_probe.py demo_output     # after `make demo`
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
ATTRIBUTES = ("colour", "type", "pattern", "brand", "material")


def probe(root: Path, category: str, folds: int = 5) -> list[dict]:
    items = pl.read_parquet(root / f"data/interim/{category}/rec_items.parquet").select("parent_asin")
    truth = pl.read_csv(root / f"mirror/attributes_{category}.csv")
    labels = items.join(truth, on="parent_asin", how="left").sort("parent_asin")
    features = {}
    for modality in ("text", "image"):
        frame = pl.read_parquet(root / f"results/embeddings/{category}/{modality}.parquet").sort("parent_asin")
        assert frame["parent_asin"].to_list() == labels["parent_asin"].to_list()
        features[modality] = frame["embedding"].to_numpy().astype(np.float64)
    raw = features["image"]
    sets = {"text": features["text"], "image raw": raw,
            "image L2": raw / np.linalg.norm(raw, axis=1, keepdims=True),
            "image std": StandardScaler().fit_transform(raw)}
    out = []
    for attribute in ATTRIBUTES:
        known = labels[attribute].is_not_null().to_numpy()
        y = labels[attribute].to_numpy()[known]
        majority = max(np.mean(y == value) for value in set(y))
        for name, x in sets.items():
            model = LogisticRegression(max_iter=2000, C=1.0)
            accuracy = cross_val_score(model, x[known], y, cv=folds).mean()
            out.append({"category": category, "attribute": attribute, "features": name, "accuracy": accuracy,
                        "majority": majority, "n_items": int(known.sum()),
                        "mean_norm": float(np.linalg.norm(x, axis=1).mean())})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo_output", type=Path, help="the demo's output folder (demo_output)")
    parser.add_argument("--categories", nargs="+", default=["Toys_and_Games", "Video_Games"])
    args = parser.parse_args()
    rows = [row for category in args.categories for row in probe(args.demo_output, category)]
    table = pl.DataFrame(rows)
    with pl.Config(tbl_rows=100, tbl_cols=10, float_precision=3):
        print(table.pivot(on="features", index=["category", "attribute", "majority", "n_items"], values="accuracy"))
        print(table.group_by("features", maintain_order=True).agg(pl.col("mean_norm").mean()))


if __name__ == "__main__":
    main()
