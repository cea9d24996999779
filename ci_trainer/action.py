"""The container action: runner inputs -> Settings -> runner.execute -> outputs and summary.

Inputs arrive as `INPUT_<NAME>` with the name upper-cased and hyphens kept
(`client-secret` -> `INPUT_CLIENT-SECRET`); some tools export them with underscores, so
`INPUT_CLIENT_SECRET` is read as a fallback. Inputs are mapped onto the environment
names of DESIGN.md (tenant -> COGNIGY_TENANT, ...), so the action and the CLI resolve
settings along one path. A mistake in the inputs is reported like a config mistake:
decision `invalid`, exit 2, an annotation naming the input and the fix.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ci_trainer import __version__
from ci_trainer.errors import CiTrainerError, ConfigError, ConfigIssue
from ci_trainer.github import (
    Commands,
    GithubReporter,
    give_to_workspace_owner,
    publish,
    workspace_relative,
)
from ci_trainer.redact import Redactor
from ci_trainer.result import Decision, ErrorInfo, Message, Mode, RunResult
from ci_trainer.settings import Settings, provenance_from_env

# Every input of action.yml (tests check the two agree), with its default.
INPUT_DEFAULTS: dict[str, str] = {
    "config": "training-config.yaml",
    "mode": "train",
    "tenant": "",
    "base-url": "",
    "client-id": "",
    "client-secret": "",
    "api-key": "",
    "model-id": "",
    "webhook-url": "",
    "webhook-secret": "",
    "audit-log": "",
    "fail-on-reject": "true",
    "working-directory": ".",
}
# Inputs that become the environment names every other part of ci-trainer reads.
INPUT_TO_ENV: dict[str, str] = {
    "tenant": "COGNIGY_TENANT",
    "base-url": "COGNIGY_BASE_URL",
    "client-id": "COGNIGY_CLIENT_ID",
    "client-secret": "COGNIGY_CLIENT_SECRET",
    "api-key": "COGNIGY_API_KEY",
    "model-id": "COGNIGY_MODEL_ID",
    "webhook-url": "WEBHOOK_URL",
    "webhook-secret": "WEBHOOK_SECRET",
}
SECRET_INPUTS = ("client-secret", "api-key", "webhook-secret")
SECRET_ENV = ("COGNIGY_CLIENT_SECRET", "COGNIGY_API_KEY", "WEBHOOK_SECRET")
INPUTS_WHERE = "the action's inputs (the step's `with:`)"


def input_keys(name: str) -> tuple[str, str]:
    """The runner's name for an input (hyphens kept), then the underscore fallback."""
    return f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"


def read_input(env: Mapping[str, str], name: str) -> str:
    """The input's value as the runner passes it, stripped; the default when unset."""
    for key in input_keys(name):
        value = env.get(key)
        if value is not None and value.strip():
            return value.strip()
    return INPUT_DEFAULTS[name]


def parse_bool(name: str, value: str) -> bool:
    """Only `true` or `false` (any case): a typo must not silently flip a gate."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise _input_error(name, f"must be true or false, got {value!r}", "write true or false")


def parse_mode(value: str) -> Mode:
    try:
        return Mode(value.strip().lower())
    except ValueError:
        choices = ", ".join(mode.value for mode in Mode)
        error = _input_error(
            "mode", f"must be one of {choices}, got {value!r}", f"use one of {choices}"
        )
        raise error from None


def _input_error(name: str, message: str, hint: str) -> ConfigError:
    return ConfigError(
        [
            ConfigIssue(
                file=INPUTS_WHERE, line=None, column=None, field=name, message=message, hint=hint
            )
        ]
    )


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The secret inputs' values, and those of the env names they map to."""
    keys = [key for name in SECRET_INPUTS for key in input_keys(name)] + list(SECRET_ENV)
    return [value for key in keys if (value := env.get(key, "").strip())]


def mask_secrets(env: Mapping[str, str], commands: Commands) -> None:
    """Mask the secret inputs (and the env they map to) before anything else is printed."""
    for value in secret_values(env):
        commands.add_mask(value)


@dataclass(frozen=True)
class ActionInputs:
    config: str
    mode: Mode
    audit_log: str | None
    fail_on_reject: bool
    working_directory: str


def parse_inputs(env: Mapping[str, str]) -> ActionInputs:
    """All inputs checked at once, so one run reports every mistake."""
    issues: list[ConfigIssue] = []
    mode = Mode.TRAIN
    fail_on_reject = True
    try:
        mode = parse_mode(read_input(env, "mode"))
    except ConfigError as error:
        issues += error.issues
    try:
        fail_on_reject = parse_bool("fail-on-reject", read_input(env, "fail-on-reject"))
    except ConfigError as error:
        issues += error.issues
    if issues:
        raise ConfigError(issues)
    return ActionInputs(
        config=read_input(env, "config"),
        mode=mode,
        audit_log=read_input(env, "audit-log") or None,
        fail_on_reject=fail_on_reject,
        working_directory=read_input(env, "working-directory"),
    )


