"""`sync_comment` against the fake GitHub API over real HTTP: create, then update in
place; the marker; pages; what each refusal of GitHub's says; the rate limits."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from run_results import approved, rejected

from ci_trainer.decision import Decision
from ci_trainer.pr_comment import CommentOutcome, sync_comment
from ci_trainer.pr_comment.body import marker
from ci_trainer.result import RunResult

from .conftest import REPOSITORY, pull_request_env
from .fake_github import TOKEN, FakeGitHub

CONFIG = "training-config.yaml"


def sync(
    result: RunResult,
    github: FakeGitHub,
    tmp_path: Path,
    *,
    config: str = CONFIG,
    token: str = TOKEN,
    **env: object,
) -> CommentOutcome:
    options = {key: value for key, value in env.items() if key in ("number", "head", "event")}
    given = pull_request_env(tmp_path / "event", github.url, **options)  # type: ignore[arg-type]
    given.update({key: str(value) for key, value in env.items() if key.startswith("GITHUB_")})
    outcome = sync_comment(result, token=token, env=given, config=config)
    assert_no_token(outcome)
    return outcome


def assert_no_token(outcome: CommentOutcome) -> None:
    shown = json.dumps(outcome.record.model_dump()) + outcome.line
    shown += outcome.message.text if outcome.message else ""
    assert TOKEN not in shown


def test_the_first_run_creates_the_comment_and_the_next_updates_it(
    github: FakeGitHub, tmp_path: Path
) -> None:
    first = sync(approved(), github, tmp_path)
    assert first.record.outcome == "created" and first.message is None
    assert first.record.pull_request == 7
    [comment] = github.on(REPOSITORY, 7)
    assert comment.body.splitlines()[0] == marker(CONFIG)
    assert first.record.comment_id == comment.id
    assert first.record.url == f"https://github.com/{REPOSITORY}/pull/7#issuecomment-{comment.id}"
    assert "### ✅ ci-trainer: Approved" in comment.body
    assert "[Full report: the step summary of run 4242]" in comment.body
    assert "(https://github.com/acme/nlu-models/actions/runs/4242/attempts/1)" in comment.body
    assert "| F1 | 0.912 | 0.880 |" in comment.body
    assert "macro-F1 difference +0.031 (95% interval +0.008 to +0.054, n = 240)" in comment.body

    second = sync(rejected(), github, tmp_path)
    assert second.record.outcome == "updated"
    assert second.record.comment_id == first.record.comment_id
    [comment] = github.on(REPOSITORY, 7)  # still one comment, now the rejection
    assert "### ❌ ci-trainer: Rejected" in comment.body
    assert [call.method for call in github.calls()] == ["GET", "POST", "GET", "PATCH"]
    assert all(call.authorization == f"Bearer {TOKEN}" for call in github.calls())
    assert second.line == f"pull request comment: updated on #7 ({second.record.url})"


def test_comments_without_the_marker_are_left_alone(github: FakeGitHub, tmp_path: Path) -> None:
    others = [
        "LGTM, but the refund intent looks thin",
        # A reply quoting our comment carries the marker, but not as its first line.
        f"> {marker(CONFIG)}\n> ### ✅ ci-trainer: Approved\n\nnice",
        f"see below\n{marker(CONFIG)}",
    ]
    for body in others:
        github.add_comment(REPOSITORY, 7, body)
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "created"
    assert [c.body for c in github.on(REPOSITORY, 7)][:3] == others
    assert len(github.on(REPOSITORY, 7)) == 4
    assert github.calls("PATCH") == []


def test_two_configs_keep_two_comments(github: FakeGitHub, tmp_path: Path) -> None:
    for _ in range(2):
        sync(approved(), github, tmp_path, config="models/en/training-config.yaml")
        sync(rejected(), github, tmp_path, config="models/de/training-config.yaml")
    bodies = [c.body for c in github.on(REPOSITORY, 7)]
    assert len(bodies) == 2
    assert bodies[0].startswith(marker("models/en/training-config.yaml") + "\n")
    assert "Approved" in bodies[0] and "Rejected" in bodies[1]
    assert len(github.calls("PATCH")) == 2


def test_another_pull_request_gets_its_own_comment(github: FakeGitHub, tmp_path: Path) -> None:
    sync(approved(), github, tmp_path, number=7)
    outcome = sync(approved(), github, tmp_path, number=8)
    assert outcome.record.outcome == "created"
    assert len(github.on(REPOSITORY, 7)) == len(github.on(REPOSITORY, 8)) == 1


def test_the_marker_is_found_on_a_later_page(github: FakeGitHub, tmp_path: Path) -> None:
    for index in range(64):
        github.add_comment(REPOSITORY, 7, f"review note {index}")
    ours = github.add_comment(
        REPOSITORY, 7, marker(CONFIG) + "\n\nan older run", "github-actions[bot]"
    )
    github.add_comment(REPOSITORY, 7, "after ours")
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "updated"
    assert outcome.record.comment_id == ours
    gets = [call.path for call in github.calls("GET")]
    assert gets[0] == "/repos/acme/nlu-models/issues/7/comments?per_page=30"
    assert gets[1:] == [
        "/repositories/4242/issues/7/comments?per_page=30&page=2",
        "/repositories/4242/issues/7/comments?per_page=30&page=3",
    ]
    assert len(github.on(REPOSITORY, 7)) == 66


def test_a_next_link_off_the_api_is_not_followed(github: FakeGitHub, tmp_path: Path) -> None:
    """The token goes with every page: a Link to another host ends the search, and no
    comment is created that might duplicate ours on a page not seen."""
    other = FakeGitHub()
    try:
        for index in range(31):
            github.add_comment(REPOSITORY, 7, f"note {index}")
        github.link_base = other.url
        outcome = sync(approved(), github, tmp_path)
    finally:
        other.close()
    assert other.seen == []
    assert outcome.record.outcome == "failed"
    assert github.calls("POST") == []
    assert outcome.message is not None and outcome.message.level == "warning"


def test_a_fork_token_gets_one_notice_naming_workflow_run(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.fail(403, "Resource not accessible by integration", method="POST")
    outcome = sync(rejected(), github, tmp_path, head="someone/nlu-models")
    assert outcome.record.outcome == "failed"
    assert outcome.record.status_code == 403
    message = outcome.message
    assert message is not None and message.level == "notice"
    assert message.text.startswith(
        "could not create the comment on pull request #7 "
        "(HTTP 403: Resource not accessible by integration): a pull request from a fork"
    )
    assert "`workflow_run`" in message.text
    assert message.text.endswith("The run's decision and exit code are unchanged.")
    assert github.on(REPOSITORY, 7) == []


def test_a_missing_permission_says_what_to_grant(github: FakeGitHub, tmp_path: Path) -> None:
    github.fail(403, "Resource not accessible by integration", method="POST")
    outcome = sync(approved(), github, tmp_path)
    assert outcome.message is not None and outcome.message.level == "warning"
    assert "give the job `permissions: pull-requests: write`" in outcome.message.text
    assert "github-token: ${{ github.token }}" in outcome.message.text


@pytest.mark.parametrize(
    ("status", "said", "advice"),
    [
        (401, "Bad credentials", "GitHub did not accept the github-token"),
        (404, "Not Found", "the token cannot see pull request #7 of acme/nlu-models"),
        (422, "Validation Failed", "GitHub refused to post it"),
        (500, "Server Error", "GitHub or the network failed; re-run the job to post it"),
    ],
)
def test_each_refusal_is_one_warning(
    github: FakeGitHub, tmp_path: Path, status: int, said: str, advice: str
) -> None:
    github.fail(status, said, method="GET")
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "failed"
    assert outcome.record.status_code == status
    assert outcome.message is not None and outcome.message.level == "warning"
    assert f"(HTTP {status}: {said}): {advice}" in outcome.message.text
    assert github.calls("POST") == []
    assert (
        outcome.line
        == f"pull request comment: not posted on #7 ({outcome.record.error.split(':')[0]})"
    )  # type: ignore[union-attr]


def test_a_5xx_on_create_is_not_sent_twice(github: FakeGitHub, tmp_path: Path) -> None:
    """GitHub may have made the comment before it failed: a second POST could be a
    second comment, so the write is not repeated."""
    github.fail(502, "Bad Gateway", method="POST")
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "failed" and outcome.record.status_code == 502
    assert len(github.calls("POST")) == 1
    assert outcome.message is not None
    assert "re-run the job to create it" in outcome.message.text
    assert outcome.line == "pull request comment: not created on #7 (server)"


def test_a_5xx_on_a_list_is_tried_once_more(github: FakeGitHub, tmp_path: Path) -> None:
    github.fail(503, "Service Unavailable", method="GET")
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "created"
    assert len(github.calls("GET")) == 2


def test_a_429_with_retry_after_is_waited_out(github: FakeGitHub, tmp_path: Path) -> None:
    github.fail(429, "secondary rate limit", method="POST", headers={"Retry-After": "1"})
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "created"
    first, second = github.calls("POST")
    assert second.at - first.at >= 0.9
    assert len(github.on(REPOSITORY, 7)) == 1


def test_a_secondary_limit_403_with_retry_after_is_waited_out(
    github: FakeGitHub, tmp_path: Path
) -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes."
    github.fail(403, message, method="GET", headers={"Retry-After": "1"})
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "created"
    assert len(github.calls("GET")) == 2


def test_a_retry_after_past_the_bound_gives_up_at_once(github: FakeGitHub, tmp_path: Path) -> None:
    github.fail(429, "secondary rate limit", method="GET", headers={"Retry-After": "120"})
    started = time.monotonic()
    outcome = sync(approved(), github, tmp_path)
    assert time.monotonic() - started < 5
    assert outcome.record.outcome == "failed" and outcome.record.status_code == 429
    assert outcome.message is not None and outcome.message.level == "notice"
    assert "GitHub's rate limit asked to wait 120 s, more than the 10 s" in outcome.message.text
    assert len(github.calls()) == 1


def test_a_429_without_retry_after_is_not_retried_blindly(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.fail(429, "secondary rate limit", method="GET")
    outcome = sync(approved(), github, tmp_path)
    assert outcome.message is not None
    assert "asked to wait 60 s" in outcome.message.text  # GitHub's advice: a minute at least
    assert len(github.calls()) == 1


def test_a_primary_limit_waits_for_its_reset(github: FakeGitHub, tmp_path: Path) -> None:
    reset = str(int(time.time()) + 1)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    github.fail(403, "API rate limit exceeded for installation", method="GET", headers=headers)
    outcome = sync(approved(), github, tmp_path)
    assert outcome.record.outcome == "created"
    _, second = github.calls("GET")
    assert second.at >= int(reset)


def test_a_primary_limit_far_off_gives_the_notice(github: FakeGitHub, tmp_path: Path) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3000)}
    github.fail(403, "API rate limit exceeded", method="GET", headers=headers)
    outcome = sync(approved(), github, tmp_path)
    assert outcome.message is not None and outcome.message.level == "notice"
    assert "GitHub's rate limit asked to wait 300" in outcome.message.text
    assert github.on(REPOSITORY, 7) == []


def test_no_network_is_one_warning(tmp_path: Path, github: FakeGitHub) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    outcome = sync(approved(), github, tmp_path, GITHUB_API_URL=closed)
    assert outcome.record.outcome == "failed" and outcome.record.status_code is None
    assert outcome.message is not None and outcome.message.level == "warning"
    assert "cannot connect to 127.0.0.1" in outcome.message.text


def test_a_plain_http_api_off_loopback_is_refused(github: FakeGitHub, tmp_path: Path) -> None:
    outcome = sync(approved(), github, tmp_path, GITHUB_API_URL="http://ghes.example.com/api/v3")
    assert outcome.record.outcome == "failed"
    assert outcome.message is not None
    assert "is not an https URL" in outcome.message.text
    assert github.calls() == []


def test_a_push_run_makes_no_comment_and_no_noise(github: FakeGitHub, tmp_path: Path) -> None:
    outcome = sync(approved(), github, tmp_path, event="push")
    assert outcome.record.outcome == "skipped" and outcome.message is None
    assert "this run's event is 'push'" in outcome.line
    assert github.calls() == []


def test_pull_request_target_comments_too(github: FakeGitHub, tmp_path: Path) -> None:
    outcome = sync(approved(), github, tmp_path, event="pull_request_target")
    assert outcome.record.outcome == "created"


def test_no_token_is_a_warning_that_says_what_to_pass(github: FakeGitHub, tmp_path: Path) -> None:
    outcome = sync(approved(), github, tmp_path, token="")
    assert outcome.record.outcome == "skipped"
    assert outcome.message is not None and outcome.message.level == "warning"
    assert "github-token is empty" in outcome.message.text
    assert github.calls() == []


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"pull_request": {"number": "7"}}'])
def test_an_event_file_without_a_number_is_a_warning(
    github: FakeGitHub, tmp_path: Path, content: str
) -> None:
    event = tmp_path / "broken-event.json"
    event.write_text(content, encoding="utf-8")
    outcome = sync(approved(), github, tmp_path, GITHUB_EVENT_PATH=event)
    assert outcome.record.outcome == "skipped"
    assert outcome.message is not None and "GITHUB_EVENT_PATH" in outcome.message.text
    assert github.calls() == []


def test_the_decision_is_never_touched(github: FakeGitHub, tmp_path: Path) -> None:
    """sync_comment reads the result only; the action puts the record on a copy."""
    result = rejected()
    github.fail(403, "Resource not accessible by integration")
    sync(result, github, tmp_path)
    assert result.decision is Decision.REJECTED and result.pr_comment is None
