"""Can RecBench see a known difference at MMRec-Baby scale? The calibration (#21) on a generated catalogue.

The demo's RecBench runs on a few hundred items with a short schedule; this runs the same calibration —
the graded corruptions ``degraded{25,50,75}`` of the ground truth, ``shuffled`` and ``empty``, both tasks,
VBPR, BM3 and FREEDOM — on a catalogue of MMRec's "Baby" size (about 7,050 items, 19,445 users and
160,792 interactions after the 5-core filter), with the **paper config's RecBench settings** (MMRec's
``overall.yaml``: Adam lr 1e-3, batch 2048, <= 1,000 epochs, early stop after 20 epochs without a better
validation Recall@20; MMRec's default hyper-parameters; three seeds; raw image vectors).

It is the pipeline itself, not a re-enactment: the script writes ``demo/config.yaml`` with its changes
(the demo's generator, at ``--scale`` times Baby's size; one category under the paper's 5-core; no
MLLM, only the controls) and runs ``snakemake`` to the calibration table (rule ``calibration_report``):
the catalogue is generated, filtered, split, encoded by the demo's offline encoders (all-MiniLM-L6-v2,
EfficientNet-Lite0), completed by the controls, scored by CQBench and trained on by RecBench, exactly as
in a run. It prints the table — each metric's value at p = 0 … 75 %, Spearman's rho and the **minimum
detectable severity** — and the data's size and the time taken, and keeps everything under ``--workdir``.

    python benchmarks/sensitivity.py --scale 0.1                 # CPU; the figures in docs/benchmarks.md
    python benchmarks/sensitivity.py --scale 1 --device cuda     # Baby size on a GPU
    python benchmarks/sensitivity.py --scale 0.1 --normalise     # L2-normalised image vectors (the demo's)

``--epochs`` caps the schedule (a smoke test; the table then says nothing about the paper's setting).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from snakemake.utils import update_config

ROOT = Path(__file__).resolve().parents[1]

# MMRec's Baby after its 5-core filter
BABY = {"users": 19_445, "items": 7_050, "interactions": 160_792}
# what the demo generator draws per Baby item / user to keep about Baby's size after the 5-core filter
# (measured at scale 0.1: 700 items, 4,300 users, 6.5 reviews each -> 691 items, 2,030 users, 18,335
# interactions; the filter keeps nearly every item and about half of the users)
RAW_PER_BABY = {"n_items": 1.0, "n_users": 2.2, "mean_reviews_per_user": 6.5}
CONTROLS = ["ground_truth", "shuffled", "empty", "degraded25", "degraded50", "degraded75"]


def overlay(args: argparse.Namespace) -> dict:
    """The config written over demo/config.yaml."""
    work = args.workdir.resolve()
    train = {"learning_rate": 0.001, "batch_size": 2048, "epochs": 1000, "patience": 20, "eval_step": 1,
             "valid_metric": "recall@20", "topk": [5, 10, 20, 50], "eval_batch_size": 4096}
    if args.epochs:
        train["epochs"] = args.epochs
    return {
        "data_dir": str(work / "data"),
        "results_dir": str(work / "results"),
        "logs_dir": str(work / "logs"),
        "categories": [args.category],
        "one_job_per_category": True,
        "demo": {
            "seed": args.seed,
            "n_items": round(BABY["items"] * RAW_PER_BABY["n_items"] * args.scale),
            "n_users": round(BABY["users"] * RAW_PER_BABY["n_users"] * args.scale),
            "mean_reviews_per_user": RAW_PER_BABY["mean_reviews_per_user"],
        },
        "download": {"base_url": str(work / "mirror") + "/"},
        "selection": {"strategy": "kcore"},
        "completion": {"models": [], "baselines": [], "controls": CONTROLS},
        "recbench": {
            "rates": [1.0],
            "imputations": [],
            "seeds": args.seeds,
            "device": args.device,
            "features": {"image_normalise": args.normalise},
            "train": train,
            "resources": {"gpu": 1 if args.device.startswith("cuda") else 0, "mem_mb": 16000, "runtime": 600,
                          "cpus_per_task": args.cores},
        },
    }


def run_config(args: argparse.Namespace) -> dict:
    """demo/config.yaml with ``overlay`` over it, less the demo's per-category selection overrides (one
    category here, under the paper's 5-core)."""
    config = yaml.safe_load((ROOT / "demo" / "config.yaml").read_text())
    update_config(config, overlay(args))  # as Snakemake merges config files
    config["selection"].pop("category_overrides", None)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="the catalogue's size as a share of Baby's")
    parser.add_argument("--device", default="cpu", help="RecBench's device: cpu | cuda")
    parser.add_argument("--workdir", type=Path, default=Path("sensitivity_output"))
    parser.add_argument("--category", default="Video_Games", help="the generator's category (its vocabulary)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[999, 1000, 1001], help="the paper config's")
    parser.add_argument("--seed", type=int, default=7, help="the catalogue's seed")
    parser.add_argument("--normalise", action="store_true", help="L2-normalised image vectors (the demo's)")
    parser.add_argument("--epochs", type=int, default=None, help="cap the schedule (smoke tests only)")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    config = args.workdir / "sensitivity.yaml"
    config.write_text(yaml.safe_dump(run_config(args), sort_keys=False))
    results = args.workdir.resolve() / "results"
    target = results / "tables" / "tableC1_calibration.md"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "snakemake", str(target), "--cores", str(args.cores), "--rerun-incomplete",
         "--configfile", str(config), "--quiet", "rules"],
        cwd=ROOT, env=env, check=True,
    )
    wall = time.time() - started
    record = json.loads((results / "rec" / args.category / "original.json").read_text())
    counts = record["data"]
    epochs = {name: [run["epochs_run"] for run in entry["1.0" if "1.0" in entry else "0.0"]["runs"]]
              for name, entry in record["recommenders"].items()}
    print(f"\ncatalogue at scale {args.scale}: {counts['users']} users, {counts['items']} items, "
          f"{counts['train'] + counts['valid'] + counts['test']} interactions (Baby: {BABY['users']}, "
          f"{BABY['items']}, {BABY['interactions']}); device {args.device}; image vectors "
          f"{'L2-normalised' if args.normalise else 'raw'}; seeds {args.seeds}; wall {wall / 60:.1f} min")
    print("epochs run by the items' own features, per seed:", epochs)
    print("\n" + target.read_text())
    summary = {"scale": args.scale, "device": args.device, "normalise": args.normalise, "seeds": args.seeds,
               "epochs_cap": args.epochs, "data": counts, "wall_seconds": round(wall, 1), "epochs_run": epochs}
    (args.workdir / "sensitivity.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
