"""gpu-smoke's check: the CUDA run's outputs against the CPU run's (ci/gpu-smoke.sh).

    python ci/gpu_smoke_compare.py CPU_OUTPUT CUDA_OUTPUT CATEGORY

What can agree agrees within float tolerance; what cannot is said and checked for form only:

- item embeddings (MiniLM, EfficientNet-Lite0, fp32 both): max |Δ| <= 1e-3;
- CQBench scores of every method whose completions are the same in both runs (the controls, retrieval
  when its neighbours agree): max |Δ| <= 1e-3 per metric (FID <= 1e-2 relative);
- MLLM completions: every item answered on CUDA; greedy answers of the random tiny models may differ
  (bf16 and 4-bit kernels round differently; a near tie flips a token), so agreement is printed;
- paintings: every image decodes; CUDA's random generator differs from the CPU's, so the images do;
- RecBench: every recommender's test Recall@20 within 0.05 of the CPU run (CUDA's scatter-add sums in
  another order; the difference grows over training), for the variants whose features agree;
- GRPO: each adapter written and two steps logged.
Exit status 1 if any check fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

cpu, cuda, category = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
failures: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"gpu-smoke: {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        failures.append(name)


def both(path: str) -> tuple[Path, Path]:
    return cpu / path, cuda / path


for modality in ("text", "image"):
    a, b = (np.stack(pl.read_parquet(p)["embedding"].to_numpy()) for p in both(f"results/embeddings/{category}/{modality}.parquet"))
    worst = float(np.abs(a - b).max())
    check(f"{modality} item embeddings", a.shape == b.shape and worst <= 1e-3, f"{a.shape}, max |Δ| {worst:.1e}")

same_completion = {}
for task in ("i2t", "t2i"):
    for path in sorted((cpu / f"results/completions/{task}/{category}").glob("*.parquet")):
        a, b = pl.read_parquet(path), pl.read_parquet(cuda / path.relative_to(cpu))
        same = a.equals(b)
        same_completion[(task, path.stem)] = same
        if "raw" in a.columns:  # an MLLM
            agree = float((a["raw"] == b["raw"]).mean())
            check(f"{task} {path.stem} completions", a.height == b.height and b["raw"].null_count() == 0,
                  f"{b.height} items answered; {100 * agree:.0f} % identical to the CPU answers")
for manifest in sorted((cuda / f"results/generated_images/{category}").glob("*/manifest.parquet")):
    frame = pl.read_parquet(manifest).drop_nulls("image_path")
    bad = 0
    for image_path in frame["image_path"]:
        try:
            with Image.open(cuda / "results" / image_path) as image:
                image.load()
        except OSError:
            bad += 1
    check(f"paintings of {manifest.parent.name}", bad == 0, f"{frame.height} images, {bad} unreadable")
    same_completion[("t2i", manifest.parent.name)] = (
        pl.read_parquet(cpu / manifest.relative_to(cuda)).equals(pl.read_parquet(manifest))
        and all((cpu / "results" / p).read_bytes() == (cuda / "results" / p).read_bytes() for p in frame["image_path"]))

for (task, method), same in sorted(same_completion.items()):
    a, b = (pl.read_parquet(p) for p in both(f"results/scores/{task}/{category}/{method}.parquet"))
    if not same:
        print(f"gpu-smoke: --   {task} {method} scores: inputs differ between the runs (not compared)")
        continue
    metrics = [c for c in a.columns if a[c].dtype == pl.Float64]
    worst = max((float((a[c] - b[c]).abs().max() or 0) for c in metrics), default=0.0)
    summaries = [json.loads(p.read_text()) for p in both(f"results/scores/{task}/{category}/{method}.json")]
    fid = [s.get("fid") for s in summaries]
    fid_ok = fid[0] is None or fid[1] is None or abs(fid[0] - fid[1]) <= 1e-2 * max(1.0, abs(fid[0]))
    check(f"{task} {method} scores", worst <= 1e-3 and fid_ok, f"max |Δ| {worst:.1e} over {metrics}; FID {fid}")

for path in sorted((cpu / f"results/rec/{category}").glob("*.json")):
    task, _, method = path.stem.partition("-")  # "original", or "<task>-<completion method or imputation>"
    if same_completion.get((task, method)) is False:
        print(f"gpu-smoke: --   RecBench {path.stem}: its completions differ between the runs (not compared)")
        continue
    a, b = (json.loads(p.read_text()) for p in (path, cuda / path.relative_to(cpu)))
    worst = 0.0
    for name, rates in a["recommenders"].items():
        for rate, result in rates.items():
            other = b["recommenders"][name][rate]["test_mean"]["recall@20"]
            worst = max(worst, abs(result["test_mean"]["recall@20"] - other))
    check(f"RecBench {path.stem}", worst <= 0.05, f"max |Δ Recall@20| {worst:.4f} over {sorted(a['recommenders'])}")

for task_dir in sorted((cuda / "results/grpo").glob("*/*")):
    log = pl.read_parquet(task_dir / "reward_log.parquet")
    steps = log["step"].n_unique() if "step" in log.columns else log.height
    adapter = any((task_dir / "adapter").rglob("adapter_model.safetensors"))
    check(f"GRPO {task_dir.parent.name}", adapter and steps >= 2, f"adapter written: {adapter}; {steps} steps logged")

print(f"gpu-smoke: {'FAILED: ' + ', '.join(failures) if failures else 'every check passed'}")
sys.exit(1 if failures else 0)
