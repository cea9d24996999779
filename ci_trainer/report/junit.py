"""RunResult -> a JUnit XML report, for the test tabs of GitLab, Jenkins and Azure DevOps.

One test case per dataset check, per gate rule and per regressed intent, and one for the
decision itself (an invalid or failed run has no checks or rules, but a reviewer still
needs its reason). A case fails with the message the summary would show.

The report keeps to what both Jenkins schemas accept (the dtkit junit-4.xsd and the xUnit
plugin's junit-10.xsd; tests/report/junit.xsd is their common ground): no attributes on
`skipped`, none of `file`, `line` or `status` on a test case, no `skipped` count on
`testsuites`. Names and class names never hold a figure, so one check keeps its identity
from run to run (publish-unit-test-result-action and Jenkins match cases by class name
and name). Every string passes through `_text`: the characters XML 1.0 forbids are
dropped, and a service's long answer is trimmed; ElementTree escapes the rest.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timezone

from ci_trainer.decision import Decision
from ci_trainer.report.markdown import one_line
from ci_trainer.result import (
    ChampionComparison,
    CheckResult,
    CheckStatus,
    GateRule,
    IntentChange,
    Message,
    RunResult,
)

# Anything but Char of XML 1.0 (section 2.2): C0 controls other than tab, LF and CR, lone
# surrogates, U+FFFE and U+FFFF. A parser refuses a file holding one, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_LIMIT = 500  # characters of a `message` attribute (one line)
BODY_LIMIT = 8_000  # characters of a failure's or an output's text
LOCATIONS_SHOWN = 10

PASSED, FAILURE, ERROR, SKIPPED = "passed", "failure", "error", "skipped"


@dataclass(frozen=True)
class Case:
    """One test case: its name, how it ended, and what a reviewer reads about it."""

    name: str
    outcome: str  # PASSED, FAILURE, ERROR or SKIPPED
    message: str
    details: tuple[str, ...] = ()
    kind: str = ""  # the failure's or error's `type`
    time: float = 0.0


def _text(value: object, limit: int = BODY_LIMIT) -> str:
    text = _NOT_XML.sub("", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(value: float | int | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return "n/a" if value is None else str(value)


def _where(message: Message) -> str:
    if not message.file:
        return ""
    where = message.file
    if message.line is not None:
        where += f":{message.line}"
        if message.column is not None:
            where += f":{message.column}"
    return where + ": "


def _message_lines(messages: Iterable[Message], levels: tuple[str, ...]) -> list[str]:
    lines = []
    for message in messages:
        if message.level in levels:
            title = f"{message.title}: " if message.title else ""
            lines.append(f"{message.level}: {_where(message)}{title}{message.text}")
    return lines


# --- the cases ---------------------------------------------------------------------------


def decision_case(result: RunResult) -> Case:
    """The run's decision: passed, skipped, a failure (rejected) or an error (the run could
    not decide: invalid input or a failing service)."""
    decision = result.decision
    reasons = tuple(r for r in result.reasons if r != result.reason)
    time = result.duration_seconds
    if decision is Decision.SKIPPED:
        return Case("decision", SKIPPED, result.reason, reasons, time=time)
    if decision is Decision.REJECTED:
        extra = [result.champion.sentence] if result.champion else []
        if result.champion_note:
            extra.append(result.champion_note)
        return Case("decision", FAILURE, result.reason, (*reasons, *extra), "rejected", time=time)
    if decision in (Decision.INVALID, Decision.FAILED):
        lines = list(reasons)
        if result.error and result.error.message != result.reason:
            lines.append(f"{result.error.type}: {result.error.message}")
        if result.support:
            support = result.support
            lines.append(
                f"endpoint {support.endpoint}, HTTP status {_figure(support.status)}, "
                f"trace id {support.trace_id or 'n/a'}"
            )
        lines += _message_lines(result.messages, ("error", "warning"))
        kind = result.error.type if result.error else decision.value
        return Case("decision", ERROR, result.reason, tuple(lines), kind, time=time)
    return Case("decision", PASSED, f"{decision.value}: {result.reason}", reasons, time=time)


def check_case(check: CheckResult) -> Case:
    name = f"{check.check} [{check.dataset_id}]" if check.dataset_id else check.check
    lines = [f"value {_figure(check.value)}, threshold {_figure(check.threshold)}"]
    lines += check.details
    for location in check.locations[:LOCATIONS_SHOWN]:
        line = f":{location.line}" if location.line is not None else ""
        lines.append(f"{location.file}{line}: {location.text}")
    if check.status is CheckStatus.FAILED:
        return Case(name, FAILURE, check.message, tuple(lines), "dataset-check")
    if check.status is CheckStatus.SKIPPED:
        return Case(name, SKIPPED, check.message)
    if check.status is CheckStatus.WARNING:  # failed, but configured not to block
        return Case(name, PASSED, f"warning (does not block): {check.message}", tuple(lines))
    return Case(name, PASSED, check.message, tuple(lines))


def rule_case(rule: GateRule) -> Case:
    lines = (f"value {_figure(rule.value)}, threshold {_figure(rule.threshold)}",)
    if rule.passed:
        return Case(rule.rule, PASSED, rule.message, lines)
    return Case(rule.rule, FAILURE, rule.message, lines, "gate-rule")


def intent_cases(champion: ChampionComparison | None) -> list[Case]:
    """One failing case per intent whose holdout recall dropped significantly."""
    if champion is None:
        return []
    changes = {change.intent: change for change in champion.intent_changes}
    return [_intent_case(name, changes.get(name), champion) for name in champion.intents_worse]


def _intent_case(name: str, change: IntentChange | None, champion: ChampionComparison) -> Case:
    versions = (
        f"candidate {champion.candidate_version_id}, "
        f"production {champion.production_version_id}, holdout {champion.holdout_path}"
    )
    if change is None:
        return Case(name, FAILURE, "recall dropped significantly", (versions,), "regressed-intent")
    message = (
        f"recall {change.production_recall:.3f} -> {change.candidate_recall:.3f} "
        f"on {change.support} holdout examples (Holm-adjusted p {change.p_adjusted:.3g})"
    )
    alpha = f", alpha {_figure(champion.alpha)}" if champion.alpha is not None else ""
    lines = (
        f"production right and candidate wrong on {change.production_only}, "
        f"the reverse on {change.candidate_only}",
        f"exact McNemar p {change.p_value:.3g}, Holm-adjusted {change.p_adjusted:.3g}{alpha}",
        versions,
    )
    return Case(name, FAILURE, message, lines, "regressed-intent")


def suites(result: RunResult) -> list[tuple[str, list[Case]]]:
    """The report's suites by part, in reading order; a part with no case is left out."""
    parts = [
        ("run", [decision_case(result)]),
        ("datasets", [check_case(check) for check in result.checks]),
        ("gate", [rule_case(rule) for rule in result.gate]),
        ("regressed_intents", intent_cases(result.champion)),
    ]
    return [(part, cases) for part, cases in parts if cases]


