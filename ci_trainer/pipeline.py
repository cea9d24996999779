"""The stages of a run, in order, filling in one RunResult.

    load datasets -> access check -> service stats + dataset checks -> production version
    -> train (Idempotency-Key) -> wait -> [retry FAILED with a smaller batch] -> metrics
    -> thresholds -> champion/challenger on the holdout -> decision -> promote

Each stage runs inside `reporter.stage(...)` (a log group on Actions). The pipeline
writes into the `RunResult` it is given as it goes, so whatever stage ends the run, the
runner still has everything gathered up to that point for the summary and the audit
record. A decision the pipeline reaches (rejected, approved, ...) is set on the result;
anything that ends the run early (service errors, a timeout, a cancelled run) is raised
as a `CiTrainerError` for the runner to turn into a decision. A remote job is cancelled
on every exit path that leaves it running.

The pipeline knows nothing about GitHub, HTTP, webhooks or the audit log.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ci_trainer.backend_types import (
    AccessCheck,
    Capabilities,
    DatasetStats,
    EvalMetrics,
    IntentScore,
    JobState,
    JobStatus,
    Promotion,
    PromotionStep,
    Target,
    TrainingJob,
    TrainingRequest,
)
from ci_trainer.backends.base import Backend, ExtensionUnavailable
from ci_trainer.checks import DatasetInput, blocking, run_checks
from ci_trainer.config import LoadedConfig
from ci_trainer.config.model import TrainingConfig
from ci_trainer.datasets import Dataset, load_dataset
from ci_trainer.errors import (
    ApiError,
    AuthError,
    CiTrainerError,
    ContractError,
    Interrupted,
    TrainingFailed,
)
from ci_trainer.polling import PollPolicy, PollSchedule, PollTimeout, wait_for_job
from ci_trainer.progress import Reporter
from ci_trainer.result import (
    CheckResult,
    CheckStatus,
    DatasetRecord,
    Decision,
    GateRule,
    Message,
    Mode,
    ProductionInfo,
    PromotionRecord,
    Provenance,
    ResourceUsage,
    RunResult,
    TrainingAttempt,
)

# Scopes each mode needs (the contract's securitySchemes). Checked before training so a
# missing one fails in seconds with its name, not as a 403 half-way through.
REQUIRED_SCOPES: dict[Mode, tuple[str, ...]] = {
    Mode.VALIDATE: ("training:read",),
    Mode.TRAIN: ("training:read", "training:write", "model:read"),
    Mode.PROMOTE: ("training:read", "training:write", "model:read", "model:write"),
}
# Skipped checks worth a notice: the data lacks what the check needs. Other skips follow
# from the run itself (no service stats without credentials) and are explained there.
_NOTICE_WHEN_SKIPPED = frozenset({"annotation_score"})
# After a promote whose answer was lost: re-read production after these waits.
CONFIRM_DELAYS_SECONDS = (0.25, 0.5, 1.0)
CONFIRM_STEP = "confirm by reading production"
MIN_BATCH_SIZE = 8  # the contract's lower bound for hyperparameters.batchSize
WEAKEST_INTENTS = 5


@dataclass
class _Datasets:
    """What the dataset stages found, handed from one stage to the next."""

    local: dict[str, Dataset | None] = field(default_factory=dict)
    service: dict[str, DatasetStats | None] = field(default_factory=dict)
    holdout: Dataset | None = None


class Pipeline:
    """One run of the stages against one backend (None: local validation only)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        result: RunResult,
        *,
        backend: Backend | None,
        reporter: Reporter,
        stop: threading.Event,
        provenance: Provenance | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_training_started: Callable[[], None] | None = None,
    ) -> None:
        self.loaded = loaded
        self.config: TrainingConfig = loaded.config
        self.result = result
        self.backend = backend
        self.reporter = reporter
        self.stop = stop
        self.provenance = provenance or result.provenance
        self.clock = clock
        # Called once, when the first job is running: the process is idle from then on.
        self._on_training_started = on_training_started
        self._capabilities: Capabilities | None = None
        self._live_job: TrainingJob | None = None  # started and not yet final
        self._last_job: TrainingJob | None = None
        # The last POST /train body in the contract's words, for a support ticket.
        self.last_request: dict[str, Any] | None = None

    # ------------------------------------------------------------------ the flow

    def run(self) -> RunResult:
        """Run every stage the mode calls for; the decision ends up on the result."""
        # The token exchange (the access check's request) runs while the datasets are
        # read, so the service is contacted at once; its outcome is judged in its stage.
        access = _in_background(self.backend.check_access) if self.backend else None
        data = self.load_datasets()
        if self.backend is not None and access is not None:
            self.check_access(access)
            self.fetch_service_stats(self.backend, data)
        if not self.check_datasets(data):
            return self.result
        if self.backend is None or self.result.mode is Mode.VALIDATE:
            return self._set(Decision.VALIDATED, "the config and datasets passed validation")
        target = self._target(self.backend)
        self.read_production(self.backend, target)
        metrics = self.train(self.backend, target)
        rules = self.evaluate(self.backend, target, metrics, data.holdout)
        from ci_trainer.gate import decide  # numpy loads late: see evaluate()

        outcome = decide(rules, self.result.champion)
        if not outcome.passed:
            return self._set(Decision.REJECTED, outcome.reason, outcome.reasons)
        if self.result.mode is Mode.PROMOTE:
            return self.promote(self.backend, target, outcome.reasons)
        return self._set(Decision.APPROVED, outcome.reason, outcome.reasons)

    # ------------------------------------------------------------------ stages

    def load_datasets(self) -> _Datasets:
        data = _Datasets()
        with self._stage("Load datasets"):
            for ref in self.config.datasets:
                local = load_dataset(self.loaded.resolve(ref.path)) if ref.path else None
                data.local[ref.id] = local
                self.result.datasets.append(_dataset_record(ref.id, ref.path, local))
                if local is not None:
                    self.reporter.info(
                        f"{ref.id}: {len(local.examples)} examples, "
                        f"{len(local.intent_distribution)} intents ({ref.path})"
                    )
            if self.config.holdout is not None:
                data.holdout = load_dataset(self.loaded.resolve(self.config.holdout.path))
                self.reporter.info(
                    f"holdout: {len(data.holdout.examples)} examples ({self.config.holdout.path})"
                )
        return data

    def check_access(self, pending: Future[AccessCheck]) -> None:
        with self._stage("Check access"):
            access = pending.result()  # re-raises what the token exchange raised
            granted = set(access.granted_scopes)
            needed = REQUIRED_SCOPES[self.result.mode]
            # A service that reports no scopes at all leaves enforcement to its 403s.
            missing = [s for s in needed if s not in granted] if granted else []
            missing += [s for s in access.missing_scopes if s in needed and s not in missing]
            if missing:
                raise AuthError(
                    call="check access",
                    message_text=(
                        f"the API client lacks the scope{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)} needed for mode '{self.result.mode.value}' "
                        f"(granted: {', '.join(sorted(granted)) or 'none'})"
                    ),
                    hint_text=f"grant {' '.join(needed)} to the API client on the tenant",
                )
            self.reporter.info(f"granted scopes: {', '.join(sorted(granted)) or 'not reported'}")

    def fetch_service_stats(self, backend: Backend, data: _Datasets) -> None:
        with self._stage("Dataset stats from the service"):
            for record in self.result.datasets:
                try:
                    stats = backend.dataset_stats(record.id)
                except ExtensionUnavailable:
                    # cognigy-v2 has no dataset statistics: the local checks stand alone.
                    self.reporter.info("the service reports no dataset statistics")
                    return
                data.service[record.id] = stats
                record.service_example_count = stats.example_count
                record.service_intent_count = stats.intent_count
                if record.path is None:
                    # No committed file: the service's numbers are all there is.
                    record.example_count = stats.example_count
                    record.intent_count = stats.intent_count
                    record.intent_distribution = dict(stats.intent_distribution)
                    record.average_annotation_score = stats.average_annotation_score
                self.reporter.info(
                    f"{record.id}: {stats.example_count} examples, {stats.intent_count} intents"
                )

    def check_datasets(self, data: _Datasets) -> bool:
        """Run the dataset checks; False (and decision `rejected`) when one FAILED."""
        with self._stage("Dataset checks"):
            inputs = [
                DatasetInput(
                    ref=ref, local=data.local.get(ref.id), service=data.service.get(ref.id)
                )
                for ref in self.config.datasets
            ]
            self.result.checks = run_checks(self.config, inputs, data.holdout)
            for check in self.result.checks:
                where = f"{check.dataset_id}: " if check.dataset_id else ""
                self.reporter.info(
                    f"{check.status.value:>7}  {check.check}: {where}{check.message}"
                )
                level = _announcement(check)
                if level is not None:
                    self._message(
                        level, where + check.message, title=f"Dataset check {check.check}"
                    )
        failed = blocking(self.result.checks)
        if not failed:
            return True
        reasons = [
            f"dataset check {c.check} failed: "
            + (f"{c.dataset_id}: " if c.dataset_id else "")
            + c.message
            for c in failed
        ]
        self._set(Decision.REJECTED, reasons[0], reasons)
        return False

    def read_production(self, backend: Backend, target: Target) -> None:
        """Remember production before training, to compare with and to detect a race."""
        with self._stage("Production version"):
            if not self._caps(backend).production:
                self.reporter.info("the service does not report the production version")
                return
            try:
                version = backend.production_version(target)
            except ExtensionUnavailable:
                self.reporter.info("the service does not report the production version")
                return
            self.result.production = ProductionInfo(
                version_id=version.version_id if version else None,
                metrics=version.metrics if version else None,
                read_at=_now(),
            )
            self.reporter.info(f"production: {version.version_id if version else 'none yet'}")

    def train(self, backend: Backend, target: Target) -> EvalMetrics:
        """Start training, wait, retry a FAILED job if configured; the metrics of the result."""
        retry = self.config.training.retry_on_failure
        batch_size = self.config.training.hyperparameters.batch_size
        started = self.clock()
        # One overall timeout for every attempt together: retries never stretch it.
        deadline = started + PollPolicy.from_config(self.config.training).timeout_seconds
        try:
            for attempt in range(1, retry.attempts + 2):
                with self._stage(f"Train (attempt {attempt})"):
                    final = self._train_once(backend, target, attempt, batch_size, deadline)
                if final.state is JobState.COMPLETED:
                    break
                if final.state is JobState.FAILED and attempt <= retry.attempts:
                    batch_size = max(MIN_BATCH_SIZE, round(batch_size * retry.batch_size_factor))
                    self._message(
                        "warning",
                        f"training attempt {attempt} FAILED ({final.message or 'no message'}); "
                        f"retrying with batch size {batch_size}",
                    )
                    continue
                raise TrainingFailed(
                    f"training {self.result.training_id} ended {final.raw_status}"
                    + (f": {final.message}" if final.message else ""),
                    hint=_failure_hint(final.state, retry.attempts),
                )
        finally:
            self.result.training_seconds = round(self.clock() - started, 3)
        job = self._last_job
        if job is None:  # the loop above either starts a job or raises
            msg = "no training was started"
            raise TrainingFailed(msg)
        with self._stage("Metrics"):
            metrics = backend.training_metrics(job)
            check_metrics(metrics)
            self._service_findings(backend)
        self.result.metrics = metrics
        self.result.version_id = metrics.version_id
        self.result.convergence = list(metrics.convergence)
        self.result.weakest_intents = weakest_intents(metrics.per_intent)
        return metrics

    def evaluate(
        self,
        backend: Backend,
        target: Target,
        metrics: EvalMetrics,
        holdout: Dataset | None,
    ) -> list[GateRule]:
        # The gate pulls in numpy (~0.2 s); imported here, after training, it stays off
        # the path from process start to the first request (target: 0.3 s).
        from ci_trainer.gate import threshold_rules

        with self._stage("Gate"):
            rules = list(threshold_rules(self.config.gate, metrics))
            rules += self._champion(backend, target, metrics.version_id, holdout)
            self.result.gate = rules
            for rule in rules:
                self.reporter.info(f"{'pass' if rule.passed else 'FAIL'}  {rule.message}")
        return rules

    def promote(self, backend: Backend, target: Target, reasons: list[str]) -> RunResult:
        version_id = self.result.version_id
        environment = self.config.promotion.environment
        with self._stage("Promote"):
            if not self._production_unchanged(backend, target):
                return self.result
            if version_id is None:  # metrics always carry one; kept for the type checker
                msg = "the service gave no version id to promote"
                raise TrainingFailed(msg)
            promotion = self._promote_or_confirm(backend, target, version_id, environment)
            self.result.promotion = PromotionRecord(
                attempted=True,
                promoted=promotion.promoted,
                version_id=promotion.version_id,
                environment=promotion.environment,
                steps=list(promotion.steps),
            )
        if promotion.steps and promotion.steps[-1].name == CONFIRM_STEP:
            self.result.promotion.message = promotion.steps[-1].detail
        if not promotion.promoted:
            message = f"the service did not promote version {version_id} to {environment}"
            # A multi-step promotion (v2) says which step failed and why; that is the fix.
            failed_step = next((st for st in promotion.steps if st.status == "failed"), None)
            if failed_step is not None and failed_step.detail:
                named = f" {failed_step.id}" if failed_step.id else ""
                message += f": step '{failed_step.name}'{named} failed: {failed_step.detail}"
            self.result.promotion.message = message
            return self._set(Decision.FAILED, message)
        self.reporter.info(f"promoted {version_id} to {environment}")
        return self._set(
            Decision.PROMOTED,
            f"version {version_id} passed the gate and is now in {environment}",
            reasons,
        )

    def _promote_or_confirm(
        self, backend: Backend, target: Target, version_id: str, environment: str
    ) -> Promotion:
        """Promote; when the answer is lost, find out from production whether it happened.

        Promote is not repeated blindly (it is not idempotent everywhere), so a reset or
        timeout after the service applied it would otherwise end a successful promotion
        as `failed`. Production is re-read a few times; only our version there counts.
        """
        try:
            return backend.promote(target, version_id, environment)
        except ApiError as exc:
            if not _outcome_unknown(exc) or not self._production_becomes(
                backend, target, version_id
            ):
                raise
            detail = (
                f"the answer to the promote call was lost ({exc.message_text}); production "
                f"now shows version {version_id}, so the promotion took effect"
            )
            self._message("warning", detail, title="Promotion confirmed")
            return Promotion(
                version_id=version_id,
                environment=environment,
                promoted=True,
                steps=[
                    PromotionStep(name=CONFIRM_STEP, status="done", id=version_id, detail=detail)
                ],
            )

    def _production_becomes(self, backend: Backend, target: Target, version_id: str) -> bool:
        for delay in CONFIRM_DELAYS_SECONDS:
            if self.stop.wait(delay):
                return False
            try:
                now = backend.production_version(target)
            except (ExtensionUnavailable, CiTrainerError):
                return False
            if now is not None and now.version_id == version_id:
                return True
        return False

    # ------------------------------------------------------------------ training helpers

    def _train_once(
        self, backend: Backend, target: Target, attempt: int, batch_size: int, deadline: float
    ) -> JobStatus:
        request = self._training_request(batch_size)
        self.last_request = backend.training_payload(target, request)
        key = idempotency_key(
            self.provenance, self.result.config_sha256 or "", attempt, nonce=self.result.run_uuid
        )
        job = backend.start_training(target, request, key)
        self._last_job = job
        self.result.training_id = job.training_id
        record = TrainingAttempt(
            attempt=attempt,
            training_id=job.training_id,
            idempotency_key=key,
            batch_size=batch_size,
            status="STARTED",
            started_at=job.started_at,
        )
        self.result.attempts.append(record)
        self.reporter.info(f"training {job.training_id} started (batch size {batch_size})")
        if self._on_training_started is not None:
            hook, self._on_training_started = self._on_training_started, None
            hook()
        watcher = _StatusWatcher(self.reporter, self.result.resources, job.training_id, record)
        self._live_job = job
        try:
            final = wait_for_job(
                lambda: backend.training_status(job),
                PollSchedule(
                    PollPolicy.from_config(self.config.training), self.clock(), deadline=deadline
                ),
                stop=self.stop,
                on_status=watcher,
                clock=self.clock,
            )
        except BaseException as exc:
            cancelled = self._cancel(backend, job)
            record.status = "CANCELLED" if cancelled else (watcher.last or "UNKNOWN")
            record.finished_at = _now()
            self.result.status = record.status
            if isinstance(exc, PollTimeout):
                raise TrainingFailed(
                    str(exc.message)
                    + (
                        "; the remote job was cancelled"
                        if cancelled
                        else "; it may still be running"
                    ),
                    hint=exc.hint,
                ) from exc
            raise
        self._live_job = None
        record.status = final.raw_status
        record.message = final.message
        record.finished_at = _now()
        self.result.status = final.raw_status
        return final

    def _training_request(self, batch_size: int) -> TrainingRequest:
        params = self.config.training.hyperparameters.model_dump(exclude_none=True)
        params["batch_size"] = batch_size
        return TrainingRequest(
            dataset_ids=[ref.id for ref in self.config.datasets],
            validation_split=self.config.training.validation_split,
            hyperparameters=params,
        )

    def _cancel(self, backend: Backend, job: TrainingJob) -> bool:
        """Best effort: a failed cancel must not hide why the run ended."""
        try:
            accepted = backend.cancel_training(job)
        except ExtensionUnavailable:
            accepted = False
        except CiTrainerError as exc:  # ApiError, or Interrupted from a retry sleep
            self._message("warning", f"could not cancel training {job.training_id}: {exc}")
            return False
        if accepted:
            self.reporter.info(f"cancelled training {job.training_id}")
        else:
            self._message(
                "warning",
                f"the service has no cancel endpoint; training {job.training_id} may keep running",
            )
        self._live_job = None
        return accepted

    def cancel_live_job(self) -> bool:
        """Cancel a job a stage left running (used by the runner on unexpected errors)."""
        job, backend = self._live_job, self.backend
        if job is None or backend is None:
            return False
        return self._cancel(backend, job)

    # ------------------------------------------------------------------ gate helpers

    def _champion(
        self, backend: Backend, target: Target, candidate: str, holdout: Dataset | None
    ) -> list[GateRule]:
        note = self._champion_unavailable(backend, holdout)
        production = self.result.production
        if note is None and holdout is not None and production and production.version_id:
            try:
                return self._compare_on_holdout(
                    backend, target, candidate, production.version_id, holdout
                )
            except ExtensionUnavailable:
                note = "the service has no predict endpoint"
        if note is not None:
            self.result.champion_note = f"{note}; the gate used the thresholds alone"
            self.reporter.info(f"champion/challenger skipped: {self.result.champion_note}")
        return []

    def _champion_unavailable(self, backend: Backend, holdout: Dataset | None) -> str | None:
        production = self.result.production
        if not self.config.gate.champion.enabled:
            return "the champion/challenger comparison is disabled (gate.champion.enabled)"
        if holdout is None:
            return "no holdout set is configured (holdout.path)"
        if not self._caps(backend).predict:
            return "the service has no predict endpoint"
        if production is None:
            return "the service does not report the production version"
        if production.version_id is None:
            return "there is no production version yet"
        return None

    def _compare_on_holdout(
        self, backend: Backend, target: Target, candidate: str, champion: str, holdout: Dataset
    ) -> list[GateRule]:
        texts = holdout.texts
        candidate_pred = [p.intent for p in backend.predict(target, candidate, texts)]
        production_pred = [p.intent for p in backend.predict(target, champion, texts)]
        from ci_trainer.gate import champion_rules, compare_champion

        comparison = compare_champion(
            holdout.labels,
            candidate_pred,
            production_pred,
            self.config.gate.champion,
            holdout_path=self._holdout_path(holdout),
            holdout_sha256=holdout.sha256,
            candidate_version_id=candidate,
            production_version_id=champion,
        )
        self.result.champion = comparison
        self.reporter.info(comparison.sentence)
        return list(champion_rules(comparison, self.config.gate.champion))

    # ------------------------------------------------------------------ production helpers

    def _production_unchanged(self, backend: Backend, target: Target) -> bool:
        before = self.result.production
        if before is None:
            self._message(
                "warning",
                "the service does not report the production version, so a concurrent "
                "promotion cannot be detected",
            )
            return True
        try:
            now = backend.production_version(target)
        except ExtensionUnavailable:
            return True
        now_id = now.version_id if now else None
        if now_id == before.version_id:
            return True
        message = (
            f"production changed during this run (from {before.version_id or 'none'} "
            f"to {now_id or 'none'}); version {self.result.version_id} was not promoted"
        )
        self.result.promotion = PromotionRecord(
            attempted=False,
            promoted=False,
            version_id=self.result.version_id,
            environment=self.config.promotion.environment,
            message=message,
        )
        self._set(
            Decision.FAILED,
            message,
            [*self.result.reasons, message],
        )
        self._message("error", message + "; re-run to compare against the new production")
        return False

    def _service_findings(self, backend: Backend) -> None:
        """Warnings a backend derived from the service's own analysis (cognigy-v2: the
        Intent Analyzer's poorFScore, fewSentences, strongOverlap ...)."""
        warnings = getattr(backend, "warnings", None)
        if not callable(warnings):
            return
        for text in warnings():
            self._message("warning", str(text), title="Intent Analyzer")

    # ------------------------------------------------------------------ small helpers

    def _holdout_path(self, holdout: Dataset) -> str:
        # The path as written in the config (relative, portable), not the resolved one.
        return self.config.holdout.path if self.config.holdout else holdout.path

    def _target(self, backend: Backend) -> Target:
        targets = backend.targets()
        if not targets:
            msg = f"the {backend.name} backend offers nothing to train"
            raise TrainingFailed(msg)
        # The first target covers the whole run: v1's one model, or v2's combined target
        # over every flow x locale (the backend lists the members after it).
        target = targets[0]
        self.result.target = target.label
        return target

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """A reporter stage that is not entered once the run was asked to stop."""
        if self.stop.is_set():
            msg = f"the run was cancelled (SIGINT/SIGTERM) before the stage '{name}'"
            raise Interrupted(
                msg,
                hint="re-run the job to train",
            )
        with self.reporter.stage(name):
            yield

    def _caps(self, backend: Backend) -> Capabilities:
        if self._capabilities is None:
            self._capabilities = backend.capabilities()
        return self._capabilities

    def _set(self, decision: Decision, reason: str, reasons: list[str] | None = None) -> RunResult:
        self.result.decision = decision
        self.result.reason = reason
        if reasons is not None:
            self.result.reasons = list(reasons)
        return self.result

    def _message(self, level: str, text: str, *, title: str | None = None) -> None:
        message = Message(level=level, text=text, title=title)
        self.result.messages.append(message)
        self.reporter.message(message)


