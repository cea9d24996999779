"""The JUnit XML report: valid against tests/report/junit.xsd (the Jenkins schemas' common
ground) for every decision, one case per check, rule and regressed intent, failures that
carry the reason, and read by junitparser (the parser publish-unit-test-result-action
uses) the way that action reads it."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from junit_schema import SCHEMA
from run_results import ALL, approved, invalid, rejected

from ci_trainer.decision import Decision
from ci_trainer.report import render_junit
from ci_trainer.report.junit import BODY_LIMIT, MESSAGE_LIMIT
from ci_trainer.result import (
    ChampionComparison,
    CheckResult,
    CheckStatus,
    GateRule,
    IntentChange,
    Location,
    RunResult,
)

# The decision's case ends as a pass, a skip, a failure or an error.
DECISION_OUTCOME = {
    "validated": None,
    "approved": None,
    "promoted": None,
    "skipped": "skipped",
    "rejected": "failure",
    "invalid": "error",
    "failed": "error",
}


def cases(document: str) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(document)
    found: dict[tuple[str, str], ET.Element] = {}
    for case in root.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        assert key not in found, f"two cases are both {key}"  # the action would merge them
        found[key] = case
    return found


def outcome(case: ET.Element) -> str | None:
    for tag in ("skipped", "error", "failure"):
        if case.find(tag) is not None:
            return tag
    return None


def by_name(document: str, part: str) -> dict[str, ET.Element]:
    return {name: case for (cls, name), case in cases(document).items() if cls.endswith(part)}


def regressed() -> RunResult:
    """A rejected run whose candidate lost recall on two intents (the champion gate)."""
    base = rejected()
    changes = [
        IntentChange(
            intent="card_lost",
            support=20,
            candidate_recall=0.6,
            production_recall=0.95,
            candidate_only=0,
            production_only=7,
            p_value=0.0156,
            p_adjusted=0.0312,
            significant=True,
        ),
        IntentChange(
            intent="fees",
            support=18,
            candidate_recall=0.5,
            production_recall=0.9,
            candidate_only=1,
            production_only=8,
            p_value=0.0391,
            p_adjusted=0.0391,
            significant=True,
        ),
        IntentChange(
            intent="reset_pin",
            support=15,
            candidate_recall=0.93,
            production_recall=0.93,
            candidate_only=1,
            production_only=1,
            p_value=1.0,
            p_adjusted=1.0,
            significant=False,
        ),
    ]
    champion = ChampionComparison(
        holdout_path="datasets/holdout.yaml",
        holdout_sha256="c" * 64,
        n=240,
        candidate_version_id="v-cand-17",
        production_version_id="v-prod-16",
        candidate_macro_f1=0.85,
        production_macro_f1=0.88,
        candidate_accuracy=0.86,
        production_accuracy=0.89,
        diff_macro_f1=-0.03,
        ci_low=-0.06,
        ci_high=0.0,
        confidence=0.95,
        bootstrap_samples=2000,
        seed=1,
        mcnemar_candidate_only=2,
        mcnemar_production_only=16,
        mcnemar_p=0.001,
        margin=0.01,
        alpha=0.05,
        min_support=10,
        intents_worse=["card_lost", "fees"],
        intent_changes=changes,
        verdict="worse",
        conclusion="worse",
        sentence="The candidate is worse on 2 intents.",
    )
    rule = GateRule(
        rule="champion.per_intent",
        passed=False,
        value=2.0,
        threshold=0.0,
        message="significant recall drop among 3 intents: 'card_lost' recall 0.950 -> 0.600",
    )
    return base.model_copy(
        update={"champion": champion, "champion_note": None, "gate": [*base.gate, rule]}
    )


def test_the_fixtures_cover_every_decision() -> None:
    assert set(ALL) == {decision.value for decision in Decision} == set(DECISION_OUTCOME)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_decision_is_valid_against_the_schema(name: str) -> None:
    result = ALL[name]()
    document = render_junit(result)
    SCHEMA.validate(document)
    decision = by_name(document, ".run")["decision"]
    assert outcome(decision) == DECISION_OUTCOME[name]
    # The reason is where each CI shows it: the message of a failure or error, the text of
    # a skip, the output of a pass.
    shown = decision.find(DECISION_OUTCOME[name] or "system-out")
    assert shown is not None and shown.text is not None
    assert result.reason in shown.text
    if DECISION_OUTCOME[name] in ("failure", "error"):
        assert shown.get("message") == result.reason


@pytest.mark.parametrize("name", sorted(ALL))
def test_one_case_per_check_and_rule_with_the_failures_carrying_their_message(
    name: str,
) -> None:
    result = ALL[name]()
    document = render_junit(result)
    checks = by_name(document, ".datasets")
    rules = by_name(document, ".gate")
    assert len(checks) == len(result.checks)
    assert set(rules) == {rule.rule for rule in result.gate}
    for rule in result.gate:
        failure = rules[rule.rule].find("failure")
        assert (failure is None) == rule.passed
        if failure is not None:
            assert failure.get("message") == rule.message
            assert failure.get("type") == "gate-rule"
    for check in result.checks:
        label = f"{check.check} [{check.dataset_id}]" if check.dataset_id else check.check
        assert check.message in "".join(checks[label].itertext())


def test_invalid_names_every_config_problem_at_its_file_and_line() -> None:
    error = by_name(render_junit(invalid()), ".run")["decision"].find("error")
    assert error is not None and error.text is not None
    assert error.get("type") == "ConfigError"
    assert "training-config.yaml:12:21: training.validation_split: must be between" in error.text
    assert "training-config.yaml:20:3: gate.min_f1: unknown key 'min_f11'" in error.text


def test_failed_carries_what_a_support_ticket_needs() -> None:
    error = by_name(render_junit(ALL["failed"]()), ".run")["decision"].find("error")
    assert error is not None and error.text is not None
    assert error.get("type") == "ApiError"
    assert "POST /models/banking-nlu/train, HTTP status 503, trace id trace-7f3a" in error.text


def test_each_regressed_intent_is_a_failing_case_with_its_recall_change() -> None:
    document = render_junit(regressed())
    SCHEMA.validate(document)
    intents = by_name(document, ".regressed_intents")
    assert set(intents) == {"card_lost", "fees"}  # reset_pin did not regress
    failure = intents["card_lost"].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.get("type") == "regressed-intent"
    assert failure.get("message") == (
        "recall 0.950 -> 0.600 on 20 holdout examples (Holm-adjusted p 0.0312)"
    )
    assert "production right and candidate wrong on 7, the reverse on 0" in failure.text
    assert "candidate v-cand-17, production v-prod-16" in failure.text
    assert by_name(document, ".gate")["champion.per_intent"].find("failure") is not None


def test_check_outcomes_follow_their_status() -> None:
    checks = [
        CheckResult(
            check="duplicates",
            dataset_id="ds-1",
            status=CheckStatus.FAILED,
            value=3,
            threshold=0,
            message="3 utterances appear twice",
            locations=[Location(file="datasets/a.csv", line=12, text="hello there")],
        ),
        CheckResult(
            check="imbalance_ratio",
            dataset_id="ds-1",
            status=CheckStatus.WARNING,
            value=6.0,
            threshold=5.0,
            message="largest/smallest intent 6.0 > 5.0",
        ),
        CheckResult(
            check="annotation_score",
            dataset_id="ds-1",
            status=CheckStatus.SKIPPED,
            message="no annotation scores",
        ),
    ]
    document = render_junit(rejected().model_copy(update={"checks": checks}))
    SCHEMA.validate(document)
    found = by_name(document, ".datasets")
    failure = found["duplicates [ds-1]"].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.get("message") == "3 utterances appear twice"
    assert "datasets/a.csv:12: hello there" in failure.text
    # A warning does not block the run, so it does not fail the CI's test report either.
    warning = found["imbalance_ratio [ds-1]"]
    assert outcome(warning) is None
    assert "warning (does not block)" in (warning.findtext("system-out") or "")
    assert found["annotation_score [ds-1]"].findtext("skipped") == "no annotation scores"


@pytest.mark.parametrize("name", sorted(ALL))
def test_junitparser_reads_counts_names_and_times_as_the_action_does(
    name: str, tmp_path: Path
) -> None:
    """publish-unit-test-result-action sums the suites' counts and times, and keys each
    case by class name and name: both must agree with the cases themselves."""
    result = ALL[name]()
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(result), encoding="utf-8")
    xml = junitparser.JUnitXml.fromfile(str(path))
    total_time = 0.0
    for suite in xml:
        listed = list(suite)
        assert suite.tests == len(listed)
        assert suite.failures == sum(case.is_failure for case in listed)
        assert suite.errors == sum(case.is_error for case in listed)
        assert suite.skipped == sum(case.is_skipped for case in listed)
        assert math.isclose(suite.time, sum(case.time for case in listed), abs_tol=0.002)
        for case in listed:
            assert case.classname == suite.name and case.name
            for entry in case.result:
                if not isinstance(entry, junitparser.Skipped):
                    assert entry.message and entry.text.startswith(entry.message)
        total_time += suite.time
    assert math.isclose(total_time, result.duration_seconds, abs_tol=0.002)
    decision = next(case for suite in xml for case in suite if case.name == "decision")
    assert decision.time == pytest.approx(result.duration_seconds)


def test_case_identities_do_not_change_with_the_figures() -> None:
    """The action and Jenkins match a case across runs by class name and name."""
    worse = rejected()
    better = approved()
    assert set(cases(render_junit(worse))) == set(cases(render_junit(better)))
    assert ("ci-trainer.banking-nlu.gate", "min_f1") in cases(render_junit(worse))


def test_the_run_suite_names_the_run_for_the_audit_log() -> None:
    root = ET.fromstring(render_junit(approved()))
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["ci-trainer.run-uuid"] == approved().run_uuid
    assert properties["ci-trainer.decision"] == "approved"
    assert properties["ci-trainer.audit-hash"] == "b" * 64


HOSTILE = "<b>&amp;</b> ]]> \"q\" 'a'\x00\x01\x0b\x1b\x7f\ud800\ufffe\uffff é 🚀\ttab\r\nline"


def test_hostile_text_is_escaped_and_forbidden_characters_dropped() -> None:
    check = CheckResult(
        check="label_conflicts",
        dataset_id=f"ds-{HOSTILE}",
        status=CheckStatus.FAILED,
        message=f"conflict: {HOSTILE}",
        details=[HOSTILE],
    )
    result = rejected().model_copy(
        update={"checks": [check], "reason": HOSTILE, "model_id": f"m.{HOSTILE}"}
    )
    document = render_junit(result)
    SCHEMA.validate(document)
    document.encode("utf-8")  # no lone surrogate survives
    failure = next(iter(by_name(document, ".datasets").values())).find("failure")
    assert failure is not None and failure.text is not None
    # DEL is a legal XML 1.0 character (only discouraged), so it stays.
    kept = "<b>&amp;</b> ]]> \"q\" 'a'\x7f é 🚀\ttab"
    assert kept in failure.text
    assert not set(failure.text) & set("\x00\x01\x0b\x1b\ud800\ufffe\uffff")
    assert "\n" not in (failure.get("message") or "")


def test_a_long_service_answer_is_trimmed() -> None:
    text = "engine down " * 5_000
    rule = GateRule(rule="min_f1", passed=False, value=0.1, threshold=0.85, message=text)
    document = render_junit(rejected().model_copy(update={"gate": [rule], "reason": text}))
    SCHEMA.validate(document)
    for case in ET.fromstring(document).iter("testcase"):
        for child in case:
            assert len(child.get("message") or "") <= MESSAGE_LIMIT
            assert len(child.text or "") <= BODY_LIMIT


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_any_text_from_a_config_or_a_service_stays_valid(dataset_id: str, message: str) -> None:
    check = CheckResult(
        check="duplicates", dataset_id=dataset_id, status=CheckStatus.FAILED, message=message
    )
    SCHEMA.validate(render_junit(rejected().model_copy(update={"checks": [check]})))


def test_the_schema_refuses_what_a_jenkins_schema_refuses() -> None:
    """The schema is not a rubber stamp: each of these breaks junit-4.xsd or junit-10.xsd."""
    valid = '<testsuites><testsuite name="s" tests="1" failures="0" errors="0">{}</testsuite></testsuites>'
    assert SCHEMA.is_valid(valid.format('<testcase name="c" time="1.5"/>'))
    for case in (
        '<testcase name="c"><skipped message="why"/></testcase>',  # junit-4: no attributes
        '<testcase name="c" file="a.py"/>',  # neither has file on a test case
        '<testcase name="c" time="soon"/>',
        "<testcase/>",  # a name is required
        '<testcase name="c"><system-out/><failure/></testcase>',  # junit-4's order
    ):
        assert not SCHEMA.is_valid(valid.format(case)), case
    assert not SCHEMA.is_valid('<testsuites skipped="1"/>')
    assert not SCHEMA.is_valid('<testsuites><testsuite name="s" tests="1"/></testsuites>')
