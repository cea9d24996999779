"""Speed of the champion/challenger statistics: the paired bootstrap and exact McNemar.

The target (issue 6): 10,000 holdout utterances x 2,000 resamples well under a second.
Predictions are synthetic (77 intents, as banking77; about 85% and 84% accuracy with
partly shared errors), which is the case that matters for speed: the work grows with the
number of distinct (gold, candidate, production) patterns.

    python benchmarks/stats_speed.py [--samples 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import numpy as np

from ci_trainer import stats

INTENTS = 77
T = TypeVar("T")


def predictions(n: int, seed: int) -> tuple[list[str], list[str | None], list[str | None]]:
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, INTENTS, n)
    shared_miss = rng.random(n) < 0.10
    candidate = np.where(shared_miss | (rng.random(n) < 0.05), rng.integers(0, INTENTS, n), gold)
    production = np.where(shared_miss | (rng.random(n) < 0.06), rng.integers(0, INTENTS, n), gold)
    as_labels = [f"intent_{x}" for x in gold]
    return (
        as_labels,
        [f"intent_{x}" for x in candidate],
        [f"intent_{x}" for x in production],
    )


def best_of(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    """Fastest wall time of `repeat` runs, and the last run's result."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'utterances':>10} {'resamples':>9} {'bootstrap s':>11} {'CI':>20}")
    for n in (1_000, 10_000, 50_000):
        gold, candidate, production = predictions(n, seed=n)
        seconds, interval = best_of(
            args.repeat,
            partial(
                stats.paired_bootstrap_macro_f1,
                gold,
                candidate,
                production,
                samples=args.samples,
                seed=1,
            ),
        )
        ci = f"{interval.low:+.4f} .. {interval.high:+.4f}"
        print(f"{n:>10} {args.samples:>9} {seconds:>11.3f} {ci:>20}")
    for b, c in ((400, 460), (40_000, 40_900)):
        seconds, p = best_of(args.repeat, partial(stats.mcnemar_exact, b, c))
        print(f"McNemar exact b={b} c={c}: p={p:.4g} in {seconds:.4f} s")


if __name__ == "__main__":
    main()
