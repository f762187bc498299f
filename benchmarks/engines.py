"""Benchmark: items/s and tokens/s of the in-process engine against the served engine, on the same items.

Runs :func:`mmpcbench.completion.mllm.complete_items` (the code the `complete_mllm` rule runs) on N
synthetic product covers three ways, in one command: in process (``generate``, batched), through a
``transformers serve`` of the same weights, and through a vLLM server when ``--vllm`` names its program
(GPU only). Each server is started as a served entry's job starts it (``servers.running``), and its
start-up is timed apart from the work; the work is timed after a two-item warm-up. Prints each engine's items/s and output tokens/s, and the ratio to in-process.
By default on a tiny random-weight Qwen2.5-VL on the CPU (the numbers then measure overheads: HTTP, PNG,
the server's per-request generate)::

    python benchmarks/engines.py                                        # tiny model, CPU
    python benchmarks/engines.py --model Qwen/Qwen2.5-VL-7B-Instruct --dtype bfloat16 --items 256 \\
        --max-new-tokens 128 --batch-size 16 --concurrency 32 --vllm ~/envs/mmpcbench-vllm/bin/vllm
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

from synthetic_items import PROMPTS, model_or_tiny, synthetic_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="hub id or folder (default: a tiny random Qwen2.5-VL built here)")
    parser.add_argument("--family", default="qwen2_5_vl", choices=["qwen2_5_vl", "gemma3"])
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--quantization", default="none", choices=["none", "nf4"],
                        help="in-process quantisation (the servers run unquantised, as compared)")
    parser.add_argument("--task", default="i2t", choices=["i2t", "t2i"])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16, help="in-process batch size")
    parser.add_argument("--concurrency", type=int, default=4, help="served requests in flight")
    parser.add_argument("--vllm", help="the vllm program (its own environment: envs/vllm.yaml); GPU only")
    args = parser.parse_args()

    from mmpcbench.completion.mllm import CompletionRequest, complete_items
    from mmpcbench.completion.servers import running

    work = Path(tempfile.mkdtemp(prefix="engines-bench-"))
    model = model_or_tiny(args.model, args.family, work)
    items = synthetic_items(work, args.items)
    base = {"model": model, "family": args.family, "dtype": args.dtype, "batch_size": args.batch_size,
            "max_new_tokens": {"i2t": args.max_new_tokens, "t2i": args.max_new_tokens},
            "generation": {"do_sample": False}}
    engines = {"in-process": {**base, "quantization": args.quantization},
               "transformers serve": {**base, "quantization": "none", "engine": "openai", "serve": "transformers",
                                      "concurrency": args.concurrency, "name": "bench-transformers"}}
    if args.vllm:
        engines["vllm serve"] = {**base, "quantization": "none", "engine": "openai", "serve": "vllm",
                                 "serve_executable": args.vllm, "concurrency": args.concurrency, "name": "bench-vllm"}
    prompt = PROMPTS[args.task]

    results = {}
    for name, entry in engines.items():
        out = work / f"{name.replace(' ', '-')}.parquet"
        with contextlib.ExitStack() as stack:
            startup = 0.0
            if entry.get("serve"):  # the server the job would start, started here so that its start is timed apart
                start = time.perf_counter()
                url = stack.enter_context(running(entry, out.with_suffix(".server.log"), entry["name"]))
                startup = time.perf_counter() - start
                entry = {key: value for key, value in entry.items() if key not in ("serve", "serve_executable")}
                entry["base_url"] = url
            # a warm-up shard (first-call overheads), then the timed run
            complete_items(CompletionRequest(args.task, prompt, "title", shard_size=2), entry, items.head(2), work,
                           work / f"warm-{out.name}")
            start = time.perf_counter()
            frame = complete_items(CompletionRequest(args.task, prompt, "title", shard_size=args.items), entry,
                                   items, work, out)
            wall = time.perf_counter() - start
        tokens = int(frame["n_output_tokens"].sum())
        results[name] = {"startup_s": round(startup, 2), "wall_s": round(wall, 3), "tokens": tokens,
                         "items_per_s": args.items / wall, "tokens_per_s": tokens / wall}
    reference = results["in-process"]["items_per_s"]
    print(f"model: {model}  task: {args.task}  items: {args.items}  max new tokens: {args.max_new_tokens}  "
          f"in-process batch: {args.batch_size}  served concurrency: {args.concurrency}")
    print(f"{'engine':<20} {'start-up s':>10} {'items/s':>9} {'tokens/s':>9} {'vs in-process':>14}")
    for name, r in results.items():
        print(f"{name:<20} {r['startup_s']:10.1f} {r['items_per_s']:9.2f} {r['tokens_per_s']:9.1f} "
              f"{r['items_per_s'] / reference:13.2f}x")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
