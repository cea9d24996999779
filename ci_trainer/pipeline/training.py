"""The training stage: start a job (Idempotency-Key), wait for it, retry a FAILED job
with a smaller batch, and cancel a job that any exit path would leave running."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ci_trainer.backend_types import JobState, JobStatus, Target, TrainingJob, TrainingRequest
from ci_trainer.backends.base import Backend
from ci_trainer.errors import CiTrainerError, FeatureUnavailable, TrainingFailed
from ci_trainer.pipeline.context import StageContext, now
from ci_trainer.polling import PollPolicy, PollSchedule, PollTimeout, wait_for_job
from ci_trainer.result import Provenance, ResourceUsage, TrainingAttempt

MIN_BATCH_SIZE = 8  # the contract's lower bound for hyperparameters.batchSize


def train(
    ctx: StageContext,
    backend: Backend,
    target: Target,
    on_started: Callable[[], None] | None = None,
) -> TrainingJob:
    """Start training, wait, retry a FAILED job if configured; the job that COMPLETED.

    `on_started` is called once, when the first job is running.
    """
    retry = ctx.config.training.retry_on_failure
    batch_size = ctx.config.training.hyperparameters.batch_size
    started = ctx.clock()
    # One overall timeout for every attempt together: retries never stretch it.
    deadline = started + PollPolicy.from_config(ctx.config.training).timeout_seconds
    try:
        for attempt in range(1, retry.attempts + 2):
            with ctx.stage(f"Train (attempt {attempt})"):
                job = _start(ctx, backend, target, attempt, batch_size)
                if on_started is not None:
                    on_started()
                    on_started = None
                final = _wait(ctx, backend, job, deadline)
            if final.state is JobState.COMPLETED:
                for text in final.notices:
                    ctx.message("notice", text, title="Training")
                return job
            if final.state is JobState.FAILED and attempt <= retry.attempts:
                batch_size = max(MIN_BATCH_SIZE, round(batch_size * retry.batch_size_factor))
                ctx.message(
                    "warning",
                    f"training attempt {attempt} FAILED ({final.message or 'no message'}); "
                    f"retrying with batch size {batch_size}",
                )
                continue
            raise TrainingFailed(
                f"training {job.training_id} ended {final.raw_status}"
                + (f": {final.message}" if final.message else ""),
                hint=_failure_hint(final.state, retry.attempts),
            )
    finally:
        ctx.recorder.record(training_seconds=round(ctx.clock() - started, 3))
    msg = "no training was started"  # the loop above either returns a job or raises
    raise TrainingFailed(msg)


def _start(
    ctx: StageContext, backend: Backend, target: Target, attempt: int, batch_size: int
) -> TrainingJob:
    request = _training_request(ctx, batch_size)
    ctx.recorder.record(training_request=backend.training_payload(target, request))
    key = idempotency_key(ctx.provenance, ctx.loaded.sha256, attempt, nonce=ctx.run_uuid)
    job = backend.start_training(target, request, key)
    ctx.last_job = job
    ctx.recorder.add_attempt(
        TrainingAttempt(
            attempt=attempt,
            training_id=job.training_id,
            idempotency_key=key,
            batch_size=batch_size,
            status="STARTED",
            started_at=job.started_at,
        )
    )
    ctx.reporter.info(f"training {job.training_id} started (batch size {batch_size})")
    return job


def _wait(ctx: StageContext, backend: Backend, job: TrainingJob, deadline: float) -> JobStatus:
    """Poll the job until it is final; on any exception, cancel it first."""
    watcher = _StatusWatcher(ctx, job.training_id)
    ctx.live_job = job
    try:
        final = wait_for_job(
            lambda: backend.training_status(job),
            PollSchedule(
                PollPolicy.from_config(ctx.config.training), ctx.clock(), deadline=deadline
            ),
            stop=ctx.stop,
            on_status=watcher,
            clock=ctx.clock,
        )
    except BaseException as exc:
        cancelled = cancel(ctx, backend, job)
        status = "CANCELLED" if cancelled else (watcher.last or "UNKNOWN")
        ctx.recorder.update_attempt(status=status, finished_at=now())
        ctx.recorder.record(status=status)
        if isinstance(exc, PollTimeout):
            raise TrainingFailed(
                str(exc.message)
                + ("; the remote job was cancelled" if cancelled else "; it may still be running"),
                hint=exc.hint,
            ) from exc
        raise
    ctx.live_job = None
    ctx.recorder.update_attempt(status=final.raw_status, message=final.message, finished_at=now())
    ctx.recorder.record(status=final.raw_status)
    return final


def _training_request(ctx: StageContext, batch_size: int) -> TrainingRequest:
    params = ctx.config.training.hyperparameters.model_dump(exclude_none=True)
    params["batch_size"] = batch_size
    return TrainingRequest(
        dataset_ids=[ref.id for ref in ctx.config.datasets],
        validation_split=ctx.config.training.validation_split,
        hyperparameters=params,
    )


def cancel(ctx: StageContext, backend: Backend, job: TrainingJob) -> bool:
    """Best effort: a failed cancel must not hide why the run ended."""
    try:
        accepted = backend.cancel_training(job)
    except FeatureUnavailable:
        accepted = False
    except CiTrainerError as exc:  # ApiError, or Interrupted from a retry sleep
        ctx.message("warning", f"could not cancel training {job.training_id}: {exc}")
        return False
    if accepted:
        ctx.reporter.info(f"cancelled training {job.training_id}")
    else:
        ctx.message(
            "warning",
            f"the service has no cancel endpoint; training {job.training_id} may keep running",
        )
    ctx.live_job = None
    return accepted


class _StatusWatcher:
    """Called with every status answer: one log line per status change, resource peaks."""

    def __init__(self, ctx: StageContext, training_id: str) -> None:
        self.ctx = ctx
        self.training_id = training_id
        # The peaks span every attempt of the run; this copy is the watcher's own.
        self.usage = ctx.recorder.snapshot().resources.model_copy()
        self.requests = 0
        self.last: str | None = None
        self.refused_wait = False

    def __call__(self, status: JobStatus) -> None:
        self.requests += 1
        if status.refused_wait_seconds is not None and not self.refused_wait:
            self.refused_wait = True  # once per job: the service tends to repeat itself
            self.ctx.message(
                "warning",
                f"the service asked to wait {status.refused_wait_seconds:.0f} s before the "
                f"next status poll of training {self.training_id} (Retry-After on a "
                f"{status.raw_status} status); ci-trainer waits at most "
                f"{status.wait_limit_seconds or 0:g} s between polls",
                title="Retry-After refused",
            )
        record_resources(self.usage, status)
        self.ctx.recorder.update_attempt(status_requests=self.requests)
        self.ctx.recorder.record(resources=self.usage.model_copy())
        if status.raw_status != self.last:
            self.last = status.raw_status
            progress = f" {status.progress:.0%}" if status.progress is not None else ""
            detail = f": {status.message}" if status.message else ""
            self.ctx.reporter.info(
                f"training {self.training_id}: {status.raw_status}{progress}{detail}"
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


def _failure_hint(state: JobState, retries: int) -> str:
    if state is JobState.CANCELLED:
        return "someone cancelled the job on the service; re-run when that was not intended"
    if retries == 0:
        return (
            "check the dataset on the service; to retry with a smaller batch size set "
            "training.retry_on_failure.attempts"
        )
    return "every attempt failed; check the dataset's integrity on the service"
