"""The sticky pull request comment: one comment per config on the run's pull request,
created on the first run and updated in place on every later one.

It is a courtesy to reviewers, never part of the decision: whatever GitHub answers (a
fork's read-only token, a missing permission, a 404, a rate limit, a 5xx, no network),
`sync_comment` returns what happened and at most one notice or warning that says what to
grant; it never raises for any of it, and the decision and exit code stay as they are.
The action calls it last, after the summary, the outputs and the audit record are
written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ci_trainer.github_api import RATE_LIMIT_WAIT_SECONDS, GitHubApi, GitHubError, IssueComment
from ci_trainer.pr_comment.body import is_ours, marker, render_comment, run_url
from ci_trainer.pr_comment.target import NoPullRequest, PullRequest, pull_request_from_env
from ci_trainer.redact import Redactor, one_line
from ci_trainer.result import Message, PullRequestComment, RunResult

TITLE = "ci-trainer: pull request comment"
GRANT = (
    "give the job `permissions: pull-requests: write` and pass `github-token: ${{ github.token }}`"
)
FORK = (
    "a pull request from a fork gets a read-only token whatever the workflow grants; for "
    "those, keep the step's `summary` output as an artifact and post it from a workflow "
    "triggered by `workflow_run`, which runs with the base repository's token"
)
UNCHANGED = "The run's decision and exit code are unchanged."

__all__ = ["CommentOutcome", "sync_comment"]


@dataclass(frozen=True)
class CommentOutcome:
    record: PullRequestComment
    message: Message | None  # the one notice or warning, when there is something to fix
    line: str  # what the log says about the comment


def sync_comment(
    result: RunResult,
    *,
    token: str,
    env: Mapping[str, str],
    config: str,
    stop: threading.Event | None = None,
    wait_allowance: float = RATE_LIMIT_WAIT_SECONDS,
) -> CommentOutcome:
    """Create or update this config's comment on the run's pull request."""
    redact = Redactor([token])
    if not token:
        text = f"comment is true, but github-token is empty: {GRANT}. {UNCHANGED}"
        return _skipped("no github-token", Message(level="warning", text=text, title=TITLE))
    try:
        target = pull_request_from_env(env)
    except NoPullRequest as missing:
        if missing.level == "info":
            return _skipped(missing.message, None)
        text = f"{missing.message}. {UNCHANGED}"
        return _skipped(missing.message, Message(level="warning", text=text, title=TITLE))
    body = render_comment(result, config=config, link=run_url(result.provenance))
    try:
        api = GitHubApi(target.api_url, token, stop=stop, wait_allowance=wait_allowance)
    except GitHubError as error:
        return _failed(target, error, redact, verb="post")
    verb = "post"  # until the list says whether it is a new comment or ours to update
    try:
        found = _ours(api, target, marker(config))
        if found is None:
            verb = "create"
            posted = api.create_comment(target.repository, target.number, body)
        else:
            verb = "update"
            posted = api.update_comment(target.repository, found.id, body)
    except GitHubError as error:
        return _failed(target, error, redact, verb=verb)
    finally:
        api.close()
    outcome = "created" if found is None else "updated"
    record = PullRequestComment(
        outcome=outcome, pull_request=target.number, comment_id=posted.id, url=posted.html_url
    )
    where = f" ({one_line(posted.html_url)})" if posted.html_url else ""
    return CommentOutcome(
        record, None, f"pull request comment: {outcome} on #{target.number}{where}"
    )


def _ours(api: GitHubApi, target: PullRequest, config_marker: str) -> IssueComment | None:
    """The oldest comment that carries this config's marker, if there is one."""
    for comment in api.issue_comments(target.repository, target.number):
        if is_ours(comment.body, config_marker):
            return comment
    return None


def _skipped(why: str, message: Message | None) -> CommentOutcome:
    record = PullRequestComment(outcome="skipped", error=one_line(why))
    return CommentOutcome(record, message, one_line(why))


def _failed(
    target: PullRequest, error: GitHubError, redact: Redactor, *, verb: str
) -> CommentOutcome:
    said = redact(one_line(error.message))
    status = f"HTTP {error.status}: " if error.status is not None else ""
    what = f"{status}{said}" if said else status.rstrip(": ")
    level, advice = _advice(target, error, verb=verb)
    text = (
        f"could not {verb} the comment on pull request "
        f"#{target.number} ({what}): {advice}. {UNCHANGED}"
    )
    record = PullRequestComment(
        outcome="failed",
        pull_request=target.number,
        status_code=error.status,
        error=f"{error.kind}: {what}"[:400],
    )
    done = {"post": "posted", "create": "created", "update": "updated"}.get(verb, verb)
    line = f"pull request comment: not {done} on #{target.number} ({error.kind})"
    return CommentOutcome(record, Message(level=level, text=text, title=TITLE), line)


def _advice(target: PullRequest, error: GitHubError, *, verb: str) -> tuple[str, str]:
    """(notice or warning, what to do) for each way GitHub can say no."""
    kind = error.kind
    if kind == "forbidden":
        if target.from_fork:
            return "notice", FORK
        return "warning", f"{GRANT} (if the pull request comes from a fork: {FORK})"
    if kind == "unauthorized":
        return "warning", "GitHub did not accept the github-token; pass `${{ github.token }}`"
    if kind == "not-found":
        return "warning", (
            f"the token cannot see pull request #{target.number} of {target.repository}; {GRANT}"
        )
    if kind == "rate-limited":
        asked = f"{error.wait:.0f} s" if error.wait is not None else "longer"
        return "notice", (
            f"GitHub's rate limit asked to wait {asked}, more than the {RATE_LIMIT_WAIT_SECONDS:g} s "
            f"ci-trainer waits for a comment; re-run the job later to {verb} it"
        )
    if kind == "too-many":
        return (
            "notice",
            "ci-trainer does not add a second comment it might not need; the summary has the report",
        )
    if kind == "cancelled":
        return "notice", "the job was cancelled before the comment was sent"
    if kind == "config":
        return "warning", "set GITHUB_API_URL to the https API URL of your GitHub server"
    if kind == "refused":
        return "warning", f"GitHub refused to {verb} it; the step summary has the full report"
    return "warning", f"GitHub or the network failed; re-run the job to {verb} it"