class _StatusWatcher:
    """Called with every status answer: one log line per status change, resource peaks."""

    def __init__(
        self, reporter: Reporter, usage: ResourceUsage, training_id: str, attempt: TrainingAttempt
    ) -> None:
        self.reporter = reporter
        self.usage = usage
        self.training_id = training_id
        self.attempt = attempt
        self.last: str | None = None

    def __call__(self, status: JobStatus) -> None:
        self.attempt.status_requests += 1
        record_resources(self.usage, status)
        if status.raw_status != self.last:
            self.last = status.raw_status
            progress = f" {status.progress:.0%}" if status.progress is not None else ""
            detail = f": {status.message}" if status.message else ""
            self.reporter.info(
                f"training {self.training_id}: {status.raw_status}{progress}{detail}"
            )


def _in_background(call: Callable[[], AccessCheck]) -> Future[AccessCheck]:
    """Start `call` in a daemon thread; the Future holds its answer or its exception."""
    pending: Future[AccessCheck] = Future()

    def work() -> None:
        try:
            pending.set_result(call())
        except BaseException as exc:  # handed to whoever waits on it, not lost
            pending.set_exception(exc)

    threading.Thread(target=work, name="ci-trainer-access", daemon=True).start()
    return pending


def _outcome_unknown(exc: ApiError) -> bool:
    """The call may have been applied: no answer, a server error, or an unreadable answer."""
    if isinstance(exc, AuthError):
        return False
    return exc.status is None or exc.status >= 500 or isinstance(exc, ContractError)