def run_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the run sees: inputs that were given override the same env names."""
    merged = dict(env)
    for name, key in INPUT_TO_ENV.items():
        value = read_input(env, name)
        if value:
            merged[key] = value
    return merged


def enter_working_directory(path: str) -> None:
    try:
        os.chdir(path)
    except OSError as problem:
        error = _input_error(
            "working-directory",
            f"cannot change to {path!r}: {problem.strerror or problem}",
            "give a folder of the checked-out repository, relative to the workspace",
        )
        raise error from None


def exit_code(result: RunResult, *, fail_on_reject: bool) -> int:
    if result.decision is Decision.REJECTED and not fail_on_reject:
        return 0
    return result.exit_code


def early_result(
    env: Mapping[str, str],
    mode: Mode,
    error: BaseException,
    started: datetime,
    *,
    decision: Decision,
) -> RunResult:
    """A RunResult for a run that ended before the pipeline could start (or crashed)."""
    finished = datetime.now(timezone.utc)
    scrub = Redactor(secret_values(env))
    messages = []
    if isinstance(error, ConfigError):
        for issue in error.issues:
            text = f"{issue.message} ({issue.hint})" if issue.hint else issue.message
            messages.append(
                Message(level="error", title=f"input {issue.field}", text=scrub(text), file=None)
            )
    else:
        messages.append(Message(level="error", title=type(error).__name__, text=scrub(str(error))))
    first = f"{messages[0].title}: {messages[0].text}"
    reason = first if len(messages) == 1 else f"{len(messages)} problems, first {first}"
    return RunResult(
        run_uuid=str(uuid.uuid4()),
        tool_version=__version__,
        backend="none",
        mode=mode,
        decision=decision,
        reason=reason,
        reasons=[f"{m.title}: {m.text}" for m in messages],
        started_at=started,
        finished_at=finished,
        duration_seconds=(finished - started).total_seconds(),
        provenance=provenance_from_env(env),
        error=ErrorInfo(type=type(error).__name__, message=scrub(str(error))),
        messages=messages,
    )


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the action; returns the process exit code (DESIGN.md's table)."""
    env = dict(os.environ if env is None else env)
    commands = Commands(sys.stdout)
    mask_secrets(env, commands)  # first: nothing may print before the masks are in place
    reporter = GithubReporter(commands, workspace=env.get("GITHUB_WORKSPACE"))
    started = datetime.now(timezone.utc)
    mode = Mode.TRAIN
    fail_on_reject = True
    # Before any chdir: where an early end's audit record goes, from the raw inputs.
    early = early_settings(env)
    try:
        inputs = parse_inputs(env)
        mode, fail_on_reject = inputs.mode, inputs.fail_on_reject
        enter_working_directory(inputs.working_directory)
        result = _execute(inputs, run_environment(env), reporter)
    except CiTrainerError as error:
        issues = error.issues if isinstance(error, ConfigError) else []
        for issue in issues:
            commands.error(str(issue), title=f"input {issue.field}")
        if not issues:
            commands.error(str(error))
        result = _audited(
            early_result(env, mode, error, started, decision=Decision(error.decision)),
            early,
            reporter,
        )
    except Exception as error:  # our bug: keep the traceback, still publish a record
        traceback.print_exc()
        commands.error(f"ci-trainer crashed ({type(error).__name__}: {error}); please report it")
        result = _audited(
            early_result(env, mode, error, started, decision=Decision.FAILED), early, reporter
        )
    announce_decision(result, commands)
    if result.audit_log:
        give_to_workspace_owner([Path(result.audit_log)], env)
        result.audit_log = workspace_relative(result.audit_log, env)
    publish(result, env=env, output_dir=None, commands=commands)
    return exit_code(result, fail_on_reject=fail_on_reject)


def early_settings(env: Mapping[str, str]) -> Settings:
    """Settings for a run that may end before its inputs are checked: the raw config,
    audit-log and working-directory inputs, as absolute paths (never raises)."""
    root = Path.cwd() / read_input(env, "working-directory")
    if not root.is_dir():  # a mistyped working-directory: do not create it for the record
        root = Path.cwd()
    audit_log = read_input(env, "audit-log")
    return Settings.from_env(
        run_environment(env),
        config_path=root / read_input(env, "config"),
        audit_log=root / audit_log if audit_log else None,
    )


def _audited(result: RunResult, early: Settings, reporter: GithubReporter) -> RunResult:
    """The audit record of a run that ended before the runner took over."""
    from ci_trainer.runner import append_early_audit

    redactor = Redactor(secret_values(early.env))
    return append_early_audit(result, early, redactor, reporter)


def announce_decision(result: RunResult, commands: Commands) -> None:
    """One annotation with the decision, so it shows on the pull request's checks.

    Runs that already reported an error (invalid config, a failing service) or the
    skip notice need no second one.
    """
    title = f"ci-trainer: {result.decision.value}"
    if result.decision in (Decision.APPROVED, Decision.PROMOTED, Decision.VALIDATED):
        commands.notice(result.reason, title=title)
        return
    already_said = any(message.level == "error" for message in result.messages)
    if result.decision is Decision.REJECTED or (
        result.decision is Decision.FAILED and not already_said
    ):
        commands.error(result.reason, title=title)


def _execute(inputs: ActionInputs, env: Mapping[str, str], reporter: GithubReporter) -> RunResult:
    # Imported here: the runner pulls in the HTTP client and the pipeline, which a bad
    # input never needs.
    from ci_trainer.runner import execute, install_signal_handlers

    settings = Settings.from_env(
        env,
        config_path=inputs.config,
        mode=inputs.mode,
        audit_log=inputs.audit_log,
    )
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        return execute(settings, reporter, stop=stop)
    finally:
        restore()
