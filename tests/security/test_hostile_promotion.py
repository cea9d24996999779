"""Issue 14, items 8, 9 and 2: a promotion is reported only when production shows it, a
cancelled run still tells the registry, and a megabyte of service text stays small.

Real runs (the action's entrypoint, or `python -m ci_trainer run`) against the emulator
behind the hostile proxy of tests/security/hostile.py, as in test_hostile_service: the
proxy answers a promote for another version or environment without passing it on,
answers a gateway's 504 and passes the promote on seconds later, or sends a megabyte
message. Each run's decision and exit code are checked, what production shows at the
end, and that no secret (in any encoding) and no forged command is anywhere it wrote.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from faults.support import MODEL_ID

from ci_trainer.http.service_text import SERVICE_TEXT_LIMIT
from ci_trainer.pipeline.promotion import CONFIRM_DELAYS_SECONDS, CONFIRM_WINDOW_SECONDS
from security.hostile import Exchange, HostileProxy, Request, Rewrite
from security.test_hostile_service import (
    CLIENT_SECRET,
    FORGED,
    WEBHOOK_SECRET,
    Case,
    Ran,
    _problem,
    assert_no_forged_command,
    echo_of_secrets,
    leaks,
    run_case,
)

MARKER = " more characters)"
MIB = 1024 * 1024
# The old window re-read production for 1.75 s; the new one waits 5.75 s in all. A late
# promote is applied 3 s after the 504 (within it), or once the run has ended (after it).
WITHIN_WINDOW = 3.0


def _version_in(path: str) -> str:
    return path.split("/versions/", 1)[1].split("/", 1)[0]


def _promoted(version: str, environment: str) -> Rewrite:
    body = {"modelId": MODEL_ID, "versionId": version, "environment": environment}
    return 200, "application/json", json.dumps(body).encode()


def another_version(request: Request, proxy: HostileProxy) -> Rewrite | None:
    if request.path.endswith("/promote"):
        return _promoted("ver-someone-else", "production")  # never passed on
    return None


def another_environment(request: Request, proxy: HostileProxy) -> Rewrite | None:
    if request.path.endswith("/promote"):
        return _promoted(_version_in(request.path), "staging")  # never passed on
    return None


class LateGateway:
    """A gateway that answers 504 to the promote at once, while the service applies it
    `seconds` later, or (None) when `release` is set (the request reaches the emulator
    then)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.release = threading.Event()
        self.applied = threading.Event()

    def __call__(self, request: Request, proxy: HostileProxy) -> Rewrite | None:
        if not request.path.endswith("/promote"):
            return None

        def later() -> None:
            if self.seconds is None:
                self.release.wait(120)
            else:
                time.sleep(self.seconds)
            proxy.forward(request)
            self.applied.set()

        threading.Thread(target=later, daemon=True).start()
        return _problem(504, "upstream request timeout")