def _announcement(check: CheckResult) -> str | None:
    """The message level a check's outcome deserves beyond the checks table, if any."""
    if check.status is CheckStatus.WARNING:
        return "warning"  # failed, but configured not to block: say so loudly
    if check.status is CheckStatus.SKIPPED and check.check in _NOTICE_WHEN_SKIPPED:
        return "notice"
    return None


def check_metrics(metrics: EvalMetrics) -> None:
    """Refuse metrics no gate can judge: NaN passes JSON and `minimum: 0` alike.

    A NaN F1 compares False against every threshold, so it would read as a normal
    rejection (or, in a `>=` rule, slip through); it is the service's fault, not the model's.
    """
    values: list[tuple[str, float | None]] = [
        ("f1Score", metrics.f1),
        ("precision", metrics.precision),
        ("recall", metrics.recall),
        ("accuracy", metrics.accuracy),
        ("macro.f1", metrics.macro_f1),
    ]
    values += [(f"perIntent.{s.intent}.f1", s.f1) for s in metrics.per_intent]
    # A combined figure is the lowest member's; a NaN member makes that minimum
    # depend on the order of the targets, so it is refused like a NaN F1.
    values += [
        (f"targets.{t.label}.{name}", getattr(t, name))
        for t in metrics.targets
        for name in ("f1", "accuracy", "macro_f1")
    ]
    bad = [name for name, value in values if value is not None and not 0.0 <= value <= 1.0]
    if bad:
        raise ContractError(
            call="getTrainingMetrics",
            message_text=(
                f"the service reported metrics outside 0..1 (NaN or out of range): {', '.join(bad)}"
            ),
            hint_text="a service defect; re-run the job, and report it with the training id if it persists",
        )


