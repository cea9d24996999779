"""Run one request against a hostile URL in this process and report its peak memory.

Used as a subprocess (tests/hostile, benchmarks/bomb_memory.py) so the figure is this
process's own high-water mark (ru_maxrss), not the test runner's. Prints one JSON line:
the outcome, the peak resident size before and after the request, and the wall time.

    python tests/hostile/probe.py service URL      # HttpClient GET, the service's policy
    python tests/hostile/probe.py webhook URL      # webhook.deliver POST
    python tests/hostile/probe.py requests URL     # plain requests .content (the old read)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _service(url: str) -> dict[str, object]:
    from ci_trainer.errors import ApiError
    from ci_trainer.http.client import Call, HttpClient
    from ci_trainer.http.policy import RetryMode
    from ci_trainer.redact import Redactor

    client = HttpClient(url, redactor=Redactor([]))
    try:
        response = client.send(Call("getTrainingStatus", "GET", "/bomb"), retry=RetryMode.SAFE)
    except ApiError as exc:
        return {"error": exc.message_text, "attempts": exc.extra.get("attempts")}
    finally:
        client.close()
    return {"status": response.status, "bytes": len(response.content)}


def _webhook(url: str) -> dict[str, object]:
    from webhook.conftest import make_result

    from ci_trainer import webhook

    result = make_result()
    delivery = webhook.deliver(result, url + "/bomb-500", "s3cret-value", timeout=10.0, attempts=1)
    return {"error": delivery.error, "status": delivery.status_code}


def _plain_requests(url: str) -> dict[str, object]:
    import requests

    response = requests.get(url + "/bomb", timeout=(5, 30))
    return {"status": response.status_code, "bytes": len(response.content)}


def measure(kind: str, url: str, *, timeout: float) -> dict[str, object]:
    """Run this probe in a fresh interpreter (so its peak memory is its own) and return
    what it measured; the tests and benchmarks/bomb_memory.py both call it."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), kind, url],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=timeout,
        check=True,
    )
    outcome: dict[str, object] = json.loads(done.stdout)
    return outcome


def main() -> None:
    kind, url = sys.argv[1], sys.argv[2]
    # Import everything the request needs first, so the baseline includes the imports.
    import ci_trainer.http.client
    import ci_trainer.webhook  # noqa: F401

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for its helpers
    import webhook.conftest  # noqa: F401

    before = _peak_kib()
    started = time.monotonic()
    probes = {"service": _service, "webhook": _webhook, "requests": _plain_requests}
    outcome = probes[kind](url)
    outcome.update(
        seconds=round(time.monotonic() - started, 3),
        peak_before_kib=before,
        peak_after_kib=_peak_kib(),
    )
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