def megabyte_status_message(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/status"):
        # Secrets at the start, and one across the cut at SERVICE_TEXT_LIMIT.
        start = f"{echo_of_secrets(proxy)}\n{FORGED}\n"
        padding = "m" * (SERVICE_TEXT_LIMIT - len(start) - 5)
        message = start + padding + CLIENT_SECRET + "m" * 1_000_000
        body = json.loads(exchange.answer) | {"status": "FAILED", "message": message}
        return 200, "application/json", json.dumps(body).encode()
    return None


def megabyte_problem(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/train"):
        body = {
            "title": "t" * MIB,
            "detail": f"{echo_of_secrets(proxy)} " + "d" * MIB,
            "traceId": "x" * MIB,
        }
        return 400, "application/problem+json", json.dumps(body).encode()
    return None


def running_forever(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    if exchange.path.endswith("/status"):
        body = json.loads(exchange.answer) | {"status": "RUNNING", "progress": 10}
        return 200, "application/json", json.dumps(body).encode()
    return None


def passes(exchange: Exchange, proxy: HostileProxy) -> Rewrite | None:
    return None


WITHIN, AFTER = LateGateway(WITHIN_WINDOW), LateGateway(None)
CASES = (
    Case("another version", passes, mode="promote", intercept=another_version),
    Case("another environment", passes, mode="promote", intercept=another_environment),
    Case("504, applied within the window", passes, mode="promote", intercept=WITHIN,
         expect=("promoted", 0)),
    Case("504, applied after the window", passes, mode="promote", intercept=AFTER),
    Case("megabyte status message", megabyte_status_message),
    Case("megabyte status message (cli)", megabyte_status_message, cli=True),
    Case("megabyte problem", megabyte_problem),
    Case("megabyte problem (cli)", megabyte_problem, cli=True),
    Case("cancelled", running_forever, signal_at="/status"),
    Case("cancelled (cli)", running_forever, cli=True, signal_at="/status"),
)  # fmt: skip


def test_the_window_is_a_bounded_back_off_inside_the_stop_budget() -> None:
    delays = list(CONFIRM_DELAYS_SECONDS)
    assert delays == sorted(delays) and sum(delays) > 1.75  # longer than the old window
    assert sum(delays) <= CONFIRM_WINDOW_SECONDS < 7.5  # the runner's SIGINT -> SIGTERM
    assert 1.75 < WITHIN_WINDOW < sum(delays) - 1  # the case means what it says


def test_promotion_answers_and_service_text_are_held_to_what_production_shows(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(run_case, case, tmp_path / f"case{n}", stack)
            for n, case in enumerate(CASES)
        ]
        runs = {ran.case.name: ran for ran in (future.result() for future in futures)}
        AFTER.release.set()  # every run has ended: now the service applies the promote
        assert AFTER.applied.wait(30), "the late promote never reached the service"
        production = {name: _production(ran) for name, ran in runs.items()}
    tokens = {token for ran in runs.values() for token in ran.tokens}
    secrets = [CLIENT_SECRET, WEBHOOK_SECRET, *tokens]
    for name, ran in runs.items():
        assert (ran.decision, ran.exit_code) == ran.case.expect, (name, ran.reason, ran.stderr)
        assert list(leaks(ran, secrets)) == [], name
        assert_no_forged_command(ran.stdout, name)
        assert_no_forged_command(ran.stderr, name)
        assert "re-run later" not in ran.reason, name
    _assert_promotions(runs, production)
    _assert_bounded(runs)
    _assert_cancelled_runs_told_the_registry(runs)


def _production(ran: Ran) -> str | None:
    assert ran.emulator is not None
    return ran.emulator.state.production.get(MODEL_ID)


def _version(ran: Ran) -> str:
    version: str = _audit_record(ran)["versionId"]
    return version


def _assert_promotions(runs: dict[str, Ran], production: dict[str, str | None]) -> None:
    wrong = runs["another version"]
    assert (
        "the service answered that it promoted version ver-someone-else to production, "
        f"not version {_version(wrong)} to production; production shows no version"
    ) in wrong.reason
    assert "to staging, not version" in runs["another environment"].reason
    for name in ("another version", "another environment"):
        assert production[name] is None, name  # the proxy never passed the promote on
        assert _audit_record(runs[name])["promotedToProduction"] is False
    within = runs["504, applied within the window"]
    assert production["504, applied within the window"] == _version(within)
    assert _audit_record(within)["promotedToProduction"] is True
    after = runs["504, applied after the window"]
    assert "HTTP 504" in after.reason and "may still take effect" in after.reason
    assert "did not show it within 5.75 s" in after.reason
    assert "check the production version of model" in after.reason
    assert _audit_record(after)["promotedToProduction"] is False
    # It did take effect later: the reason was right to say it might.
    assert production["504, applied after the window"] == _version(after)


def _assert_bounded(runs: dict[str, Ran]) -> None:
    """Every artifact well under 1 MiB, and the cut service text says it was cut."""
    for name, ran in runs.items():
        if not name.startswith("megabyte"):
            continue
        places = _artifacts(ran)
        for place, text in places.items():
            assert len(text.encode("utf-8")) < MIB // 8, (name, place, len(text))
            assert MARKER in text, (name, place)
        assert len(places) == 5, (name, sorted(places))


def _artifacts(ran: Ran) -> dict[str, str]:
    """summary, outputs, audit record, webhook event, console: what a run hands on."""
    texts = ran.texts
    if ran.case.cli:
        summary, outputs = texts["out/summary.md"], texts["out/outputs.json"]
    else:
        summary, outputs = texts["GITHUB_STEP_SUMMARY"], texts["file_commands/set_output"]
    (audit,) = [text for place, text in texts.items() if place.endswith(".log")]
    return {
        "summary": summary,
        "outputs": outputs,
        "audit record": audit.splitlines()[-1],
        "webhook event": texts["webhook 0"],
        "console": ran.stdout + ran.stderr,
    }


def _assert_cancelled_runs_told_the_registry(runs: dict[str, Ran]) -> None:
    for name in ("cancelled", "cancelled (cli)"):
        ran = runs[name]
        assert "cancelled" in ran.reason, (name, ran.reason)
        events = [
            json.loads(text)
            for place, text in ran.texts.items()
            if place.startswith("webhook ") and "headers" not in place
        ]
        assert len(events) == 1, (name, len(events))
        assert events[0]["decision"] == "failed" and "cancelled" in events[0]["reason"]
        assert _audit_record(ran)["webhook"]["delivered"] is True, name


def _audit_record(ran: Ran) -> dict[str, object]:
    (audit,) = [text for place, text in ran.texts.items() if place.endswith(".log")]
    record: dict[str, object] = json.loads(audit.splitlines()[-1])
    return record
