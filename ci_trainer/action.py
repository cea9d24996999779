"""The container action: the step's inputs -> Settings -> run.execute -> outputs and summary.

The inputs are read and mapped onto the environment names of DESIGN.md by
`ci_trainer.settings` (tenant -> COGNIGY_TENANT, ...), so the action and the CLI resolve
settings along one path, once. A mistake in the inputs does not end the action early:
it is handed to the same lifecycle as every other failure, so it is reported like a
config mistake (decision `invalid`, exit 2, an annotation naming the input and the fix),
and it gets the audit record and the webhook event every run gets.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path

from ci_trainer.decision import Decision
from ci_trainer.errors import ConfigError
from ci_trainer.github import (
    Commands,
    GithubReporter,
    destinations,
    give_to_workspace_owner,
    publish,
    workspace_relative,
)
from ci_trainer.redact import Redactor, neutralise_commands
from ci_trainer.result import PullRequestComment, RunResult
from ci_trainer.settings import (
    INPUTS,
    INPUTS_WHERE,
    ActionInputs,
    Settings,
    checked_paths,
    default_inputs,
    input_error,
    parse_inputs,
    run_environment,
    secret_values,
)
from ci_trainer.workspace import outside_roots


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the action; returns the process exit code (DESIGN.md's table)."""
    env = dict(os.environ if env is None else env)
    commands = Commands(sys.stdout)
    for value in secret_values(env):  # first: nothing may print before the masks are in place
        commands.add_mask(value)
    reporter = GithubReporter(commands, workspace=env.get("GITHUB_WORKSPACE"))
    inputs, refused = read_inputs(env)
    settings = Settings.from_env(
        run_environment(env),
        config_path=inputs.config,
        mode=inputs.mode,
        audit_log=inputs.audit_log,
    )
    try:
        result = _execute(settings, reporter, refused)
    except Exception as error:  # a bug in the lifecycle itself: hand it back once, as
        # a run refused before it started, so it is still published and audited
        # The traceback carries our bug's message, and any text the message quotes: no line
        # of it may act as a runner command, and no secret in it may print.
        shown = Redactor(secret_values(env))(traceback.format_exc())
        sys.stderr.write(neutralise_commands(shown) + "\n")
        commands.error(f"ci-trainer crashed ({type(error).__name__}: {error}); please report it")
        result = _execute(settings, reporter, error)
    announce_decision(result, commands)
    if result.audit_log:
        give_to_workspace_owner([Path(result.audit_log)], env)
        relative = workspace_relative(result.audit_log, env)
        result = result.model_copy(update={"audit_log": relative})
    result = _exports_for_the_host(result, env)
    result = _predictions_for_the_host(result, env)
    junit = Path(inputs.junit) if inputs.junit else None
    written = publish(result, env=env, output_dir=None, commands=commands, junit=junit)
    for line in destinations(result, written, env, junit=junit):
        commands.echo(line)
    if inputs.comment:
        result = pull_request_comment(result, inputs, env, commands)
    return exit_code(result, fail_on_reject=inputs.fail_on_reject)


def pull_request_comment(
    result: RunResult, inputs: ActionInputs, env: Mapping[str, str], commands: Commands
) -> RunResult:
    """The sticky comment, sent last: whatever becomes of it, what the run wrote and its
    exit code stay as they are. A cancel ends it (the handlers only set `stop`)."""
    from ci_trainer.pr_comment import sync_comment
    from ci_trainer.signals import install_signal_handlers

    redact = Redactor(secret_values(env))
    config = workspace_relative(result.config_path or inputs.config, env)
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        outcome = sync_comment(result, token=inputs.github_token, env=env, config=config, stop=stop)
    except Exception as error:  # our bug: reported, and still no change to the decision
        shown = redact(traceback.format_exc())
        sys.stderr.write(neutralise_commands(shown) + "\n")
        commands.warning(
            f"ci-trainer's pull request comment crashed ({type(error).__name__}); please "
            "report it. The run's decision and exit code are unchanged.",
            title="ci-trainer: pull request comment",
        )
        commands.flush()
        failed = PullRequestComment(
            outcome="failed", error=f"internal error ({type(error).__name__})"
        )
        return result.model_copy(update={"pr_comment": failed})
    finally:
        restore()
    if outcome.message is not None:
        message = outcome.message
        commands.annotate(message.level, redact(message.text), title=message.title)
        commands.flush()  # the annotations' last slot is not held back past the run's end
    commands.echo(redact(outcome.line))
    return result.model_copy(update={"pr_comment": outcome.record})


