"""`ci-trainer run`: settings -> config -> backend -> pipeline -> webhook -> audit.

`execute` is the one place that turns everything a run can run into - a finished gate, a
user's mistake, a service failure, a cancelled job, our own bug - into a RunResult with a
decision, and then, on every one of those paths, syncs the webhook and appends the audit
record. It never raises for anything a user or the service can cause.

Paths, decided once:
- dataset, holdout and the config's `audit.path` are relative to the config file's
  directory (and confined to the workspace), like every path inside the config;
- `--audit-log` / the action's `audit-log` input is relative to the current directory,
  like every path on a command line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ci_trainer import __version__
from ci_trainer.backends import DEFAULT_BACKEND, BackendRequest, plugin
from ci_trainer.backends.base import Backend
from ci_trainer.config import LoadedConfig, load_config
from ci_trainer.config.model import AuditSection, WebhookSection
from ci_trainer.errors import (
    ApiError,
    CiTrainerError,
    ConfigError,
    DatasetError,
    Interrupted,
)
from ci_trainer.http.trust import check_ca_bundle
from ci_trainer.pipeline import Pipeline
from ci_trainer.progress import ConsoleReporter, Reporter
from ci_trainer.redact import Redactor, map_strings
from ci_trainer.result import (
    Decision,
    ErrorInfo,
    Message,
    Mode,
    RunResult,
    SupportInfo,
)
from ci_trainer.settings import Settings

if TYPE_CHECKING:
    from ci_trainer.http.policy import RetryPolicy

log = logging.getLogger("ci_trainer")
# After SIGINT the runner sends SIGTERM 7.5 s later and kills 2.5 s after that; we aim
# to be gone within 5 s: the pipeline's own wind-down, then at most these.
STOP_GRACE_SECONDS = 1.5
CANCEL_DEADLINE_SECONDS = 1.0
STOPPING_WEBHOOK_TIMEOUT = 1.0

NO_CREDENTIALS_NOTICE = (
    "{missing} not set, so this run only validated the config and datasets and did not "
    "train. Pull requests from forks get no secrets on GitHub Actions; training runs on "
    "pull requests from branches of this repository and on pushes."
)


# ---------------------------------------------------------------------------- execute


def execute(
    settings: Settings,
    reporter: Reporter,
    *,
    stop: threading.Event | None = None,
    retry_policy: RetryPolicy | None = None,
) -> RunResult:
    """Run the pipeline the settings describe; always returns a RunResult, audited.

    `stop` is set by the signal handlers (see `install_signal_handlers`); `retry_policy`
    overrides the HTTP client's timeouts and back-off (tests, unusual networks).
    """
    run = _Run(settings, reporter, stop or threading.Event(), retry_policy)
    run.run_pipeline_within_stop_budget()
    run.finish()
    try:
        run.sync_webhook()
    except Exception:  # deliver() never raises; a bug around it must not cost the audit
        log.exception("webhook sync failed")
    run.append_audit()
    return run.result


def audit_destination(settings: Settings, loaded: LoadedConfig | None) -> tuple[Path, str | None]:
    """Where a run's audit record goes: --audit-log / the audit-log input, else the
    config's audit.path, else the default next to the config; and a warning when the
    config's path cannot be used."""
    default = settings.config_path.parent / AuditSection().path
    if settings.audit_log is not None:
        return settings.audit_log, None
    if loaded is None:
        return default, None
    try:
        return loaded.resolve(loaded.config.audit.path), None
    except ConfigError as exc:
        warning = (
            f"audit.path cannot be used ({exc.issues[0].message}); "
            f"writing the default {AuditSection().path} next to the config"
        )
        return default, warning


def append_early_audit(
    result: RunResult, settings: Settings, redactor: Redactor, reporter: Reporter
) -> RunResult:
    """Audit a run that ended before `execute` could start (the action's inputs were
    wrong, or it crashed): the record goes where the run's own record would have gone,
    so the trail has no gap. Never raises."""
    from ci_trainer.audit import write_audit

    try:
        loaded: LoadedConfig | None = load_config(settings.config_path)
    except Exception:  # any config problem: the record still goes to the default place
        loaded = None
    path, _ = audit_destination(settings, loaded)
    section = loaded.config.audit if loaded else AuditSection()
    outcome = write_audit(
        result,
        path,
        governance_tags=list(section.governance_tags),
        fallback_dir=settings.output_dir,
        redactor=redactor,
    )
    if outcome.path is None:  # no file could take it: the log keeps it
        reporter.info("audit record (could not be written to any file):")
        reporter.info(outcome.line)
    return outcome.apply(result)


