"""The fault matrix (issue 7): one row per fault, its expected outcome, and a test per row.

Every row is a whole `promote` run through the real runner against the emulator over
real HTTP, with one fault injected through the emulator's fault plan (or the webhook
receiver, the audit path, a signal). A production version exists before each run (the
"champion"), so every endpoint is called, and "no partial promotion" means something.

Each row asserts, read back from the outside:
- the decision and the process exit code;
- the audit record: present where the row says, the whole log verifies
  (`ci_trainer.audit.verify_file`), and its last record is this run's decision;
- no duplicate training: the service holds exactly `trainings` trainings of ours;
- no partial promotion: production is ours exactly when the decision is `promoted`
  and the record says so; otherwise it is what it was (or what someone else made it).

docs/reliability.md holds this table rendered as Markdown; `test_reliability_doc_is_current`
fails when it drifts. Regenerate with:  python -m tests.faults.test_fault_matrix
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ci_trainer.audit import FALLBACK_FILE_NAME
from ci_trainer.decision import Decision
from ci_trainer.emulator.faults import Fault

from .support import READ_TIMEOUT_DELAY, REPO_ROOT, Outcome, Runner, RunSpec

# What production points at after the run.
OURS = "ours"  # the candidate of this run (only with decision `promoted`)
KEPT = "kept"  # the champion it pointed at before the run
THEIRS = "theirs"  # a version someone else promoted during the run
# Our candidate, though the run could not report it promoted (the service applied it
# after the confirmation window, or answered for something else): the reason says that
# it may have taken effect and to check production before a re-run.
UNREPORTED = "unreported"

DELIVERED, UNDELIVERED = "delivered", "not delivered"

PRIMARY = "valid"  # a valid record in the configured audit log
FALLBACK = "valid, in the fallback file"  # the configured log failed; the fallback holds it


@dataclass(frozen=True)
class Row:
    id: str
    fault: str  # what goes wrong, in a reader's words
    spec: RunSpec  # how it is injected
    decision: Decision
    exit_code: int
    trainings: int = 1  # trainings of ours the service holds at the end
    production: str = OURS
    audit: str = PRIMARY
    reason: str = ""  # a clue the run's reason must contain (case-insensitive)
    job: str | None = None  # the final status of our training at the service, if asserted
    bug: str = ""  # a known defect: the row is xfail(strict=True) with this reason
    webhook: str = ""  # DELIVERED or UNDELIVERED: what the record says of the webhook


def burst(operation: str, status: int) -> RunSpec:
    return RunSpec(faults=(Fault(operation, "status", status=status, calls=(1, 2)),))


def reset(operation: str, when: str = "before") -> RunSpec:
    return RunSpec(faults=(Fault(operation, "drop", when=when, calls=(1,)),))


def slow(operation: str) -> RunSpec:
    return RunSpec(faults=(Fault(operation, "delay", seconds=READ_TIMEOUT_DELAY, calls=(1,)),))


def one(
    fault: Fault, *, emulator: dict[str, Any] | None = None, signal_at: str | None = None
) -> RunSpec:
    return RunSpec(faults=(fault,), emulator=emulator or {}, signal_at=signal_at)


P, F = Decision.PROMOTED, Decision.FAILED
# Operations a promote run calls, in order (cancelTraining only when a job is abandoned).
OPERATIONS = (
    "getToken",
    "getDatasetStats",
    "getProductionVersion",
    "startTraining",
    "getTrainingStatus",
    "getTrainingMetrics",
    "predict",
    "promoteVersion",
)
BURST_STATUS = dict(zip(OPERATIONS, (503, 502) * 4, strict=True))
# Seconds after which a held promote is applied: well after the confirmation window
# (promotion.CONFIRM_DELAYS_SECONDS, 5.75 s) plus the read timeout the client gave up at.
AFTER_WINDOW = 8.5
MEGABYTE = "m" * 1_000_000  # a service message of a megabyte
# A training that runs for 5 s, so a cancel reaches it while it still runs.
STRETCH = {"time_scale": 1.0, "training_seconds": 5.0}

# fmt: off
MATRIX: tuple[Row, ...] = (
    # --- 429 storms -------------------------------------------------------------------
    Row("429-retry-after-seconds", "429 x4 on status polls, Retry-After: 0.05 (seconds)",
        one(Fault("getTrainingStatus", "status", status=429, retry_after=0.05,
                  calls=(1, 2, 3, 4))), P, 0),
    Row("429-retry-after-http-date", "429 on the train POST, Retry-After as an HTTP-date (1 s)",
        one(Fault("startTraining", "status", status=429, retry_after_date=1.0, calls=(1,))),
        P, 0),
    Row("429-storm-never-ends", "429 on every status poll",
        one(Fault("getTrainingStatus", "status", status=429, retry_after=0.01),
            emulator=STRETCH), F, 3, production=KEPT, reason="429", job="CANCELLED"),
    # --- 5xx bursts, one endpoint each (promote is never repeated once it may have arrived)
    *(Row(f"{code}-burst-{op}", f"{code} x2 on {op}", burst(op, code), P, 0)
      for op, code in BURST_STATUS.items() if op != "promoteVersion"),
    Row("502-burst-promoteVersion", "502 x2 on promoteVersion", burst("promoteVersion", 502),
        F, 3, production=KEPT, reason="HTTP 502"),
    Row("500-startTraining", "500 (training engine failure) on the train POST",
        one(Fault("startTraining", "status", status=500, calls=(1,))), F, 3, trainings=0,
        production=KEPT, reason="HTTP 500"),
    Row("500-getTrainingStatus", "500 on a status poll of a running training",
        one(Fault("getTrainingStatus", "status", status=500, calls=(2,)), emulator=STRETCH),
        F, 3, production=KEPT, reason="HTTP 500", job="CANCELLED"),
    # --- connection reset (closed without an answer), one endpoint each ----------------
    *(Row(f"reset-{op}", f"connection reset on {op}", reset(op), P, 0)
      for op in OPERATIONS if op != "promoteVersion"),
    Row("reset-promoteVersion", "connection reset on promoteVersion, before it is applied",
        reset("promoteVersion"), F, 3, production=KEPT, reason="promoteVersion"),
    Row("reset-after-train-post", "train POST applied, then the connection reset",
        reset("startTraining", "after"), P, 0),
    Row("reset-after-promote", "promote applied, then the connection reset",
        reset("promoteVersion", "after"), P, 0),
    # --- read timeout, one endpoint each ------------------------------------------------
    *(Row(f"timeout-{op}", f"read timeout on {op}", slow(op), P, 0)
      for op in OPERATIONS if op != "promoteVersion"),
    Row("timeout-promoteVersion", "read timeout on promoteVersion (applied after we gave up)",
        slow("promoteVersion"), P, 0),
    Row("promote-applied-late-within-window",
        "promote applied 3 s after it arrived, 2.5 s after the client gave up (later than "
        "the old 1.75 s of re-reads; within the 5.75 s back-off window)",
        one(Fault("promoteVersion", "delay", seconds=3.0)), P, 0),
    Row("promote-applied-after-window",
        f"promote applied {AFTER_WINDOW:g} s after it arrived, after the back-off window",
        one(Fault("promoteVersion", "delay", seconds=AFTER_WINDOW)), F, 3,
        production=UNREPORTED, reason="may still take effect"),
    Row("504-on-promote", "a gateway's 504 on promoteVersion, the promotion never applied",
        one(Fault("promoteVersion", "status", status=504)), F, 3, production=KEPT,
        reason="may still take effect"),
    Row("promote-answers-another-version",
        "the promote answer names another version (production shows ours)",
        one(Fault("promoteVersion", "patch", set={"versionId": "v-someone-else"})), F, 3,
        production=UNREPORTED, reason="answered that it promoted version v-someone-else"),
    Row("promote-answers-another-environment",
        "the promote answer names another environment (staging)",
        one(Fault("promoteVersion", "patch", set={"environment": "staging"})), F, 3,
        production=UNREPORTED, reason="to staging, not version"),
    # --- auth -----------------------------------------------------------------------------
    Row("token-expires-mid-poll", "the token expires after 0.3 s, during polling",
        one(Fault("getToken", "token_expires_in", seconds=0.3, calls=(1,)),
            emulator={"time_scale": 1.0, "training_seconds": 1.0}), P, 0),
    Row("401-on-promote", "401 on every promote call",
        one(Fault("promoteVersion", "status", status=401)), F, 3, production=KEPT,
        reason="401"),
    Row("403-missing-scope", "the client lacks the training:write scope",
        RunSpec(emulator={"granted_scopes": ("model:read", "model:write", "training:read")}),
        F, 3, trainings=0, production=KEPT, reason="training:write"),
    # --- what the training reports --------------------------------------------------------
    Row("job-failed-with-message", "training ends FAILED with a message",
        one(Fault("startTraining", "job_failed", message="GPU node preempted")), F, 3,
        production=KEPT, reason="GPU node preempted", job="FAILED"),
    Row("job-failed-megabyte-message", "training ends FAILED with a 1 MB message",
        one(Fault("startTraining", "job_failed", message=MEGABYTE)), F, 3,
        production=KEPT, reason="more characters)", job="FAILED"),
    Row("job-cancelled", "status reports CANCELLED",
        one(Fault("getTrainingStatus", "patch", set={"status": "CANCELLED"}, calls=(1,))),
        F, 3, production=KEPT, reason="CANCELLED"),
    Row("unknown-status", "status reports PAUSED (not in the contract)",
        one(Fault("getTrainingStatus", "patch", set={"status": "PAUSED"}, calls=(2,)),
            emulator=STRETCH), F, 3, production=KEPT, reason="PAUSED", job="CANCELLED"),
    Row("progress-backwards", "progress goes 60 -> 10 between polls",
        RunSpec(faults=(
            Fault("getTrainingStatus", "patch", set={"status": "RUNNING", "progress": 60},
                  calls=(1,)),
            Fault("getTrainingStatus", "patch", set={"status": "RUNNING", "progress": 10},
                  calls=(2,)),
        )), P, 0),
    Row("metrics-missing-field", "metrics without f1Score",
        one(Fault("getTrainingMetrics", "missing_field", field="f1Score")), F, 3,
        production=KEPT, reason="f1Score"),
    Row("metrics-nan", "metrics with f1Score = NaN",
        one(Fault("getTrainingMetrics", "patch", set={"f1Score": float("nan")})), F, 3,
        production=KEPT),
    Row("metrics-out-of-range", "metrics with precision = 1.7",
        one(Fault("getTrainingMetrics", "patch", set={"precision": 1.7})), F, 3,
        production=KEPT, reason="precision"),
    # --- production and promotion ----------------------------------------------------------
    Row("production-moves-mid-run", "someone else promotes while we train",
        one(Fault("getTrainingMetrics", "external_promotion", calls=(1,))), F, 3,
        production=THEIRS, reason="production changed"),
    # --- webhook ------------------------------------------------------------------------------
    Row("webhook-500-then-200", "webhook answers 500, then 200",
        RunSpec(webhook_statuses=[500]), P, 0, webhook=DELIVERED),
    Row("webhook-down", "nobody listens at the webhook URL",
        RunSpec(webhook_down=True), P, 0, webhook=UNDELIVERED),
    # --- audit log ------------------------------------------------------------------------------
    Row("audit-path-unwritable", "audit log path is under a regular file (not a directory)",
        RunSpec(audit_log=Path("not-a-directory/audit.log")), P, 0, audit=FALLBACK),
    Row("audit-disk-full", "disk full on the audit write (/dev/full)",
        RunSpec(audit_log=Path("/dev/full")), P, 0, audit=FALLBACK),
    # --- cancellation (a real SIGTERM to `python -m ci_trainer run`) -------------------------
    Row("sigterm-while-polling", "SIGTERM while polling a running training",
        one(Fault("startTraining", "job_stuck"), signal_at="getTrainingStatus"), F, 3,
        production=KEPT, reason="cancelled", job="CANCELLED"),
    Row("sigterm-while-polling-webhook",
        "SIGTERM while polling, a webhook configured: the registry still hears of it",
        RunSpec(faults=(Fault("startTraining", "job_stuck"),), webhook_statuses=[],
                signal_at="getTrainingStatus"), F, 3, production=KEPT, reason="cancelled",
        job="CANCELLED", webhook=DELIVERED),
    Row("sigterm-while-promoting", "SIGTERM while the promote call is in flight",
        one(Fault("promoteVersion", "delay", seconds=1.0), signal_at="promoteVersion"),
        P, 0),
    Row("sigterm-while-webhook", "SIGTERM while the webhook delivery is in flight",
        RunSpec(webhook_statuses=[], webhook_hold=1.0, signal_at="webhook"), P, 0,
        webhook=DELIVERED),
)
# fmt: on


# ------------------------------------------------------------------------- the tests


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runner]:
    (tmp_path / "not-a-directory").write_text("a file where a directory should be\n")
    monkeypatch.chdir(tmp_path)  # --audit-log paths are relative to the working directory
    runner = Runner(tmp_path)
    try:
        yield runner
    finally:
        runner.close()


def test_the_matrix_covers_issue_7() -> None:
    assert len(MATRIX) >= 25
    assert len({row.id for row in MATRIX}) == len(MATRIX)


def _param(row: Row) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=row.bug)] if row.bug else []
    return pytest.param(row, id=row.id, marks=marks)


@pytest.mark.parametrize("row", [_param(row) for row in MATRIX])
def test_fault(row: Row, runner: Runner) -> None:
    outcome = runner.run(row.spec)
    record = outcome.record
    assert (record["decision"], outcome.exit_code) == (row.decision.value, row.exit_code), record[
        "reason"
    ]
    assert_injected(row, outcome)
    assert_audit(row, outcome)
    assert row.reason.lower() in record["reason"].lower()
    assert_no_duplicate_training(row, outcome)
    assert_no_partial_promotion(row, outcome)
    assert_bounded(outcome)


def assert_injected(row: Row, outcome: Outcome) -> None:
    """The fault really happened: a row that passes without its fault proves nothing."""
    for fault in row.spec.faults:
        if fault.kind == "delay":
            # A held answer is logged when it is finally sent, maybe after the run ended;
            # faults attach on arrival, so the call's arrival is the proof.
            first = min(fault.calls or (1,))
            assert outcome.arrived[fault.operation] >= first, f"no call {first} arrived"
            continue
        hit = [
            r
            for r in outcome.state.requests
            if r.operation == fault.operation and fault.kind in r.faults
        ]
        assert hit, f"the emulator never injected {fault.kind} on {fault.operation}"
        if fault.kind == "token_expires_in":
            assert outcome.state.tokens_issued >= 2, "the expired token was never replaced"
    if row.webhook:
        delivery = outcome.record["webhook"]
        assert delivery is not None and delivery["delivered"] is (row.webhook == DELIVERED)
    if row.spec.webhook_statuses is not None:
        # Each refused delivery is followed by one more attempt, until one is accepted.
        assert len(outcome.webhook_bodies) == len(row.spec.webhook_statuses) + 1


def assert_audit(row: Row, outcome: Outcome) -> None:
    report = outcome.verify
    assert report is not None and report.ok, report.text() if report else "no audit log"
    assert outcome.record["exitCode"] == row.exit_code
    fallback = outcome.audit_path is not None and outcome.audit_path.name == FALLBACK_FILE_NAME
    assert fallback == (row.audit == FALLBACK), outcome.audit_path


def assert_no_duplicate_training(row: Row, outcome: Outcome) -> None:
    ours = [t for t in outcome.state.trainings.values() if t.client_id == outcome.client_id]
    assert len(ours) == row.trainings, [t.status for t in ours]
    if row.job is not None:
        assert [t.status for t in ours] == [row.job]


def assert_no_partial_promotion(row: Row, outcome: Outcome) -> None:
    record = outcome.record
    production = outcome.state.production.get(outcome.model_id)
    if row.production == UNREPORTED:
        # Ours, and said to be possibly so: never reported promoted, never a plain re-run.
        assert production == record["versionId"] and record["promotedToProduction"] is False
        assert "re-run later" not in record["reason"]
        return
    promoted = production is not None and production == record["versionId"]
    assert record["promotedToProduction"] is promoted is (row.decision is Decision.PROMOTED)
    expected = {
        OURS: record["versionId"],
        KEPT: outcome.champion,
    }.get(row.production)
    if row.production == THEIRS:
        assert production not in (outcome.champion, record["versionId"], None)
    else:
        assert production == expected


def assert_bounded(outcome: Outcome) -> None:
    """Whatever the service sent, the audit record and each webhook event stay small."""
    assert outcome.audit_path is not None
    assert len(outcome.audit_path.read_bytes().splitlines()[-1]) < 64 * 1024
    assert all(len(body) < 64 * 1024 for body in outcome.webhook_bodies)


# ------------------------------------------------------------------------- the doc

DOC = REPO_ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- fault-matrix:begin -->", "<!-- fault-matrix:end -->"


def render_matrix() -> str:
    lines = [
        "| # | Fault | Decision | Exit | Audit record | Trainings | Production after | Webhook |",
        "|---|---|---|---|---|---|---|---|",
    ]
    production = {
        OURS: "our candidate",
        KEPT: "unchanged (champion)",
        THEIRS: "the other promotion",
        UNREPORTED: "our candidate, not reported promoted (the reason says to check)",
    }
    for number, row in enumerate(MATRIX, 1):
        decision = row.decision.value + (f" (\u201c{row.reason}\u201d)" if row.reason else "")
        if row.bug:
            decision += " - **xfail**, see below"
        lines.append(
            f"| {number} | `{row.id}`: {row.fault} | {decision} | {row.exit_code} | "
            f"{row.audit} | {row.trainings} | {production[row.production]} | "
            f"{row.webhook or '-'} |"
        )
    known = [row for row in MATRIX if row.bug]
    if known:
        lines += ["", *(f"- `{row.id}`: {row.bug}." for row in known)]
    return "\n".join(lines) + "\n"


def generated_section(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def test_reliability_doc_is_current() -> None:
    assert generated_section(DOC.read_text(encoding="utf-8")) == render_matrix(), (
        "docs/reliability.md is stale: run  python -m tests.faults.test_fault_matrix"
    )


def write_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + render_matrix() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    write_doc()
    sys.exit(0)
