"""`cognigy-v2`: Cognigy.AI REST API v2.0 behind the Backend interface.

What the pipeline sees, and how it maps onto v2 (docs/cognigy-v2.md):

- Targets: one per flow x locale. With several, `targets()` offers one combined Target
  first that fans out: intents imports run one after another, then the trainings run
  with at most `max_parallel` Tasks live at once, and the job is COMPLETED only when
  every Task is `done`. The combined metrics are the weakest target's (min F1, min
  accuracy), and every intent score is named `<target>: <intent>`, so a gate that
  passes passes for every flow and locale; `EvalMetrics.targets` keeps each member's
  own figures, so the summary can show which one is weak. Each Target is also usable
  on its own.
- Training: optionally `intents/import` of the committed file (mode from the config, a
  Task), then `intents/train` with `mode: full` (a Task). Task states
  queued/active/done/cancelling/cancelled/error map onto `JobState`; `failReason` becomes
  the message; cancel is `tasks/{id}/cancel`.
- Metrics: the flow's `feedbackReport` (fScore, accuracy when sent) and the intents
  list's per-intent fScore. Precision and recall are None: the service has none. The
  Intent Analyzer's findings (poorFScore, fewSentences, strongOverlap, ...) are kept in
  `findings` for the run's messages.
- Predictions: `projects/{projectId}/nlu/scores`, one request per utterance, within the
  client's request budget. A version id is `<projectId>:<what>`; the candidate is scored
  in the project it was trained in, production in the promotion target project.
- Promotion: a snapshot, as steps: (evict the oldest ci-trainer snapshot when at the
  10-snapshot limit and allowed) -> create (Task) -> find its id by name -> package
  (Task) -> [download -> evict in target -> upload (Task) -> find by name -> restore
  (Task)] when a target project is configured -> [re-point the configured endpoint
  at the snapshot (`PATCH /endpoints/{id}`)]. The endpoint is looked up before anything
  is created, so a wrong id changes nothing. Every step lands in `Promotion.steps`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_trainer.backend_types import (
    AccessCheck,
    Capabilities,
    CombinedFigure,
    DatasetStats,
    EvalMetrics,
    IntentScore,
    JobState,
    JobStatus,
    ModelVersion,
    Prediction,
    Promotion,
    PromotionStep,
    Target,
    TargetScore,
    TrainingJob,
    TrainingRequest,
)
from ci_trainer.backends.base import ExtensionUnavailable
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.errors import ApiError, CiTrainerError, ContractError, Interrupted, TrainingFailed
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.redact import Redactor

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig
    from ci_trainer.result import Provenance

COMBINED_TARGET_ID = "all-targets"
SNAPSHOT_LIMIT = 10
_STATES = {
    "queued": JobState.QUEUED,
    "active": JobState.RUNNING,
    "cancelling": JobState.RUNNING,  # not final: the cancel may still be refused
    "done": JobState.COMPLETED,
    "cancelled": JobState.CANCELLED,
    "error": JobState.FAILED,
}


@dataclass(frozen=True)
class V2Target:
    """One flow x locale and the committed intents file that is its source of truth."""

    flow_id: str
    locale_id: str
    intents_file: Path | None = None

    @property
    def id(self) -> str:
        return f"{self.flow_id}/{self.locale_id}"


@dataclass(frozen=True)
class V2Options:
    project_id: str
    targets: tuple[V2Target, ...]
    import_mode: str | None = "overwrite"  # None: train on what the tenant holds
    train_mode: str = "full"
    max_parallel: int = 2
    holdout_target: int = 0  # index into `targets` the holdout set belongs to
    snapshot_name: str = "ci-trainer"
    snapshot_prefix: str = "ci-trainer-"  # only snapshots named so may be evicted
    target_project_id: str | None = None
    restore: bool = True
    delete_oldest_snapshot: bool = False
    endpoint_id: str | None = None  # re-pointed at the promoted snapshot when set
    task_poll_seconds: float = 2.0
    task_timeout_seconds: float = 900.0


@dataclass(frozen=True)
class Finding:
    """One Intent Analyzer finding, located at its target (and intent)."""

    target: str
    type: str
    intent: str | None = None
    detail: str | None = None

    @property
    def text(self) -> str:
        where = f"{self.target}: intent {self.intent}" if self.intent else self.target
        return f"{where}: {self.type}" + (f" ({self.detail})" if self.detail else "")


# Findings worth a warning; the "good"/"fair" bands are informational.
WARNING_FINDINGS = frozenset(
    {
        "poorAccuracy",
        "poorFScore",
        "fewSentences",
        "strongOverlap",
        "unclearIntent",
        "lowDataIntents",
    }
)


@dataclass
class _Run:
    """A started training: its Tasks, the targets not yet started, and what ended."""

    targets: list[V2Target]
    pending: list[V2Target]
    live: dict[str, Task] = field(default_factory=dict)  # target id -> latest task
    final: dict[str, Task] = field(default_factory=dict)


class CognigyV2Backend:
    """The Backend for Cognigy.AI REST API v2.0."""

    name = "cognigy-v2"

    def __init__(
        self,
        client: CognigyV2Client,
        options: V2Options,
        *,
        stop: threading.Event | None = None,
        wait: Callable[[float], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not options.targets:
            msg = "cognigy-v2 needs at least one flow x locale target"
            raise ValueError(msg)
        self.client = client
        self.options = options
        self._stop = stop or threading.Event()
        self._wait = wait or self._stop.wait
        self._clock = clock
        self._runs: dict[str, _Run] = {}
        self._references: dict[str, tuple[str, str]] = {}  # target id -> (flow ref, locale ref)
        self._names: dict[str, str] = {}  # target id -> "Flow/locale"
        self.findings: list[Finding] = []
        self.import_tasks: dict[str, str] = {}  # target id -> the import Task's id
        self.snapshot_ids: dict[str, str] = {}  # project id -> snapshot id (promotion)
        self._promotion: Promotion | None = None

    # ------------------------------------------------------------------ targets

    def capabilities(self) -> Capabilities:
        return Capabilities(
            cancel=True,
            production=self.options.target_project_id is not None,
            predict=True,
            per_intent=True,
            precision_recall=False,
            predict_batch_limit=1,
        )

    def target_list(self) -> list[Target]:
        return [Target(id=t.id, label=self._label(t)) for t in self.options.targets]

    def targets(self) -> list[Target]:
        singles = self.target_list()
        if len(singles) == 1:
            return singles
        combined = Target(
            id=COMBINED_TARGET_ID,
            label=f"{len(singles)} flow x locale targets: " + ", ".join(t.label for t in singles),
        )
        return [combined, *singles]

    def _label(self, target: V2Target) -> str:
        return self._names.get(target.id, f"flow {target.flow_id} / locale {target.locale_id}")

    def _members(self, target: Target) -> list[V2Target]:
        if target.id == COMBINED_TARGET_ID:
            return list(self.options.targets)
        for spec in self.options.targets:
            if spec.id == target.id:
                return [spec]
        msg = f"unknown target {target.id}"
        raise ValueError(msg)

    # ------------------------------------------------------------------ access

    def check_access(self) -> AccessCheck:
        """Read the project, its locales and every target flow: wrong ids fail here."""
        project_id = self.options.project_id
        self.client.read_project(project_id)
        locales = {loc["_id"]: loc for loc in self.client.list_locales(project_id)}
        for spec in self.options.targets:
            locale = locales.get(spec.locale_id)
            if locale is None:
                raise ApiError(
                    call="indexLocales",
                    message_text=f"locale {spec.locale_id} is not a locale of project {project_id}",
                    hint_text="fix cognigy_v2.targets[].locales (locale _ids, 24 hex characters); "
                    f"the project has {', '.join(sorted(locales)) or 'none'}",
                )
            flow = self.client.read_flow(spec.flow_id, spec.locale_id)
            flow_ref, locale_ref = flow.get("referenceId"), locale.get("referenceId")
            if not isinstance(flow_ref, str) or not isinstance(locale_ref, str):
                raise ContractError(
                    call="readFlow",
                    message_text="the flow or locale has no referenceId (needed by nlu/scores)",
                    hint_text="quote this to support",
                )
            self._references[spec.id] = (flow_ref, locale_ref)
            self._names[spec.id] = (
                f"{flow.get('name', spec.flow_id)}/{locale.get('name', spec.locale_id)}"
            )
        if self.options.target_project_id:
            self.client.read_project(self.options.target_project_id)
        return AccessCheck()  # v2 has no scopes: the key acts as its user

    def dataset_stats(self, dataset_id: str) -> DatasetStats:
        # Sentences are a sub-resource per intent: counting them costs a request per
        # intent, so the service/git comparison is left to the committed files.
        msg = "cognigy-v2 has no dataset statistics endpoint"
        raise ExtensionUnavailable(msg)

    # ------------------------------------------------------------------ production

    def production_version(self, target: Target) -> ModelVersion | None:
        """The newest ci-trainer snapshot in the promotion target project, if any."""
        project = self.options.target_project_id
        if project is None:
            msg = "no cognigy_v2.promotion.target_project_id"
            raise ExtensionUnavailable(msg)
        ours = self._ci_snapshots(project)
        if not ours:
            return None
        newest = ours[-1]
        return ModelVersion(
            version_id=f"{project}:{newest['name']}",
            promoted_at=_timestamp(newest.get("createdAt")),
        )

    # ------------------------------------------------------------------ training

    def training_payload(self, target: Target, request: TrainingRequest) -> dict[str, Any]:
        """The import and train calls `start_training` makes, one per member in order."""
        calls: list[dict[str, Any]] = []
        for spec in self._members(target):
            where = {"flowId": spec.flow_id, "localeId": spec.locale_id}
            if self.options.import_mode is not None and spec.intents_file is not None:
                calls.append(
                    {
                        "operation": "importIntents",
                        **where,
                        "mode": self.options.import_mode,
                        "file": spec.intents_file.name,
                    }
                )
            calls.append({"operation": "trainIntents", **where, "mode": self.options.train_mode})
        return {"calls": calls}

    def start_training(
        self, target: Target, request: TrainingRequest, idempotency_key: str
    ) -> TrainingJob:
        """Import each member's intents file (when configured), then start the trainings.

        v2 has no idempotency keys and no hyperparameters: `request` is not sent.
        """
        members = self._members(target)
        if self.options.import_mode is not None:
            for spec in members:
                self._import(spec)
        run = _Run(targets=members, pending=list(members))
        self._fill(run)
        first = next(iter(run.live.values()))
        job_id = first.id if len(members) == 1 else f"run-{first.id}"
        self._runs[job_id] = run
        return TrainingJob(
            target=target,
            training_id=job_id,
            idempotency_key=idempotency_key,
            started_at=datetime.now(timezone.utc),
        )

    def _import(self, spec: V2Target) -> None:
        if spec.intents_file is None:
            return
        content = spec.intents_file.read_bytes()
        task = self.client.import_intents(
            spec.flow_id,
            spec.locale_id,
            spec.intents_file.name,
            content,
            self.options.import_mode or "overwrite",
        )
        self.import_tasks[spec.id] = task.id
        final = self._wait_task(
            task, f"importing {spec.intents_file.name} into {self._label(spec)}"
        )
        if final.status != "done":
            raise TrainingFailed(
                f"importing {spec.intents_file.name} into {self._label(spec)} ended "
                f"{final.status}" + (f": {final.fail_reason}" if final.fail_reason else ""),
                hint="check the intents file's format (Cognigy JSON export or 3-column CSV)",
            )

    def _fill(self, run: _Run) -> None:
        """Start pending trainings while fewer than `max_parallel` are live."""
        while run.pending and len(run.live) < max(1, self.options.max_parallel):
            spec = run.pending.pop(0)
            run.live[spec.id] = self.client.train_intents(
                spec.flow_id, spec.locale_id, self.options.train_mode
            )

    def training_status(self, job: TrainingJob) -> JobStatus:
        run = self._run(job)
        for target_id, task in list(run.live.items()):
            latest = self.client.read_task(task.id, self.options.project_id)
            if latest.terminal:
                run.final[target_id] = latest
                del run.live[target_id]
            else:
                run.live[target_id] = latest
        failed = {tid: t for tid, t in run.final.items() if t.status != "done"}
        if failed:
            self._cancel_live(run)
            return self._failed_status(run, failed)
        if not run.live and not run.pending:
            return JobStatus(
                state=JobState.COMPLETED,
                raw_status="done",
                progress=1.0,
                message=self._task_summary(run),
            )
        self._fill(run)
        return self._running_status(run)

    def _task_summary(self, run: _Run) -> str:
        """Which Task trained (and imported) each target: the audit record keeps it."""
        parts = []
        for spec in run.targets:
            task = run.final.get(spec.id)
            text = f"{self._label(spec)}: train task {task.id if task else '?'}"
            if spec.id in self.import_tasks:
                text += f", import task {self.import_tasks[spec.id]}"
            parts.append(text)
        return "; ".join(parts)

    def _failed_status(self, run: _Run, failed: dict[str, Task]) -> JobStatus:
        states = {t.status for t in failed.values()}
        state = JobState.FAILED if "error" in states else JobState.CANCELLED
        names = {spec.id: self._label(spec) for spec in run.targets}
        message = "; ".join(
            f"{names.get(tid, tid)}: {task.status}"
            + (f" ({task.fail_reason})" if task.fail_reason else "")
            for tid, task in sorted(failed.items())
        )
        return JobStatus(
            state=state,
            raw_status="error" if state is JobState.FAILED else "cancelled",
            message=message,
        )

    def _running_status(self, run: _Run) -> JobStatus:
        total = len(run.targets)
        progress = sum(1.0 for _ in run.final)
        progress += sum(task.progress or 0.0 for task in run.live.values())
        raw = "active" if any(t.status == "active" for t in run.live.values()) else "queued"
        if any(t.status == "cancelling" for t in run.live.values()):
            raw = "cancelling"
        return JobStatus(
            state=_STATES[raw],
            raw_status=raw,
            progress=progress / total if total else None,
            message=f"{len(run.final)} of {total} targets done" if total > 1 else None,
        )

    def cancel_training(self, job: TrainingJob) -> bool:
        self._cancel_live(self._run(job))
        return True

    def _cancel_live(self, run: _Run) -> None:
        run.pending.clear()
        for task in run.live.values():
            try:
                self.client.cancel_task(task.id)
            except ApiError:
                continue  # best effort; the pipeline reports why the run ended

    def _run(self, job: TrainingJob) -> _Run:
        run = self._runs.get(job.training_id)
        if run is None:
            msg = f"training {job.training_id} was not started by this backend"
            raise ValueError(msg)
        return run

    # ------------------------------------------------------------------ metrics

    def training_metrics(self, job: TrainingJob) -> EvalMetrics:
        run = self._run(job)
        self.findings = []  # the findings describe the metrics read last
        per_target = [self._target_metrics(spec) for spec in run.targets]
        project = self.options.project_id
        if len(per_target) == 1:
            return per_target[0].model_copy(update={"version_id": f"{project}:{job.training_id}"})
        prefixed = [
            score.model_copy(update={"intent": f"{self._label(spec)}: {score.intent}"})
            for spec, metrics in zip(run.targets, per_target, strict=True)
            for score in metrics.per_intent
        ]
        lowest: dict[CombinedFigure, float | None] = {
            "f1": _lowest(m.f1 for m in per_target),
            "accuracy": _lowest(m.accuracy for m in per_target),
            "macro_f1": _lowest(m.macro_f1 for m in per_target),
        }
        return EvalMetrics(
            version_id=f"{project}:{job.training_id}",
            f1=lowest["f1"],
            accuracy=lowest["accuracy"],
            macro_f1=lowest["macro_f1"],
            per_intent=prefixed,
            targets=[
                self._target_score(spec, metrics, lowest)
                for spec, metrics in zip(run.targets, per_target, strict=True)
            ],
        )

    def _target_score(
        self, spec: V2Target, metrics: EvalMetrics, lowest: dict[CombinedFigure, float | None]
    ) -> TargetScore:
        """A member's own figures, and which of the combined (lowest) figures are its."""
        return TargetScore(
            id=spec.id,
            label=self._label(spec),
            f1=metrics.f1,
            accuracy=metrics.accuracy,
            macro_f1=metrics.macro_f1,
            intent_count=len(metrics.per_intent),
            sets_combined=[
                name
                for name, value in lowest.items()
                if value is not None and getattr(metrics, name) == value
            ],
        )

    def _target_metrics(self, spec: V2Target) -> EvalMetrics:
        label = self._label(spec)
        flow = self.client.read_flow(spec.flow_id, spec.locale_id)
        report = flow.get("feedbackReport")
        if not isinstance(report, dict) or not isinstance(report.get("info"), dict):
            raise ContractError(
                call="readFlow",
                message_text=f"{label}: the flow has no feedbackReport after training",
                hint_text="the Intent Analyzer report is missing; re-run the training",
            )
        info = report["info"]
        self._collect_findings(label, None, report)
        per_intent: list[IntentScore] = []
        for intent in self.client.list_intents(spec.flow_id, spec.locale_id):
            name = str(intent.get("name", intent["_id"]))
            intent_report = intent.get("feedbackReport")
            if not isinstance(intent_report, dict):
                continue  # disabled or untrained intents have no report
            score = _fraction(intent_report.get("info", {}).get("fScore"))
            self._collect_findings(label, name, intent_report)
            per_intent.append(IntentScore(intent=name, f1=score))
        scored = [s.f1 for s in per_intent if s.f1 is not None]
        return EvalMetrics(
            version_id=f"{self.options.project_id}:{spec.id}",
            f1=_fraction(info.get("fScore")),
            accuracy=_fraction(info.get("accuracy")),
            macro_f1=round(sum(scored) / len(scored), 6) if scored else None,
            per_intent=sorted(per_intent, key=lambda s: s.intent),
        )

    def _collect_findings(self, label: str, intent: str | None, report: dict[str, Any]) -> None:
        findings = report.get("findings")
        if not isinstance(findings, list):
            return
        for item in findings:
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(kind, str):
                continue
            detail = None
            if "overlappingIntentName" in item:
                detail = f"overlaps {item['overlappingIntentName']}"
            elif isinstance(item.get("intents"), list):
                names = [str(i.get("intentName")) for i in item["intents"] if isinstance(i, dict)]
                detail = ", ".join(names[:10])
            self.findings.append(Finding(target=label, type=kind, intent=intent, detail=detail))

    def warnings(self) -> list[str]:
        """The findings a user should act on, one sentence each."""
        return [f.text for f in self.findings if f.type in WARNING_FINDINGS]

    # ------------------------------------------------------------------ predictions

    def predict(self, target: Target, version_id: str, texts: Sequence[str]) -> list[Prediction]:
        """Top intent per text through `nlu/scores` (one request per text)."""
        members = self._members(target)
        spec = members[min(self.options.holdout_target, len(members) - 1)]
        project = version_id.split(":", 1)[0] or self.options.project_id
        if spec.id not in self._references:
            self.check_access()
        flow_ref, locale_ref = self._references[spec.id]
        predictions: list[Prediction] = []
        for text in texts:
            scores = self.client.nlu_scores(project, text, flow_ref, locale_ref)
            top = scores[0] if scores else None
            predictions.append(
                Prediction(intent=top.name if top else None, confidence=top.score if top else None)
            )
        return predictions

    # ------------------------------------------------------------------ promotion

    def promote(self, target: Target, version_id: str, environment: str) -> Promotion:
        """Snapshot the project (once per run, whatever the target) and carry it over."""
        if self._promotion is not None:
            return self._promotion
        steps: list[PromotionStep] = []
        try:
            promoted = self._promote(steps, environment)
        except CiTrainerError as exc:
            steps.append(PromotionStep(name="error", status="failed", detail=str(exc)))
            self._promotion = Promotion(
                version_id=version_id, environment=environment, promoted=False, steps=steps
            )
            if isinstance(exc, Interrupted):
                raise
            return self._promotion
        self._promotion = promoted
        return promoted

    def _promote(self, steps: list[PromotionStep], environment: str) -> Promotion:
        # A wrong endpoint id fails before any snapshot exists: nothing half-promoted.
        endpoint = self._check_endpoint(steps) if self.options.endpoint_id else None
        snapshot_id = self._snapshot_and_carry(steps, environment)
        if endpoint is not None:
            self._repoint_endpoint(endpoint, snapshot_id, steps)
        return Promotion(
            version_id=snapshot_id, environment=environment, promoted=True, steps=steps
        )

    def _snapshot_and_carry(self, steps: list[PromotionStep], environment: str) -> str:
        """Snapshot the project, and carry it to the target project when there is one.

        Returns the id of the snapshot that is now promoted (in the endpoint's project).
        """
        source = self.options.project_id
        name = self.options.snapshot_name
        self._make_room(source, steps)
        task = self.client.create_snapshot(source, name, f"ci-trainer promotion to {environment}")
        self._step(steps, "create snapshot", self._wait_task(task, "creating the snapshot"), name)
        snapshot_id = self._find_snapshot(source, name)
        self.snapshot_ids[source] = snapshot_id
        steps.append(
            PromotionStep(name="find snapshot", status="done", id=snapshot_id, detail=name)
        )
        task = self.client.package_snapshot(snapshot_id)
        self._step(
            steps, "package snapshot", self._wait_task(task, "packaging the snapshot"), snapshot_id
        )
        target_project = self.options.target_project_id
        if target_project is None:
            return snapshot_id
        package = self.client.download_snapshot(snapshot_id)
        steps.append(
            PromotionStep(
                name="download package",
                status="done",
                id=snapshot_id,
                detail=f"{len(package)} bytes",
            )
        )
        self._make_room(target_project, steps)
        task = self.client.upload_snapshot(target_project, f"{name}.csnap", package)
        self._step(
            steps,
            "upload to target project",
            self._wait_task(task, "uploading the snapshot"),
            target_project,
        )
        uploaded = self._find_snapshot(target_project, name)
        self.snapshot_ids[target_project] = uploaded
        steps.append(
            PromotionStep(
                name="find uploaded snapshot",
                status="done",
                id=uploaded,
                detail=f"project {target_project}",
            )
        )
        if self.options.restore:
            task = self.client.restore_snapshot(uploaded, target_project)
            self._step(
                steps,
                "restore in target project",
                self._wait_task(task, "restoring the snapshot"),
                uploaded,
            )
        return uploaded

    def _endpoint_project(self) -> str:
        return self.options.target_project_id or self.options.project_id

    def _find_endpoint(self, project_id: str, endpoint_id: str) -> dict[str, Any] | None:
        # Config ids may be upper-case hex; Cognigy's are lower-case.
        for endpoint in self.client.list_endpoints(project_id):
            if str(endpoint.get("_id", "")).lower() == endpoint_id.lower():
                return endpoint
        return None

    def _check_endpoint(self, steps: list[PromotionStep]) -> dict[str, Any]:
        """The configured endpoint, read before promoting; a missing one fails here."""
        endpoint_id = str(self.options.endpoint_id)
        project_id = self._endpoint_project()
        endpoint = self._find_endpoint(project_id, endpoint_id)
        if endpoint is None:
            steps.append(
                PromotionStep(
                    name="check endpoint",
                    status="failed",
                    id=endpoint_id,
                    detail=f"not an endpoint of project {project_id}",
                )
            )
            msg = f"endpoint {endpoint_id} is not an endpoint of project {project_id}"
            raise TrainingFailed(
                msg,
                hint="fix cognigy_v2.promotion.endpoint_id: the _id from the endpoint's URL in "
                "Cognigy, of an endpoint in the promotion target project (or in project_id "
                "when there is no target_project_id)",
            )
        steps.append(
            PromotionStep(
                name="check endpoint",
                status="done",
                id=endpoint_id,
                detail=f"{endpoint.get('name', '?')}"
                + (f": entrypoint {endpoint['entrypoint']}" if endpoint.get("entrypoint") else ""),
            )
        )
        return endpoint

    def _served_references(self, endpoint: dict[str, Any]) -> tuple[str, str]:
        """The flow and locale (referenceIds) the endpoint is to serve: its own when set
        (referenceIds survive snapshots), else the first target's."""
        flow_ref, locale_ref = endpoint.get("flowId"), endpoint.get("localeId")
        if isinstance(flow_ref, str) and flow_ref and isinstance(locale_ref, str) and locale_ref:
            return flow_ref, locale_ref
        first = self.options.targets[0]
        if first.id not in self._references:
            self.check_access()
        default_flow, default_locale = self._references[first.id]
        return (
            flow_ref if isinstance(flow_ref, str) and flow_ref else default_flow,
            locale_ref if isinstance(locale_ref, str) and locale_ref else default_locale,
        )

    def _repoint_endpoint(
        self, endpoint: dict[str, Any], snapshot_id: str, steps: list[PromotionStep]
    ) -> None:
        endpoint_id = str(endpoint["_id"])
        flow_ref, locale_ref = self._served_references(endpoint)
        changes = {"entrypoint": snapshot_id, "flowId": flow_ref, "localeId": locale_ref}
        detail = f"entrypoint {snapshot_id}, flow {flow_ref}, locale {locale_ref}"
        try:
            self.client.update_endpoint(endpoint_id, changes)
            after = self._find_endpoint(self._endpoint_project(), endpoint_id)
        except ApiError:
            steps.append(
                PromotionStep(
                    name="re-point endpoint", status="failed", id=endpoint_id, detail=detail
                )
            )
            raise
        # The list may not carry `entrypoint` (unconfirmed); a different value is an error.
        served = after.get("entrypoint") if after is not None else None
        if after is None or (served is not None and served != snapshot_id):
            steps.append(
                PromotionStep(
                    name="re-point endpoint", status="failed", id=endpoint_id, detail=detail
                )
            )
            raise ContractError(
                call="updateEndpoint",
                message_text=f"endpoint {endpoint_id} does not serve snapshot {snapshot_id} "
                f"after the update (it serves {served})",
                hint_text="check the endpoint in Cognigy; quote this to support",
            )
        steps.append(
            PromotionStep(name="re-point endpoint", status="done", id=endpoint_id, detail=detail)
        )

    def _step(self, steps: list[PromotionStep], name: str, task: Task, subject: str) -> None:
        status = "done" if task.status == "done" else "failed"
        detail = f"task {task.id} {task.status}" + (
            f": {task.fail_reason}" if task.fail_reason else ""
        )
        steps.append(PromotionStep(name=name, status=status, id=subject, detail=detail))
        if status != "done":
            raise TrainingFailed(
                f"{name} ended {task.status}"
                + (f": {task.fail_reason}" if task.fail_reason else "")
            )

    def _ci_snapshots(self, project_id: str) -> list[dict[str, Any]]:
        prefix = self.options.snapshot_prefix
        ours = [
            s
            for s in self.client.list_snapshots(project_id)
            if str(s.get("name", "")).startswith(prefix)
        ]
        return sorted(ours, key=lambda s: _sort_key(s.get("createdAt")))

    def _make_room(self, project_id: str, steps: list[PromotionStep]) -> None:
        snapshots = self.client.list_snapshots(project_id)
        if len(snapshots) < SNAPSHOT_LIMIT:
            return
        ours = self._ci_snapshots(project_id)
        if not self.options.delete_oldest_snapshot or not ours:
            steps.append(
                PromotionStep(
                    name="snapshot limit",
                    status="failed",
                    id=project_id,
                    detail=f"{len(snapshots)} snapshots",
                )
            )
            msg = f"project {project_id} already has {len(snapshots)} snapshots (the limit is {SNAPSHOT_LIMIT})"
            raise TrainingFailed(
                msg,
                hint="delete one in Cognigy, or set cognigy_v2.promotion.delete_oldest_snapshot: true "
                "to let ci-trainer delete its own oldest snapshot",
            )
        oldest = ours[0]
        self.client.delete_snapshot(oldest["_id"])
        steps.append(
            PromotionStep(
                name="delete oldest ci-trainer snapshot",
                status="done",
                id=oldest["_id"],
                detail=str(oldest.get("name")),
            )
        )

    def _find_snapshot(self, project_id: str, name: str) -> str:
        matches = [s for s in self.client.list_snapshots(project_id) if s.get("name") == name]
        if not matches:
            raise ContractError(
                call="indexSnapshots",
                message_text=f"no snapshot named {name} in project {project_id} after its task was done",
                hint_text="quote the task id to support",
            )
        # A retried create can leave two with one name: the newest is ours.
        return str(sorted(matches, key=lambda s: _sort_key(s.get("createdAt")))[-1]["_id"])

    # ------------------------------------------------------------------ tasks

    def _wait_task(self, task: Task, what: str) -> Task:
        """Poll a Task until it is final; cancel it and fail at the timeout."""
        deadline = self._clock() + self.options.task_timeout_seconds
        while not task.terminal:
            if self._clock() >= deadline:
                self._cancel_quietly(task)
                msg = f"{what} did not finish within {self.options.task_timeout_seconds:g} s"
                raise TrainingFailed(
                    msg,
                    hint="raise cognigy_v2.task_timeout_seconds if the tenant is slow",
                )
            if self._wait(self.options.task_poll_seconds):
                self._cancel_quietly(task)
                msg = f"cancelled while {what}"
                raise Interrupted(msg, hint="the runner asked the job to stop")
            task = self.client.read_task(task.id, self.options.project_id)
        return task

    def _cancel_quietly(self, task: Task) -> None:
        try:
            self.client.cancel_task(task.id)
        except ApiError:
            return

    def close(self) -> None:
        self.client.close()


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _lowest(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _sort_key(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def _timestamp(value: object) -> datetime | None:
    key = _sort_key(value)
    return datetime.fromtimestamp(key, timezone.utc) if key else None


def run_label(provenance: Provenance, now: datetime | None = None) -> str:
    """The snapshot name's run part: commit and CI run when known, else the UTC time."""
    if provenance.commit and provenance.run_id:
        return f"{provenance.commit[:8]}-{provenance.run_id}-{provenance.run_attempt or '1'}"
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")


def options_from_config(loaded: LoadedConfig, run_label: str) -> V2Options:
    """The backend options for a loaded config with a `cognigy_v2` section.

    Each target's `dataset` names a `datasets` entry; its path is the intents file.
    """
    config = loaded.config
    section = config.cognigy_v2
    if section is None:
        msg = "backend cognigy-v2 needs a cognigy_v2 section (the config model checks this)"
        raise ValueError(msg)
    paths = {ref.id: ref.path for ref in config.datasets}
    targets = tuple(
        V2Target(
            flow_id=target.flow_id,
            locale_id=locale,
            intents_file=loaded.resolve(path) if (path := paths.get(target.dataset)) else None,
        )
        for target in section.targets
        for locale in target.locales
    )
    promotion = section.promotion
    return V2Options(
        project_id=section.project_id,
        targets=targets,
        import_mode=None if section.import_mode == "none" else section.import_mode,
        max_parallel=section.max_parallel,
        holdout_target=section.holdout_target,
        snapshot_name=f"{promotion.snapshot_prefix}{run_label}"[:60],
        snapshot_prefix=promotion.snapshot_prefix,
        target_project_id=promotion.target_project_id,
        restore=promotion.restore,
        delete_oldest_snapshot=promotion.delete_oldest_snapshot,
        endpoint_id=promotion.endpoint_id,
        # Import and snapshot Tasks are short: poll them at the configured floor, but at
        # least every 2 s (the pace of Cognigy's own CLI).
        task_poll_seconds=min(config.training.poll_interval_floor_seconds, 2.0),
        task_timeout_seconds=section.task_timeout_minutes * 60.0,
    )


def backend_from_config(
    loaded: LoadedConfig,
    *,
    api_key: str,
    base_url: str | None,
    redactor: Redactor,
    run_label: str,
    wait: Callable[[float], bool] | None = None,
    stop: threading.Event | None = None,
    policy: RetryPolicy | None = None,
) -> CognigyV2Backend:
    """The v2 backend of a run. `base_url` (COGNIGY_BASE_URL) overrides the config's.

    As for v1, the client's waits wake on `wait`'s event but the client is not stopped
    by it, so the cancel of a remote Task still goes out after a SIGTERM.
    """
    section = loaded.config.cognigy_v2
    if section is None:
        msg = "backend cognigy-v2 needs a cognigy_v2 section (the config model checks this)"
        raise ValueError(msg)
    budget = RequestBudget(
        window_limit=section.max_requests_per_window,
        run_limit=section.max_requests_per_run,
        wait=wait,
    )
    client = CognigyV2Client(
        base_url or section.base_url,
        api_key,
        redactor=redactor,
        policy=policy,
        requests=budget,
        wait=wait,
    )
    return CognigyV2Backend(client, options_from_config(loaded, run_label), stop=stop, wait=wait)
