"""Benchmark: :func:`mmpcbench.completion.answers.parse_answer` on hostile answers of growing length.

For each kind of answer (opening braces, nested objects, an unclosed fence, objects side by side,
random JSON punctuation), times the parse at n and 2n characters and prints the ratio: about 2 means
linear time, about 4 quadratic (the brace scan before issue #20 took 9.7 s on 20,000 ``{``)::

    python benchmarks/parse_answers.py            # n = 200,000
    python benchmarks/parse_answers.py --n 1000000
"""

from __future__ import annotations

import argparse
import random
import time

from mmpcbench.completion.answers import parse_answer


def _kinds(n: int) -> dict[str, str]:
    rng = random.Random(0)
    punctuation = ['{', '}', '[', ']', '"', "'", ":", ",", "```", '"title"', " ", "a"]
    return {
        "opening braces": "{" * n,
        "nested objects": ('{"a": ' * n)[:n],
        "unclosed fence": "```" + " " * n,
        "objects side by side": ('{"other": 1} ' * n)[:n],
        "brackets in an object": '{"title": "x", "d": ' + "[" * n,
        "random punctuation": "".join(rng.choice(punctuation) for _ in range(n // 3)),
    }


def _seconds(raw: str, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        parse_answer(raw, "title")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="characters of the shorter answer")
    n = parser.parse_args().n
    print(f"{'answer':<24} {'n s':>9} {'2n s':>9} {'2n/n':>6}")
    small, large = _kinds(n), _kinds(2 * n)
    for kind in small:
        once, twice = _seconds(small[kind]), _seconds(large[kind])
        print(f"{kind:<24} {once:9.4f} {twice:9.4f} {twice / max(once, 1e-9):6.2f}")


if __name__ == "__main__":
    main()