def record_resources(usage: ResourceUsage, status: JobStatus) -> None:
    """Fold one status answer's resourceUtilization into the run's peak and last values."""
    if status.cpu_percent is None and status.memory_percent is None:
        return
    usage.samples += 1
    if status.cpu_percent is not None:
        usage.last_cpu_percent = status.cpu_percent
        usage.peak_cpu_percent = max(usage.peak_cpu_percent or 0.0, status.cpu_percent)
    if status.memory_percent is not None:
        usage.last_memory_percent = status.memory_percent
        usage.peak_memory_percent = max(usage.peak_memory_percent or 0.0, status.memory_percent)


def weakest_intents(scores: list[IntentScore], count: int = WEAKEST_INTENTS) -> list[IntentScore]:
    """The intents with the lowest F1 (those without an F1 cannot be ranked)."""
    ranked = sorted((s for s in scores if s.f1 is not None), key=lambda s: (s.f1, s.intent))
    return ranked[:count]


def idempotency_key(provenance: Provenance, config_sha256: str, attempt: int, *, nonce: str) -> str:
    """The POST /train key: the same CI run retrying the request gets the same training.

    On GitHub it is derived from repository, commit, config hash, run id and run attempt
    (a re-run of the workflow is a new attempt and trains again) plus our own retry
    number. Without a CI run id, `nonce` (the run's uuid) makes every local run train.
    """
    if provenance.run_id:
        parts = [
            provenance.repository or "",
            provenance.commit or "",
            config_sha256,
            provenance.run_id,
            provenance.run_attempt or "1",
        ]
    else:
        parts = [nonce, config_sha256]
    parts.append(str(attempt))
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return f"ci-trainer-{digest[:40]}"


def _dataset_record(dataset_id: str, path: str | None, local: Dataset | None) -> DatasetRecord:
    if local is None:
        return DatasetRecord(id=dataset_id, path=path)
    return DatasetRecord(
        id=dataset_id,
        path=path,
        sha256=local.sha256,
        example_count=len(local.examples),
        intent_count=len(local.intent_distribution),
        intent_distribution=dict(local.intent_distribution),
        average_annotation_score=local.average_annotation_score,
    )


def _failure_hint(state: JobState, retries: int) -> str:
    if state is JobState.CANCELLED:
        return "someone cancelled the job on the service; re-run when that was not intended"
    if retries == 0:
        return (
            "check the dataset on the service; to retry with a smaller batch size set "
            "training.retry_on_failure.attempts"
        )
    return "every attempt failed; check the dataset's integrity on the service"


def _now() -> datetime:
    return datetime.now(timezone.utc)