def _exports_for_the_host(result: RunResult, env: Mapping[str, str]) -> RunResult:
    """The intents exports given to the workspace's owner, their paths relative to the
    workspace (what a later step's upload-artifact resolves), as the audit log's."""
    paths = [Path(e.path) for e in result.service_exports if e.path]
    if not paths:
        return result
    give_to_workspace_owner(paths, env)
    exports = [
        e.model_copy(update={"path": workspace_relative(e.path, env)}) if e.path else e
        for e in result.service_exports
    ]
    return result.model_copy(update={"service_exports": exports})


def _predictions_for_the_host(result: RunResult, env: Mapping[str, str]) -> RunResult:
    """The predictions file handed over like the audit log, its path made relative."""
    written = result.predictions_file
    if written is None:
        return result
    give_to_workspace_owner([Path(written.path)], env)
    relative = written.model_copy(update={"path": workspace_relative(written.path, env)})
    return result.model_copy(update={"predictions_file": relative})


def read_inputs(env: Mapping[str, str]) -> tuple[ActionInputs, ConfigError | None]:
    """The inputs, and every mistake in them (the run then uses the defaults, and no
    refused path), after changing to the working directory (the paths of the other
    inputs are relative to it); never raises."""
    try:
        inputs, refused = parse_inputs(env), None
    except ConfigError as error:
        inputs, refused = default_inputs(env), error
    issues = list(refused.issues) if refused else []
    try:
        enter_working_directory(inputs.working_directory, env)
    except ConfigError as error:
        issues += error.issues
    paths = checked_paths(
        env,
        audit_log=inputs.audit_log,
        where=INPUTS_WHERE,
        fields=("audit-log", ""),
        junit=inputs.junit,
        junit_field="junit",
    )
    issues += paths.issues
    audit_log = str(paths.audit_log) if paths.audit_log else None
    junit = str(paths.junit) if paths.junit else None
    inputs = dataclasses.replace(inputs, audit_log=audit_log, junit=junit)
    return inputs, ConfigError(issues, source=INPUTS) if issues else None


def enter_working_directory(path: str, env: Mapping[str, str]) -> None:
    """Change to the working-directory input, which must lie in the workspace."""
    hint = "give a folder of the checked-out repository, relative to the workspace"
    workspace = Path(env.get("GITHUB_WORKSPACE", "").strip() or Path.cwd())
    outside = outside_roots(Path(path), [workspace.resolve()])
    if outside is not None:
        error = input_error("working-directory", outside, hint)
        raise error
    try:
        os.chdir(path)
    except OSError as problem:
        error = input_error(
            "working-directory", f"cannot change to {path!r}: {problem.strerror or problem}", hint
        )
        raise error from None


def exit_code(result: RunResult, *, fail_on_reject: bool) -> int:
    if result.decision is Decision.REJECTED and not fail_on_reject:
        return 0
    return result.exit_code


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


def _execute(
    settings: Settings, reporter: GithubReporter, refused: BaseException | None
) -> RunResult:
    # Imported here: the lifecycle pulls in the HTTP client and the pipeline, which
    # reading the inputs never needs.
    from ci_trainer.run import execute
    from ci_trainer.signals import install_signal_handlers

    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        return execute(settings, reporter, stop=stop, refused=refused)
    finally:
        restore()