# --- the XML ---------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) and value > 0 else "0.000"


def _prefix(result: RunResult) -> str:
    # Jenkins shows the text before a class name's last dot as its package.
    model = _text(result.model_id, 100).replace(".", "_") if result.model_id else ""
    return f"ci-trainer.{model}" if model else "ci-trainer"


def _properties(result: RunResult) -> ET.Element:
    element = ET.Element("properties")
    values = {
        "run-uuid": result.run_uuid,
        "decision": result.decision.value,
        "mode": result.mode.value,
        "tool-version": result.tool_version,
        "model-id": result.model_id,
        "version-id": result.version_id,
        "commit": result.provenance.commit,
        "config": result.config_path,
        "audit-hash": result.audit_hash,
    }
    for name, value in values.items():
        if value:
            ET.SubElement(element, "property", name=f"ci-trainer.{name}", value=_text(value, 500))
    return element


def _case_element(case: Case, classname: str) -> ET.Element:
    element = ET.Element(
        "testcase", name=_text(case.name, 300), classname=classname, time=_seconds(case.time)
    )
    message = _text(one_line(case.message), MESSAGE_LIMIT)
    body = _text("\n".join([case.message, *case.details]))
    if case.outcome == SKIPPED:
        ET.SubElement(element, "skipped").text = body  # junit-4 gives `skipped` no attributes
    elif case.outcome in (FAILURE, ERROR):
        child = ET.SubElement(element, case.outcome, message=message, type=_text(case.kind, 100))
        child.text = body
    else:
        ET.SubElement(element, "system-out").text = body
    return element


def _count(cases: list[Case], outcome: str) -> int:
    return sum(1 for case in cases if case.outcome == outcome)


def render_junit(result: RunResult) -> str:
    """The run as a JUnit XML document (UTF-8 text with its declaration)."""
    prefix = _prefix(result)
    started = result.started_at.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)
    root = ET.Element("testsuites", name=prefix)
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    total_time = 0.0
    for part, cases in suites(result):
        time = sum(case.time for case in cases if math.isfinite(case.time) and case.time > 0)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{prefix}.{part}",
            tests=str(len(cases)),
            failures=str(_count(cases, FAILURE)),
            errors=str(_count(cases, ERROR)),
            skipped=str(_count(cases, SKIPPED)),
            time=_seconds(time),
            timestamp=started.isoformat(),
        )
        if part == "run":
            suite.append(_properties(result))
        suite.extend(_case_element(case, f"{prefix}.{part}") for case in cases)
        totals["tests"] += len(cases)
        totals["failures"] += _count(cases, FAILURE)
        totals["errors"] += _count(cases, ERROR)
        total_time += time
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _seconds(total_time))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
