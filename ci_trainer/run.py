"""`ci-trainer run`: settings -> config -> backend -> pipeline -> outcome -> webhook -> audit.

`execute` is the one lifecycle of a run. Whatever a run ends in - a verdict of the
pipeline, a mistake in the action's inputs, a config or dataset that cannot be used, a
service failure, a cancelled job, our own bug - it becomes one frozen RunResult, and on
every one of those paths the webhook is synced and the audit record appended. It never
raises for anything a user or the service can cause.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ci_trainer import __version__
from ci_trainer.backends import DEFAULT_BACKEND, BackendRequest, plugin
from ci_trainer.backends.base import Backend
from ci_trainer.config import LoadedConfig, load_config
from ci_trainer.decision import Decision
from ci_trainer.http.trust import check_ca_bundle
from ci_trainer.outcome import Failure, abandoned, failure
from ci_trainer.pipeline.findings import Findings, Verdict
from ci_trainer.pipeline.flow import Pipeline
from ci_trainer.progress import Reporter
from ci_trainer.redact import Redactor, map_strings, neutralise_commands
from ci_trainer.result import Message, Mode, RunResult
from ci_trainer.settings import Settings, incomplete_credentials, secret_values
from ci_trainer.signals import CANCEL_DEADLINE_SECONDS, call_with_deadline, run_until_stopped
from ci_trainer.sinks import append_audit, sync_webhook, write_predictions_file
from ci_trainer.startup import warm_up_late_imports

if TYPE_CHECKING:
    from ci_trainer.http.policy import RetryPolicy

log = logging.getLogger("ci_trainer")


def execute(
    settings: Settings,
    reporter: Reporter,
    *,
    stop: threading.Event | None = None,
    retry_policy: RetryPolicy | None = None,
    refused: BaseException | None = None,
) -> RunResult:
    """Run the pipeline the settings describe; always returns a RunResult, audited.

    `stop` is set by the signal handlers (see `signals.install_signal_handlers`);
    `retry_policy` overrides the HTTP client's timeouts and back-off (tests, unusual
    networks); `refused` is a failure found before the run could start (the action's
    inputs): the run ends with it, reported, synced and audited like any other.
    """
    run = _Run(settings, reporter, stop or threading.Event(), retry_policy)
    with ExitStack() as stack:  # an --emulator served for the run stops at its end
        result = run.decide(stack, refused)
        try:
            result = sync_webhook(
                result, run.settings, run.loaded, run.redactor, reporter, run.stop
            )
        except Exception:  # deliver() never raises; a bug around it must not cost the audit
            # The traceback may quote the event or an answer: redacted, and no line of it
            # able to act as a runner command.
            shown = neutralise_commands(run.redactor(traceback.format_exc()))
            log.error("webhook sync failed: %s", shown)  # noqa: TRY400 - the traceback is in `shown`, made safe
        try:
            result = write_predictions_file(
                result, run.settings, run.loaded, run.redactor, reporter
            )
        except Exception:  # never raises for a file it cannot write; a bug must not cost the audit
            shown = neutralise_commands(run.redactor(traceback.format_exc()))
            log.error("writing the predictions file failed: %s", shown)  # noqa: TRY400 - as above
        return append_audit(result, run.settings, run.loaded, run.redactor, reporter)


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
        self.run_uuid = str(uuid.uuid4())
        self.started = time.monotonic()
        self.started_at = datetime.now(timezone.utc)
        # Secrets are registered before anything else can print: the Redactor's hook is
        # the reporter's mask (`::add-mask::` on Actions), and tokens join as issued.
        self.redactor = Redactor(on_new=reporter.secret)
        self._register_secrets(settings)
        self.loaded: LoadedConfig | None = None
        self.pipeline: Pipeline | None = None
        # What the --emulator says about its state (where production came from): shown
        # on the console when it starts and as notices in the summary.
        self.emulator_notes: list[Message] = []

    # --- deciding ------------------------------------------------------------------

    def decide(self, stack: ExitStack, refused: BaseException | None) -> RunResult:
        """Config (read once), the --emulator if asked, then the pipeline."""
        if refused is not None:
            self.loaded = self._config_if_readable()
            return self._failed(refused, Findings())
        try:
            self.loaded = self._load_config()
            if self.settings.emulator:
                self._serve_emulator(stack, self.loaded)
        except Exception as exc:
            return self._failed(exc, Findings())
        return self._run_pipeline(self.loaded)

    def _load_config(self) -> LoadedConfig:
        with self.reporter.stage("Load config"):
            loaded = load_config(self.settings.config_path)
        self._register_secrets(self.settings, loaded)
        self.reporter.info(f"config {loaded.path} (sha256 {loaded.sha256[:12]})")
        return loaded

    def _config_if_readable(self) -> LoadedConfig | None:
        """For a run refused before it started: the config, only to know where its audit
        record and webhook go; its own problems are not this run's to report."""
        try:
            loaded = load_config(self.settings.config_path)
        except Exception:
            return None
        self._register_secrets(self.settings, loaded)
        return loaded

    def _serve_emulator(self, stack: ExitStack, loaded: LoadedConfig) -> None:
        """Serve the config's datasets on a free loopback port, with the emulator
        personality of the config's backend, and run against it."""
        served = stack.enter_context(plugin(loaded.config.backend).emulate(loaded, self.settings))
        self.redactor.add(served.secret)  # masked (reporter.secret) before anything prints
        self._register_secrets(served.settings, loaded)
        self.reporter.info(served.description)
        for note in served.notes:
            self.reporter.info(note)
            self.emulator_notes.append(Message(level="notice", text=note))
        self.settings = served.settings

    def _run_pipeline(self, loaded: LoadedConfig) -> RunResult:
        """The pipeline in a worker thread, so a stop is honoured in bounded time."""
        answer: list[Verdict | BaseException] = []

        def work() -> None:
            try:
                answer.append(self._pipeline_verdict(loaded))
            except BaseException as exc:  # handed to the main thread, which decides
                answer.append(exc)

        if not run_until_stopped(work, self.stop):
            return self._abandoned()
        if not answer:  # the worker always answers; kept for the type checker
            return self._failed(RuntimeError("the pipeline gave no answer"), self._findings())
        verdict = answer[0]
        if isinstance(verdict, BaseException):
            return self._failed(verdict, self._findings())
        return self._result(verdict.findings, verdict.result_fields())

    def _pipeline_verdict(self, loaded: LoadedConfig) -> Verdict:
        backend, missing = self._backend(loaded)
        try:
            self.pipeline = Pipeline(
                loaded,
                backend=backend,
                mode=self.settings.mode,
                run_uuid=self.run_uuid,
                reporter=self.reporter,
                stop=self.stop,
                provenance=self.settings.provenance,
                missing_credentials=missing,
                base=self.settings.base,
                on_training_started=warm_up_late_imports,
            )
            return self.pipeline.run()
        finally:
            if backend is not None:
                _close_quietly(backend)

    def _backend(self, loaded: LoadedConfig) -> tuple[Backend | None, list[str]]:
        """The training service the config names, or None and the credentials missing."""
        backend = plugin(loaded.config.backend)
        missing = backend.missing_credentials(self.settings)
        if missing:
            given = backend.given_credentials(self.settings)
            if given and self.settings.mode is not Mode.VALIDATE:
                raise incomplete_credentials(given, missing)
            return None, list(missing)
        check_ca_bundle(self.settings.env)
        request = BackendRequest(
            settings=self.settings,
            loaded=loaded,
            model_id=self.settings.model_id_for(loaded),
            redactor=self.redactor,
            wait=self.stop.wait,
            retry_policy=self.retry_policy,
        )
        return backend.build(request), []

    def _abandoned(self) -> RunResult:
        """The pipeline did not stop in time: cancel its job ourselves and end the run
        with what it had found; the worker's later writes go to its own recorder."""
        pipeline = self.pipeline
        cancelled = False
        if pipeline is not None:
            cancelled = bool(call_with_deadline(pipeline.cancel_live_job, CANCEL_DEADLINE_SECONDS))
        findings = self._findings()
        if cancelled and findings.attempts:
            *earlier, last = findings.attempts
            last = last.model_copy(
                update={"status": "CANCELLED", "finished_at": datetime.now(timezone.utc)}
            )
            findings = findings.model_copy(
                update={"attempts": [*earlier, last], "status": "CANCELLED"}
            )
        ending = abandoned(findings, cancelled=cancelled, redact=self.redactor)
        return self._ended(ending, findings)

    def _failed(self, exc: BaseException, findings: Findings) -> RunResult:
        ending = failure(exc, findings, self.redactor)
        if ending.trace is not None:  # our bug: cancel what it left running, keep the trace
            self._cancel_live_job()
            self.reporter.info(ending.trace)
        return self._ended(ending, findings)

    def _ended(self, ending: Failure, findings: Findings) -> RunResult:
        for message in ending.messages:
            self.reporter.message(message)
        return self._result(
            findings,
            {
                "decision": ending.decision,
                "reason": ending.reason,
                "reasons": ending.reasons,
                "messages": [*findings.messages, *ending.messages],
                "error": ending.error,
                "support": ending.support,
            },
        )

    # --- the result -----------------------------------------------------------------

    def _result(self, findings: Findings, decided: dict[str, Any]) -> RunResult:
        """The one RunResult of the run: what it is, what it found, what it decided."""
        loaded = self.loaded
        finished = datetime.now(timezone.utc)
        result = RunResult(
            run_uuid=self.run_uuid,
            tool_version=__version__,
            backend=loaded.config.backend if loaded else DEFAULT_BACKEND,
            mode=self.settings.mode,
            decision=Decision.FAILED,
            reason="the run ended before a decision was reached",
            started_at=self.started_at,
            finished_at=finished,
            duration_seconds=round(time.monotonic() - self.started, 3),
            config_path=str(loaded.path if loaded else self.settings.config_path),
            config_sha256=loaded.sha256 if loaded else None,
            model_id=self.settings.model_id_for(loaded) if loaded else self.settings.model_id,
            thresholds=_thresholds(loaded) if loaded else {},
            provenance=self.settings.provenance,
        )
        result = result.model_copy(update={**findings.result_fields(), **decided})
        if self.emulator_notes:
            notes = [*self.emulator_notes, *result.messages]
            result = result.model_copy(update={"messages": notes})
        return _redacted(result, self.redactor)

    def _findings(self) -> Findings:
        return self.pipeline.findings() if self.pipeline is not None else Findings()

    def _cancel_live_job(self) -> None:
        if self.pipeline is not None:
            try:
                self.pipeline.cancel_live_job()
            except Exception:
                log.debug("cancel after an unexpected error failed", exc_info=True)

    def _register_secrets(self, settings: Settings, loaded: LoadedConfig | None = None) -> None:
        self.redactor.add(settings.client_secret)
        self.redactor.add(settings.api_key)
        self.redactor.add(settings.webhook(loaded)[1])
        for value in secret_values(settings.env):  # the action's secret inputs (github-token)
            self.redactor.add(value)


def _redacted(result: RunResult, redactor: Redactor) -> RunResult:
    """Belt and braces: no registered secret survives into what leaves the process.

    Only text fields are scrubbed (numbers and timestamps stay typed), so a short
    numeric secret cannot corrupt a date into something the model rejects.
    """
    raw = result.model_dump()
    clean = map_strings(raw, redactor)
    if clean == raw:
        return result
    try:
        return RunResult.model_validate(clean)
    except ValueError:  # pydantic's ValidationError; keep the record, log why
        log.warning("could not redact the run result; it is kept unredacted")
        return result


def _thresholds(loaded: LoadedConfig) -> dict[str, Any]:
    config = loaded.config
    return {
        "validation": config.validation.model_dump(mode="json"),
        "gate": config.gate.model_dump(mode="json"),
    }


def _close_quietly(backend: Backend) -> None:
    try:
        backend.close()
    except Exception:
        log.debug("closing the backend failed", exc_info=True)
