"""The stages of a run, in order, returning what they decided.

    load datasets -> data diff against the base -> access check -> service stats + dataset checks -> production version
    -> train (Idempotency-Key) -> wait -> [retry FAILED with a smaller batch] -> metrics
    -> thresholds -> champion/challenger on the holdout -> decision -> promote

Each stage runs inside `reporter.stage(...)` (a log group on Actions) and keeps what it
finds in the pipeline's `Recorder`. A decision the pipeline reaches (rejected, approved,
skipped, ...) is returned as a `Verdict`; anything that ends the run early (service
errors, a timeout, a cancelled run) is raised as a `CiTrainerError` for the lifecycle to
turn into a decision, which then reads `findings()` for everything gathered up to that
point. A remote job is cancelled on every exit path that leaves it running.

The pipeline knows nothing about GitHub, HTTP, webhooks or the audit log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from ci_trainer.backend_types import Target
from ci_trainer.backends.base import Backend
from ci_trainer.base_data import BaseRequest
from ci_trainer.config import LoadedConfig
from ci_trainer.decision import Decision
from ci_trainer.errors import TrainingFailed
from ci_trainer.pipeline.background import AccessInBackground
from ci_trainer.pipeline.base_stage import compare_with_base
from ci_trainer.pipeline.context import Ruling, StageContext
from ci_trainer.pipeline.dataset_stages import (
    check_access,
    check_datasets,
    fetch_service_stats,
    load_datasets,
)
from ci_trainer.pipeline.evaluation import evaluate, read_metrics
from ci_trainer.pipeline.findings import Findings, Verdict
from ci_trainer.pipeline.promotion import promote, read_production
from ci_trainer.pipeline.training import cancel, train
from ci_trainer.progress import Reporter
from ci_trainer.result import Mode, Provenance

NO_CREDENTIALS_NOTICE = (
    "{missing} not set, so this run only validated the config and datasets and did not "
    "train. Pull requests from forks get no secrets on GitHub Actions; training runs on "
    "pull requests from branches of this repository and on pushes."
)


class Pipeline:
    """One run of the stages against one backend (None: local validation only)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        backend: Backend | None,
        mode: Mode,
        run_uuid: str,
        reporter: Reporter,
        stop: threading.Event,
        provenance: Provenance | None = None,
        missing_credentials: Sequence[str] = (),
        base: BaseRequest | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_training_started: Callable[[], None] | None = None,
    ) -> None:
        """`missing_credentials` names the settings whose absence left `backend` None;
        `base` is what the data diff compares with (None: no diff);
        `on_training_started` is called once, when the first job is running (the
        process is idle from then on)."""
        self.backend = backend
        self._ctx = StageContext(
            loaded,
            mode=mode,
            run_uuid=run_uuid,
            reporter=reporter,
            stop=stop,
            provenance=provenance or Provenance(),
            clock=clock,
        )
        self._missing = list(missing_credentials)
        self._base = base
        self._on_training_started = on_training_started

    def run(self) -> Verdict:
        """Run every stage the mode calls for; the verdict holds the decision and findings."""
        ruling = self._decide()
        return Verdict(
            decision=ruling.decision,
            reason=ruling.reason,
            reasons=list(ruling.reasons),
            findings=self.findings(),
        )

    def findings(self) -> Findings:
        """What the stages found so far (safe to call from another thread at any time)."""
        return self._ctx.recorder.snapshot()

    def cancel_live_job(self) -> bool:
        """Cancel a job a stage left running (used by the lifecycle on unexpected errors)."""
        job, backend = self._ctx.live_job, self.backend
        if job is None or backend is None:
            return False
        return cancel(self._ctx, backend, job)

    def _decide(self) -> Ruling:
        ctx, backend = self._ctx, self.backend
        # The token exchange (the access check's request) runs while the datasets are
        # read, so the service is contacted at once; its outcome is judged in its stage.
        # Its log lines are held until its own stage (pipeline.background).
        access = AccessInBackground(backend.check_access) if backend else None
        try:
            data = load_datasets(ctx)
            compare_with_base(ctx, data, self._base)
            if backend is not None and access is not None:
                check_access(ctx, access)
                fetch_service_stats(ctx, backend, data)
        finally:
            if access is not None:  # a run that ended before its stage loses no line
                access.release()
        rejected = check_datasets(ctx, data)
        if rejected is not None:
            return rejected
        if backend is None:
            return self._without_service()
        if ctx.mode is Mode.VALIDATE:
            return Ruling(Decision.VALIDATED, "the config and datasets passed validation")
        target = self._target(backend)
        read_production(ctx, backend, target)
        job = train(ctx, backend, target, self._on_training_started)
        metrics = read_metrics(ctx, backend, job)
        training = [local for local in data.local.values() if local is not None]
        rules = evaluate(ctx, backend, target, metrics, data.holdout, training)
        from ci_trainer.gate import decide  # numpy loads late: see evaluate()

        outcome = decide(rules, self.findings().champion)
        if not outcome.passed:
            ctx.recorder.record(held=outcome.held)
            return Ruling(Decision.REJECTED, outcome.reason, tuple(outcome.reasons))
        if ctx.mode is Mode.PROMOTE:
            return promote(ctx, backend, target, outcome.reasons)
        return Ruling(Decision.APPROVED, outcome.reason, tuple(outcome.reasons))

    def _without_service(self) -> Ruling:
        """No training service: `validated`, or `skipped` when the mode meant to train
        and credentials are missing (pull requests from forks get no secrets)."""
        if not self._missing or self._ctx.mode is Mode.VALIDATE:
            return Ruling(Decision.VALIDATED, "the config and datasets passed validation")
        are = " are" if len(self._missing) > 1 else " is"
        text = NO_CREDENTIALS_NOTICE.format(missing=", ".join(self._missing) + are)
        self._ctx.message("notice", text, title="Training skipped")
        return Ruling(Decision.SKIPPED, "no credentials: validated the config and datasets only")

    def _target(self, backend: Backend) -> Target:
        targets = backend.targets()
        if not targets:
            msg = f"the {backend.name} backend offers nothing to train"
            raise TrainingFailed(msg)
        # The first target covers the whole run: v1's one model, or v2's combined target
        # over every flow x locale (the backend lists the members after it).
        target = targets[0]
        self._ctx.recorder.record(target=target.label)
        return target
