"""Benchmark: items/s of the MLLM completion code path at batch sizes 1, 4 and 16.

Runs :func:`mmpcbench.completion.mllm.complete_items` (the code the `complete_mllm` rule runs:
chat template, left-padded batches, generate, JSON parsing, shards) on N synthetic product covers,
once per batch size, in one process with the model loaded once, and prints items/s and the ratio to
batch size 1. By default on a tiny random-weight Qwen2.5-VL (CPU); give a real model to measure the
real thing on a GPU::

    python benchmarks/complete_batch.py                                   # tiny model, CPU
    python benchmarks/complete_batch.py --model Qwen/Qwen2.5-VL-7B-Instruct --family qwen2_5_vl \\
        --quantization nf4 --dtype float16 --items 64 --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from synthetic_items import PROMPTS, model_or_tiny, synthetic_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="hub id or folder (default: a tiny random Qwen2.5-VL built here)")
    parser.add_argument("--family", default="qwen2_5_vl", choices=["qwen2_5_vl", "gemma3"])
    parser.add_argument("--quantization", default="none", choices=["none", "nf4"])
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--task", default="i2t", choices=["i2t", "t2i"])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-sizes", default="1,4,16")
    args = parser.parse_args()

    from mmpcbench.completion.mllm import CompletionRequest, complete_items, load_mllm

    work = Path(tempfile.mkdtemp(prefix="complete-bench-"))
    model = model_or_tiny(args.model, args.family, work)
    items = synthetic_items(work, args.items)
    entry = {"model": model, "family": args.family, "quantization": args.quantization, "dtype": args.dtype,
             "max_new_tokens": {"i2t": args.max_new_tokens, "t2i": args.max_new_tokens},
             "generation": {"do_sample": False}}
    loaded = load_mllm(entry)
    prompt = PROMPTS[args.task]
    # warm-up (first-call overheads), not timed
    complete_items(CompletionRequest(args.task, prompt, "title", shard_size=2), {**entry, "batch_size": 2},
                   items.head(2), work, work / "warm.parquet", model_and_processor=loaded)
    results = {}
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        start = time.perf_counter()
        complete_items(CompletionRequest(args.task, prompt, "title", shard_size=args.items),
                       {**entry, "batch_size": batch_size}, items, work, work / f"out-{batch_size}.parquet",
                       model_and_processor=loaded)
        results[batch_size] = args.items / (time.perf_counter() - start)
    base = results[min(results)]
    print(f"model: {model}  task: {args.task}  items: {args.items}  max new tokens: {args.max_new_tokens}")
    print(f"{'batch':>6} {'items/s':>9} {'vs batch 1':>11}")
    for batch_size, rate in results.items():
        print(f"{batch_size:>6} {rate:9.1f} {rate / base:10.2f}x")


if __name__ == "__main__":
    main()
