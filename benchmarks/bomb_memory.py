"""Peak memory under a 1 GiB decompression bomb (issue 14, item 2).

A local hostile service (tests/hostile/server.py) answers with about 1 MB of gzip that
expands to 1 GiB of zeros. Each reader runs in a fresh subprocess
(tests/hostile/probe.py), which reports its own high-water mark (`ru_maxrss`) just
before the request and after it; the row is the difference, so imports do not count.

- service: `HttpClient` with the default policy (64 MiB cap), as every backend call;
- webhook: `webhook.deliver` to a receiver answering HTTP 500 with the bomb;
- requests `.content` (with `--baseline`): the read the HTTP layer used before; it holds
  the whole gigabyte, so it is left out unless asked for.

    python benchmarks/bomb_memory.py [--repeat 3] [--baseline]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile.probe import measure  # noqa: E402
from hostile.server import BOMB_MEMBER, BOMB_MEMBERS, HostileServer, bomb_wire_size  # noqa: E402

MiB = 1024 * 1024


def probe(kind: str, url: str) -> dict[str, object]:
    return measure(kind, url, timeout=600)


def grown_mib(outcome: dict[str, object]) -> float:
    after, before = int(str(outcome["peak_after_kib"])), int(str(outcome["peak_before_kib"]))
    return (after - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also plain requests .content")
    args = parser.parse_args()
    kinds = ["service", "webhook"] + (["requests"] if args.baseline else [])
    labels = {
        "service": "HttpClient (every backend call), 64 MiB cap",
        "webhook": "webhook.deliver, receiver answers 500 + bomb",
        "requests": "plain requests `.content` (the read before issue 14)",
    }
    rows = []
    with HostileServer() as server:
        for kind in kinds:
            runs = [probe(kind, server.url) for _ in range(args.repeat)]
            peaks = [grown_mib(run) for run in runs]
            seconds = [float(str(run["seconds"])) for run in runs]
            outcome = str(runs[0].get("error") or f"read {runs[0].get('bytes')} bytes")
            rows.append((labels[kind], max(peaks), statistics.median(seconds), outcome))
    decoded = BOMB_MEMBER * BOMB_MEMBERS // MiB
    print(
        f"Bomb: {bomb_wire_size() / MiB:.2f} MiB gzip on the wire, {decoded} MiB decoded; "
        f"{args.repeat} run(s) each, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| Reader | Peak memory above baseline (max) | Wall time (median) | Outcome |")
    print("|---|---|---|---|")
    for label, peak, median, outcome in rows:
        print(f"| {label} | {peak:.0f} MiB | {median:.2f} s | {outcome[:120]} |")


if __name__ == "__main__":
    main()
