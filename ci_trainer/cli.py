"""`ci-trainer` command line. Parsers live here, and the glue of `run`/`validate`; every
other handler lives in its own module.

Handlers are imported when their command runs, so `ci-trainer run` never pays for the
emulator's scikit-learn import and starts in well under a second.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ci_trainer import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from ci_trainer.errors import ConfigIssue
    from ci_trainer.progress import Reporter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ci-trainer",
        description="Gate NLU model training in CI: validate, train, evaluate, promote, audit.",
    )
    parser.add_argument("--version", action="version", version=f"ci-trainer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the pipeline (validate, train, evaluate, promote)")
    _add_run_arguments(run)
    run.add_argument(
        "--mode",
        choices=["validate", "train", "promote"],
        default="train",
        help="validate: config and datasets only; train: everything but promotion "
        "(default); promote: promote when the gate passes",
    )

    validate = commands.add_parser("validate", help="check the config and datasets only")
    _add_run_arguments(validate)
    validate.set_defaults(mode="validate")

    emulator = commands.add_parser("emulator", help="serve the training service emulator")
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    emulator.add_argument(
        "--port",
        type=int,
        default=8080,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    emulator.add_argument(
        "--config",
        default="training-config.yaml",
        help="training config whose datasets the emulator serves (default: %(default)s)",
    )
    emulator.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="stretch (>1) or shrink (<1) the apparent training time (default: %(default)s)",
    )
    emulator.add_argument("--fault-plan", default=None, help="YAML file scripting failures")
    emulator.add_argument(
        "--token-expires-in",
        type=float,
        default=3600.0,
        help="lifetime of issued tokens in seconds (default: %(default)s)",
    )
    emulator.add_argument(
        "--training-seconds",
        type=float,
        default=None,
        help="nominal length of every training (default: its real compute time); "
        "the job is RUNNING for time-scale x this",
    )
    emulator.add_argument(
        "--rate-limit",
        default=None,
        metavar="RATE/BURST",
        help="token-bucket limit per client, e.g. 5/10 (default: off)",
    )
    emulator.add_argument(
        "--workers", type=int, default=2, help="trainings computed at once (default 2)"
    )
    emulator.add_argument(
        "--tls-dir",
        default=None,
        metavar="DIR",
        help="serve https: write a fresh test CA and certificate to DIR "
        "(clients trust DIR/ca.pem, e.g. REQUESTS_CA_BUNDLE=DIR/ca.pem)",
    )
    emulator.add_argument(
        "--tls-name",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name or IP address for the certificate (repeatable; "
        "--host, localhost, 127.0.0.1 and ::1 are always in it)",
    )

    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_commands.add_parser(
        "verify", help="check the hash chain and schema of an audit log"
    )
    verify.add_argument("path", metavar="PATH", help="the audit log file (JSON Lines) to check")

    explain = commands.add_parser(
        "explain",
        help="re-render what changed (flips, confusions, per-intent F1; with --base the "
        "data diff too) from a run's predictions file, as Markdown",
    )
    explain.add_argument(
        "predictions",
        metavar="PREDICTIONS",
        help="the run's predictions file (<audit log stem>.predictions.jsonl, the "
        "`predictions` output)",
    )
    explain.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="also show the data diff against the merge base of HEAD and REF, as the run "
        "does, next to each intent's holdout recall from the file (needs the history, "
        "e.g. git fetch origin main; default: no data diff)",
    )
    explain.add_argument(
        "--config",
        default=None,
        metavar="PATH",
        help="with --base: the training config whose datasets and holdout are compared "
        "(default: training-config.yaml)",
    )

    schema = commands.add_parser(
        "schema", help="print the JSON Schema of the training config or of an audit record"
    )
    schema.add_argument(
        "which",
        nargs="?",
        choices=["config", "audit"],
        default="config",
        help="config: training-config.yaml (for editors); audit: one audit log record "
        "(default: %(default)s)",
    )
    return parser


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    # The defaults are spelled out rather than imported (github, config.model): parsing
    # must stay cheap. tests/run/test_help.py holds them equal to the constants.
    parser.add_argument(
        "--config",
        default="training-config.yaml",
        metavar="PATH",
        help="path of the training config, from the current directory (default: %(default)s)",
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="start the embedded emulator on a free loopback port and run against it",
    )
    parser.add_argument(
        "--emulator-state",
        default=None,
        metavar="DIR",
        help="with --emulator: where the emulator keeps its production model between "
        "runs (default: .ci-trainer-emulator/ next to the config)",
    )
    parser.add_argument(
        "--emulator-reset",
        action="store_true",
        help="with --emulator: forget the kept state first (a baseline from the merge "
        "base is production again)",
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        metavar="DIR",
        help="folder for outputs.json and summary.md when not on GitHub Actions "
        "(default: ci-trainer-output)",
    )
    parser.add_argument(
        "--audit-log",
        default=None,
        metavar="PATH",
        help="audit log file to append to (default: the config's audit.path, else "
        "cognigy_training_audit.log next to the config)",
    )
    parser.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="compare the committed datasets and holdout with those at the merge base of "
        "HEAD and REF (a branch, tag or commit; needs its history: fetch-depth: 0 on "
        "actions/checkout); on a pull request GITHUB_BASE_REF is the default",
    )
    parser.add_argument(
        "--junit",
        default=None,
        metavar="PATH",
        help="also write the run as a JUnit XML report to PATH, for a CI's test tab "
        "(default: none)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("run", "validate"):
        _prefetch_token(args)
        return run_cli(args)
    if args.command == "emulator":
        from ci_trainer.serve import serve_cli

        return serve_cli(args)
    if args.command == "audit":
        from ci_trainer.audit import verify_cli

        return verify_cli(args.path)
    if args.command == "explain":
        from ci_trainer.explain import explain_cli

        return explain_cli(args.predictions, base=args.base, config=args.config)
    if args.command == "schema":
        from ci_trainer.schemas import print_schema

        return print_schema(args.which)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _prefetch_token(args: argparse.Namespace) -> None:
    """Send a training run's token request before the pipeline's imports (~0.2 s).

    Only for runs that will train against the environment's service: `--emulator`
    starts its server (and credentials) later, and validation sends no request.
    """
    if args.command != "run" or args.emulator or args.mode == "validate":
        return
    from ci_trainer import startup

    startup.start_from_env(os.environ, args.config)


def _emulator_flag_issues(args: argparse.Namespace, where: str) -> list[ConfigIssue]:
    """The emulator's state flags mean nothing without `--emulator`: say so, not ignore."""
    from ci_trainer.errors import ConfigIssue

    given = [
        name
        for name, value in (
            ("--emulator-state", args.emulator_state),
            ("--emulator-reset", args.emulator_reset),
        )
        if value
    ]
    if args.emulator or not given:
        return []
    return [
        ConfigIssue(
            file=where,
            line=None,
            column=None,
            field=name,
            message=f"{name} is about the embedded emulator, and this run does not start one",
            hint="add --emulator, or leave the option out",
        )
        for name in given
    ]


