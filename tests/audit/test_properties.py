"""Property tests: any RunResult gives a valid, verifiable record; any tampering is found."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_trainer import audit
from ci_trainer.backend_types import EvalMetrics
from ci_trainer.result import CheckResult, CheckStatus, DatasetRecord

from .runs import ALL_RESULTS, TAGS, approved

# Any text, lone surrogates included (file names decoded with surrogateescape).
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
any_float = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(ALL_RESULTS)),
    reason=any_text,
    path=any_text,
    intent=any_text,
    duration=any_float,
    f1=any_float,
    value=st.one_of(any_float, st.integers(), any_text, st.none()),
)
def test_any_run_result_is_written_valid_and_verifiable(
    name: str,
    reason: str,
    path: str,
    intent: str,
    duration: float,
    f1: float,
    value: float | int | str | None,
) -> None:
    result = ALL_RESULTS[name]().model_copy(
        update={
            "reason": reason,
            "reasons": [reason, path],
            "config_path": path,
            "duration_seconds": duration,
            "metrics": EvalMetrics(version_id=intent, f1=f1),
            "datasets": [DatasetRecord(id=intent, path=path, intent_distribution={intent: 3})],
            "checks": [
                CheckResult(
                    check=intent,
                    dataset_id=None,
                    status=CheckStatus.FAILED,
                    value=value,
                    threshold=f1,
                    message=reason,
                )
            ],
            "thresholds": {intent: f1, "nested": {path: [duration]}},
        }
    )
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "audit.log"
        first = audit.write_audit(result, log, governance_tags=TAGS, fallback_dir=None)
        second = audit.write_audit(approved(), log, governance_tags=TAGS, fallback_dir=None)
        assert first.path == log and not first.fallback_used
        assert second.prev_hash == first.hash
        report = audit.verify_file(log)
        assert report.ok, report.text()
        assert report.records == 2


@functools.cache
def _valid_lines() -> tuple[str, ...]:
    """Six chained records, appended once; any prefix of them is a valid log."""
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "audit.log"
        for n in range(6):
            result = approved().model_copy(update={"run_uuid": f"run-{n}"})
            audit.append_record(log, audit.build_record(result, governance_tags=TAGS))
        return tuple(log.read_text(encoding="utf-8").splitlines(keepends=True))


@st.composite
def tampering(draw: st.DrawFn) -> tuple[int, str, int, int]:
    """(record count, kind, i, j): what to do to a log, i < j."""
    count = draw(st.integers(min_value=2, max_value=6))
    kind = draw(st.sampled_from(["delete", "swap", "edit", "edit-and-rehash"]))
    # Removing or re-hashing the LAST record is invisible in the file alone (nothing
    # follows it); the job's audit-hash output is the anchor for that case.
    last = count - 1 if kind == "edit" else count - 2
    i = draw(st.integers(min_value=0, max_value=last))
    j = draw(st.integers(min_value=i + 1, max_value=count - 1)) if kind == "swap" else i
    return count, kind, i, j


@settings(max_examples=40, deadline=None)
@given(tampering())
def test_any_tampering_is_found_at_the_first_changed_line(
    case: tuple[int, str, int, int],
) -> None:
    count, kind, i, j = case
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "audit.log"
        lines = list(_valid_lines()[:count])
        if kind == "delete":
            del lines[i]
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        else:
            record = json.loads(lines[i])
            record["reason"] = "rewritten by someone"
            if kind == "edit-and-rehash":
                record["hash"] = audit.record_hash(record)
            lines[i] = json.dumps(record) + "\n"
        log.write_text("".join(lines), encoding="utf-8")
        report = audit.verify_file(log)
        assert not report.ok
        # A re-hashed edit is only visible at the next record, whose prevHash no longer fits.
        expected = i + 2 if kind == "edit-and-rehash" else i + 1
        assert report.bad_line == expected, report.text()