class _Run:
    """The state of one `execute` call, so each step is a short method."""

    def __init__(
        self,
        settings: Settings,
        reporter: Reporter,
        stop: threading.Event,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.reporter = reporter
        self.stop = stop
        self.retry_policy = retry_policy
        self.started = time.monotonic()
        # Secrets are registered before anything else can print: the Redactor's hook is
        # the reporter's mask (`::add-mask::` on Actions), and tokens join as issued.
        self.redactor = Redactor(on_new=reporter.secret)
        self.redactor.add(settings.client_secret)
        self.redactor.add(settings.api_key)
        self._register_webhook_secret(WebhookSection())
        self.loaded: LoadedConfig | None = None
        self.pipeline: Pipeline | None = None
        self.result = RunResult(
            run_uuid=str(uuid.uuid4()),
            tool_version=__version__,
            backend=DEFAULT_BACKEND,
            mode=settings.mode,
            decision=Decision.FAILED,
            reason="the run ended before a decision was reached",
            started_at=datetime.now(timezone.utc),
            finished_at=datetime.now(timezone.utc),
            duration_seconds=0.0,
            config_path=str(settings.config_path),
            model_id=settings.model_id,
            provenance=settings.provenance,
        )

    # --- the pipeline, with every way it can end mapped to a decision ---------------

    def run_pipeline_within_stop_budget(self) -> None:
        """Run the pipeline in a worker thread, so a stop is honoured in bounded time.

        Normally the pipeline notices `stop` itself (the poll wait and retry sleeps wake at
        once), cancels the job and returns. A request already in flight cannot be woken,
        though, and may hang until its read timeout; then, after a grace period, this
        thread gives up on the worker, cancels the job itself and lets the run end, so
        the webhook and audit record still go out before the runner's kill.
        """
        done = threading.Event()

        def work() -> None:
            try:
                self.run_pipeline()
            finally:
                done.set()

        threading.Thread(target=work, name="ci-trainer-pipeline", daemon=True).start()
        self._wait_for(done)
        if not done.is_set() and not done.wait(STOP_GRACE_SECONDS):
            self._abandon_pipeline()

    def _wait_for(self, done: threading.Event) -> None:
        """Until the pipeline is done or the run is asked to stop."""
        while not done.is_set() and not self.stop.is_set():
            try:
                done.wait(0.1)  # short waits keep the main thread's signal handlers live
            except KeyboardInterrupt:  # no handlers installed (library use): same as SIGINT
                self.stop.set()

    def _abandon_pipeline(self) -> None:
        pipeline = self.pipeline
        cancelled = False
        if pipeline is not None:
            cancelled = bool(_call_with_deadline(pipeline.cancel_live_job, CANCEL_DEADLINE_SECONDS))
        # From here on the worker writes into a result nobody reads any more.
        self.result = self.result.model_copy(deep=True)
        last = self.result.attempts[-1] if self.result.attempts else None
        if cancelled and last is not None:
            last.status = self.result.status = "CANCELLED"
            last.finished_at = datetime.now(timezone.utc)
        where = (
            f"; training {last.training_id} "
            + ("was cancelled on the service" if cancelled else "may still be running")
            if last is not None
            else ""
        )
        self._failed(
            Interrupted("the pipeline did not stop in time"),
            "the run was cancelled (SIGINT/SIGTERM) while a request to the service was "
            f"still open after {STOP_GRACE_SECONDS:g} s{where}",
        )

    def run_pipeline(self) -> None:
        backend: Backend | None = None
        try:
            self.loaded = self._load_config()
            backend = self._backend()
            self.pipeline = Pipeline(
                self.loaded,
                self.result,
                backend=backend,
                reporter=self.reporter,
                stop=self.stop,
                provenance=self.settings.provenance,
                on_training_started=_warm_up_late_imports,
            )
            self.pipeline.run()
            self._skip_without_credentials()
        except ConfigError as exc:
            self._invalid_config(exc)
        except DatasetError as exc:
            self._invalid_dataset(exc)
        except Interrupted as exc:
            self._failed(exc, self._interrupted_reason())
        except ApiError as exc:
            self._api_failed(exc)
        except CiTrainerError as exc:
            self._failed(exc, str(exc), decision=Decision(exc.decision))
        except Exception as exc:
            self._bug(exc)
        finally:
            if backend is not None:
                _close_quietly(backend)

    def _load_config(self) -> LoadedConfig:
        with self.reporter.stage("Load config"):
            loaded = load_config(self.settings.config_path)
        self._register_webhook_secret(loaded.config.webhook)
        self.result.config_path = str(loaded.path)
        self.result.config_sha256 = loaded.sha256
        self.result.model_id = self.settings.model_id or loaded.config.model.id
        self.result.backend = loaded.config.backend
        self.result.thresholds = _thresholds(loaded)
        self.reporter.info(f"config {loaded.path} (sha256 {loaded.sha256[:12]})")
        return loaded

    def _backend(self) -> Backend | None:
        """The training service the config names; None when the run validates locally."""
        assert self.loaded is not None
        backend = plugin(self.loaded.config.backend)
        if backend.missing_credentials(self.settings):
            return None
        check_ca_bundle(self.settings.env)
        return backend.build(
            BackendRequest(
                settings=self.settings,
                loaded=self.loaded,
                model_id=self.result.model_id or self.loaded.config.model.id,
                redactor=self.redactor,
                wait=self.stop.wait,
                retry_policy=self.retry_policy,
            )
        )

    def _skip_without_credentials(self) -> None:
        backend = plugin(self.loaded.config.backend if self.loaded else DEFAULT_BACKEND)
        missing = backend.missing_credentials(self.settings)
        if not missing or self.settings.mode is Mode.VALIDATE:
            return
        if self.result.decision is not Decision.VALIDATED:
            return  # a dataset check failed: that verdict stands without credentials too
        text = NO_CREDENTIALS_NOTICE.format(missing=", ".join(missing) + _are(missing))
        self.result.decision = Decision.SKIPPED
        self.result.reason = "no credentials: validated the config and datasets only"
        self._message(Message(level="notice", text=text, title="Training skipped"))

    def _invalid_config(self, exc: ConfigError) -> None:
        for issue in exc.issues:
            text = f"{issue.field}: {issue.message}" if issue.field else issue.message
            self._message(
                Message(
                    level="error",
                    text=text + (f" ({issue.hint})" if issue.hint else ""),
                    title="Invalid training config",
                    file=issue.file,
                    line=issue.line,
                    column=issue.column,
                )
            )
        self._set_error(exc)
        self.result.decision = Decision.INVALID
        self.result.reasons = [str(issue) for issue in exc.issues]
        first = self.result.reasons[0] if self.result.reasons else str(exc)
        count = len(exc.issues)
        self.result.reason = f"{count} problem{'s' if count != 1 else ''} in the config: {first}"

    def _invalid_dataset(self, exc: DatasetError) -> None:
        for issue in exc.issues:
            self._message(
                Message(
                    level="error",
                    text=issue.message + (f" ({issue.hint})" if issue.hint else ""),
                    title="Invalid dataset",
                    file=issue.file,
                    line=issue.line,
                )
            )
        self._set_error(exc)
        self.result.decision = Decision.INVALID
        self.result.reasons = [str(issue) for issue in exc.issues]
        self.result.reason = f"a dataset cannot be used: {self.result.reasons[0]}"

    def _api_failed(self, exc: ApiError) -> None:
        if exc.status is not None and exc.status >= 500:
            self.result.support = SupportInfo(
                endpoint=exc.call,
                status=exc.status,
                trace_id=exc.trace_id,
                response_body=exc.body,
                dataset_ids=[d.id for d in self.result.datasets],
                request_payload=self._request_payload(),
            )
        self._failed(exc, str(exc))

    def _failed(
        self, exc: BaseException, reason: str, *, decision: Decision = Decision.FAILED
    ) -> None:
        self._set_error(exc)
        self.result.decision = decision
        self.result.reason = reason
        self.result.reasons = [*self.result.reasons, reason]
        self._message(Message(level="error", text=reason, title=f"Run {decision.value}"))

    def _bug(self, exc: Exception) -> None:
        """Not a user's mistake: keep the traceback (redacted) in the log for a bug report."""
        self._cancel_live_job()
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.reporter.info(self.redactor(trace))
        self._failed(
            exc,
            f"internal error {type(exc).__name__}: {exc} (this is a ci-trainer bug; "
            "please report it with the log above)",
        )

    def _interrupted_reason(self) -> str:
        reason = "the run was cancelled (SIGINT/SIGTERM)"
        last = self.result.attempts[-1] if self.result.attempts else None
        if last is None:
            return reason + " before training started"
        if last.status == "CANCELLED":
            return reason + f"; training {last.training_id} was cancelled on the service"
        return reason + f"; training {last.training_id} may still be running on the service"

    def _cancel_live_job(self) -> None:
        if self.pipeline is not None:
            try:
                self.pipeline.cancel_live_job()
            except Exception:
                log.debug("cancel after an unexpected error failed", exc_info=True)

    def _request_payload(self) -> dict[str, Any] | None:
        if self.pipeline is not None and self.pipeline.last_request is not None:
            return self.pipeline.last_request
        return None

    # --- after the pipeline: timing, webhook, audit --------------------------------

    def finish(self) -> None:
        self.result.finished_at = datetime.now(timezone.utc)
        self.result.duration_seconds = round(time.monotonic() - self.started, 3)
        self._redact_result()

    def sync_webhook(self) -> None:
        section = self.loaded.config.webhook if self.loaded else WebhookSection()
        url = self.settings.env.get(section.url_env, "").strip()
        if not url:
            return
        secret = self.settings.env.get(section.secret_env, "").strip() or None
        from ci_trainer.webhook import deliver  # requests' import is paid only when needed

        with self.reporter.stage("Webhook"):
            stopping = self.stop.is_set()
            delivery = deliver(
                self.result,
                url,
                secret,
                timeout=min(section.timeout_seconds, STOPPING_WEBHOOK_TIMEOUT)
                if stopping
                else section.timeout_seconds,
                stop=self.stop,
                # No second, text-level pass: finish() already scrubbed the result with
                # its types kept (a year-like secret would otherwise turn timestamps into
                # '***-11-26'); the delivery still scrubs the URL and the webhook secret.
                redactor=None,
                attempts=1 if stopping else 4,
            )
        self.result.webhook = delivery
        if delivery.delivered:
            self.reporter.info(f"webhook delivered to {delivery.target} ({delivery.status_code})")
            return
        target = delivery.target or "the configured webhook URL"
        text = f"webhook not delivered to {target}: {delivery.error}"
        if self.result.promoted:
            text += "; the model WAS promoted, so the registry is now out of sync"
        self._message(Message(level="warning", text=text, title="Webhook"))

    def append_audit(self) -> None:
        section = self.loaded.config.audit if self.loaded else AuditSection()
        path, warning = audit_destination(self.settings, self.loaded)
        if warning:
            self._message(Message(level="warning", text=warning, title="Audit log"))
        # Imported late: the audit module loads jsonschema (for `audit verify`), which
        # would otherwise delay the first request of every run.
        from ci_trainer.audit import write_audit

        outcome = write_audit(
            self.result,
            path,
            governance_tags=list(section.governance_tags),
            fallback_dir=self.settings.output_dir,
            redactor=None,  # already scrubbed in finish(), types kept (see sync_webhook)
        )
        self.result = outcome.apply(self.result)
        if outcome.path is None:
            # Every file failed: the record goes to the log so it is not lost either.
            self.reporter.info("audit record (could not be written to any file):")
            self.reporter.info(outcome.line)
        if outcome.primary_error:
            where = f"; written to {outcome.path} instead" if outcome.path else ""
            self._message(
                Message(
                    level="warning",
                    # The error names the path already.
                    text=f"{outcome.primary_error}{where}",
                    title="Audit log",
                )
            )
        else:
            self.reporter.info(f"audit record appended to {outcome.path}")

    # --- small helpers ----------------------------------------------------------------

    def _register_webhook_secret(self, section: WebhookSection) -> None:
        self.redactor.add(self.settings.env.get(section.secret_env))

    def _set_error(self, exc: BaseException) -> None:
        self.result.error = ErrorInfo(type=type(exc).__name__, message=self.redactor(str(exc)))

    def _message(self, message: Message) -> None:
        message = message.model_copy(update={"text": self.redactor(message.text)})
        self.result.messages.append(message)
        self.reporter.message(message)

    def _redact_result(self) -> None:
        """Belt and braces: no registered secret survives into what leaves the process.

        Only text fields are scrubbed (numbers and timestamps stay typed), so a short
        numeric secret cannot corrupt a date into something the model rejects.
        """
        raw = self.result.model_dump()
        clean = map_strings(raw, self.redactor)
        if clean != raw:
            try:
                self.result = RunResult.model_validate(clean)
            except ValueError:  # pydantic's ValidationError; keep the record, log why
                log.warning("could not redact the run result; it is kept unredacted")


def _thresholds(loaded: LoadedConfig) -> dict[str, Any]:
    config = loaded.config
    return {
        "validation": config.validation.model_dump(mode="json"),
        "gate": config.gate.model_dump(mode="json"),
    }


def _are(names: list[str]) -> str:
    return " are" if len(names) > 1 else " is"


# Modules only the end of a run needs (numpy through the gate, jsonschema through the
# audit, the report). Imported while the training runs, they are ready when it ends.
_LATE_MODULES = ("ci_trainer.gate", "ci_trainer.audit", "ci_trainer.webhook", "ci_trainer.report")


def _warm_up_late_imports() -> None:
    def load() -> None:
        for name in _LATE_MODULES:
            try:
                importlib.import_module(name)
            except Exception:  # the real import later reports any problem properly
                log.debug("warming up %s failed", name, exc_info=True)

    threading.Thread(target=load, name="ci-trainer-warm-up", daemon=True).start()


def _call_with_deadline(call: Callable[[], object], seconds: float) -> object:
    """`call()` in a daemon thread, waiting at most `seconds`; None when late or failed."""
    answer: list[object] = []

    def quietly() -> None:
        try:
            answer.append(call())
        except Exception:
            log.debug("best-effort call failed", exc_info=True)

    worker = threading.Thread(target=quietly, name="ci-trainer-cancel", daemon=True)
    worker.start()
    worker.join(seconds)
    return answer[0] if answer else None


def _close_quietly(backend: Backend) -> None:
    try:
        backend.close()
    except Exception:
        log.debug("closing the backend failed", exc_info=True)


# ---------------------------------------------------------------------------- signals


def install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGINT/SIGTERM set `stop`; the pipeline cancels the remote job and finishes.

    The runner sends SIGINT, then SIGTERM 7.5 s later, then kills 2.5 s after that; the
    polling wait and HTTP retry sleeps wake on `stop` at once. Returns a function that
    restores the previous handlers (tests, embedding).
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        first = not stop.is_set()
        stop.set()  # before anything that could fail
        if first:
            try:
                name = signal.Signals(signum).name
                print(f"ci-trainer: {name} received, stopping", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass  # a closed stderr must not turn the stop into a crash

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


# ---------------------------------------------------------------------------- CLI


def run_cli(args: argparse.Namespace) -> int:
    """`ci-trainer run` / `ci-trainer validate`: returns the exit code of the decision."""
    env: Mapping[str, str] = os.environ
    settings = Settings.from_env(
        env,
        config_path=args.config,
        mode=args.mode,
        emulator=args.emulator,
        output_dir=args.output_dir,
        audit_log=args.audit_log,
    )
    reporter = _reporter(env)
    stop = threading.Event()
    restore = install_signal_handlers(stop)
    try:
        with _emulator_if_asked(settings, reporter) as run_settings:
            result = execute(run_settings, reporter, stop=stop)
    finally:
        restore()
    _publish(result, env, settings.output_dir)
    _close(reporter)
    print(f"ci-trainer: {result.decision.value} - {result.reason}", flush=True)
    return result.exit_code


def _close(reporter: Reporter) -> None:
    # GithubReporter summarises the annotations beyond the runner's limit when closed.
    close = getattr(reporter, "close", None)
    if callable(close):
        close()


def _reporter(env: Mapping[str, str]) -> Reporter:
    if env.get("GITHUB_ACTIONS") == "true":
        from ci_trainer.github import GithubReporter

        return GithubReporter()
    return ConsoleReporter()


def _publish(result: RunResult, env: Mapping[str, str], output_dir: Path | None) -> None:
    from ci_trainer.github import publish

    publish(result, env=env, output_dir=output_dir)


@contextmanager
def _emulator_if_asked(settings: Settings, reporter: Reporter) -> Iterator[Settings]:
    """With `--emulator`, serve the config's datasets on a free loopback port for the run,
    with the emulator personality of the config's backend.

    A config the emulator cannot read is left for `execute` to report as `invalid`, so
    the user sees the same located messages with or without `--emulator`.
    """
    if not settings.emulator:
        yield settings
        return
    with ExitStack() as stack:
        try:
            loaded = load_config(settings.config_path)
            served = stack.enter_context(plugin(loaded.config.backend).emulate(loaded, settings))
        except (ConfigError, DatasetError):
            yield settings
            return
        reporter.secret(served.secret)
        reporter.info(served.description)
        yield served.settings