def run_cli(args: argparse.Namespace) -> int:
    """`ci-trainer run` / `ci-trainer validate`: returns the exit code of the decision."""
    # Imported here: the lifecycle pulls in the HTTP client and the pipeline, which the
    # other commands never need.
    from ci_trainer.errors import ConfigError
    from ci_trainer.github import destinations, publish
    from ci_trainer.redact import one_line
    from ci_trainer.run import execute
    from ci_trainer.settings import COMMAND_LINE, Settings, checked_paths
    from ci_trainer.signals import install_signal_handlers

    env: Mapping[str, str] = os.environ
    paths = checked_paths(
        env, audit_log=args.audit_log, output_dir=args.output_dir, junit=args.junit
    )
    issues = [*paths.issues, *_emulator_flag_issues(args, COMMAND_LINE)]
    refused = ConfigError(issues, source=COMMAND_LINE) if issues else None
    settings = Settings.from_env(
        env,
        config_path=args.config,
        mode=args.mode,
        emulator=args.emulator,
        emulator_state=args.emulator_state,
        emulator_reset=args.emulator_reset,
        output_dir=paths.output_dir,
        audit_log=paths.audit_log,
        base=args.base,
    )
    reporter = _reporter(env)
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        result = execute(settings, reporter, stop=stop, refused=refused)
    finally:
        restore()
    # A refused --output-dir gets nothing, nor does a folder beside it; the runner's
    # files on Actions are written all the same.
    written: list[Path] = []
    if args.output_dir is None or paths.output_dir is not None or env.get("GITHUB_OUTPUT"):
        written = publish(
            result,
            env=env,
            output_dir=settings.output_dir,
            warn=_warner(env, reporter),
            junit=paths.junit,
        )
    _close(reporter)
    for line in destinations(result, written, env, junit=paths.junit):
        print(one_line(line))
    # One line whatever the reason holds (it may quote the service), never a command.
    print(one_line(f"ci-trainer: {result.decision.value} - {result.reason}"), flush=True)
    return result.exit_code


def _reporter(env: Mapping[str, str]) -> Reporter:
    if env.get("GITHUB_ACTIONS") == "true":
        from ci_trainer.github import GithubReporter

        return GithubReporter()
    from ci_trainer.progress import ConsoleReporter

    return ConsoleReporter()


def _warner(env: Mapping[str, str], reporter: Reporter) -> Callable[[str], None] | None:
    """How `publish` warns: an annotation on Actions (its default), a plain warning line
    elsewhere, where workflow commands mean nothing."""
    if env.get("GITHUB_ACTIONS") == "true":
        return None
    from ci_trainer.result import Message

    return lambda text: reporter.message(Message(level="warning", text=text, title="Outputs"))


def _close(reporter: Reporter) -> None:
    # GithubReporter summarises the annotations beyond GitHub's limit when closed.
    close = getattr(reporter, "close", None)
    if callable(close):
        close()


if __name__ == "__main__":
    sys.exit(main())
