"""`cognigy-v2`: Cognigy.AI REST API v2.0 behind the Backend interface.

What the pipeline sees, and how it maps onto v2 (docs/cognigy-v2.md):

- Targets: one per flow x locale. With several, `targets()` offers one combined Target
  first that fans out: intents imports run one after another, then the trainings run
  with at most `max_parallel` Tasks live at once, and the job is COMPLETED only when
  every Task is `done`. The combined metrics are the weakest target's (min F1, min
  accuracy), and every intent score is named `<target>: <intent>`, so a gate that
  passes passes for every flow and locale; `EvalMetrics.targets` keeps each member's
  own figures, so the summary can show which one is weak. Each Target is also usable
  on its own. (Targets and options: `options.py`.)
- Training (`training.py`): optionally `intents/import` of the committed file (mode from the config, a
  Task), then `intents/train` with `mode: full` (a Task). Task states
  queued/active/done/cancelling/cancelled/error map onto `JobState`; `failReason` becomes
  the message; cancel is `tasks/{id}/cancel`. Import and snapshot Tasks are waited
  for in `tasks.py`, through the one poll loop of `ci_trainer.polling`.
- Metrics (`metrics.py`): the flow's `feedbackReport` (fScore, accuracy when sent) and the intents
  list's per-intent fScore. Precision and recall are None: the service has none. The
  Intent Analyzer's findings (poorFScore, fewSentences, strongOverlap, ...) are kept in
  `findings` for the run's messages.
- Predictions: `projects/{projectId}/nlu/scores`, one request per utterance, within the
  client's request budget. A version id is `<projectId>:<what>`; the candidate is scored
  in the project it was trained in, production in the promotion target project. Both
  are held to the holdout flow's intent threshold as read in the source project
  (`threshold.py`): that flow's settings travel in the snapshot, so they are what
  production runs with once the candidate is promoted, and one rule for both keeps the
  comparison about the models.
- Promotion (`promotion.py`, `snapshots.py`, `endpoint.py`): a snapshot, in steps. The
  endpoint is read by id before anything is created, so a wrong id changes nothing; at
  the 10-snapshot limit the oldest ci-trainer snapshot that no endpoint serves is
  deleted and its delete Task waited for; create (Task) -> find by name -> package
  (Task) -> [download -> upload (Task) -> find by name, within a bound -> restore
  (Task)] when a target project is configured -> [check the flow in the snapshot's
  resources -> re-point the endpoint -> read it back]. `promoted` rests on that
  read-back. A write whose answer was lost is looked up, never repeated blindly
  (`writes.py`). Every step lands in `Promotion.steps`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_trainer.backend_types import (
    AccessCheck,
    DatasetStats,
    EvalMetrics,
    JobStatus,
    ModelVersion,
    Prediction,
    Promotion,
    Target,
    TrainingJob,
    TrainingRequest,
)
from ci_trainer.backends.cognigy_v2.auth import ClientSecret
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.intents_export import IntentsExports
from ci_trainer.backends.cognigy_v2.metrics import Finding, IntentAnalyzer
from ci_trainer.backends.cognigy_v2.options import (
    COMBINED_TARGET_ID,
    V2Options,
    V2Target,
    config_error,
    options_from_config,
    v2_section,
)
from ci_trainer.backends.cognigy_v2.promotion import SnapshotPromotion
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.threshold import (
    SETTING,
    IntentThreshold,
    parse_intent_threshold,
    prediction,
)
from ci_trainer.backends.cognigy_v2.training import TrainingFanOut
from ci_trainer.errors import ApiError, ContractError, FeatureUnavailable
from ci_trainer.http.base_url import BaseUrlError
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.http.service_text import service_text
from ci_trainer.redact import Redactor, one_line

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig


class CognigyV2Backend:
    """The Backend for Cognigy.AI REST API v2.0: targets and access here; training,
    metrics and promotion in their own modules."""

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
        stop = stop or threading.Event()
        tasks = TaskWaits(client, options, wait=wait or stop.wait, clock=clock)
        self._references: dict[str, tuple[str, str]] = {}  # target id -> (flow ref, locale ref)
        self._names: dict[str, str] = {}  # target id -> "Flow/locale"
        self._thresholds: dict[str, IntentThreshold | None] = {}  # flow _id -> its threshold
        self._out_of_date: dict[str, bool | None] = {}  # target id -> as the flow said
        self.exports = IntentsExports(client, tasks, options.artifact_dir, self._label)
        self._training = TrainingFanOut(client, options, tasks, self._label, self.exports)
        self._analyzer = IntentAnalyzer(client, options, self._label)
        self._promotion = SnapshotPromotion(client, options, tasks, self._reference)

    @property
    def findings(self) -> list[Finding]:
        """The Intent Analyzer's findings about the metrics read last."""
        return self._analyzer.findings

    @property
    def import_tasks(self) -> dict[str, str]:
        """Target id -> the id of the Task that imported its intents file."""
        return self._training.import_tasks

    @property
    def snapshot_ids(self) -> dict[str, str]:
        """Project id -> the id of the snapshot promotion made there."""
        return self._promotion.snapshot_ids

    # ------------------------------------------------------------------ targets

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
                    hint_text="fix cognigy_v2.targets[].locales (locale _ids: 24 lower-case "
                    f"letters and digits); the project has {', '.join(sorted(locales)) or 'none'}",
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
            out_of_date = flow.get("isTrainingOutOfDate")
            self._out_of_date[spec.id] = out_of_date if isinstance(out_of_date, bool) else None
            self._names[spec.id] = (
                f"{_name(flow.get('name'), spec.flow_id)}/{_name(locale.get('name'), spec.locale_id)}"
            )
        if self.options.target_project_id:
            self.client.read_project(self.options.target_project_id)
        # v2 has no scopes: the key (or the OAuth2 client) acts as its user.
        return AccessCheck(notices=[*self.client.notices, *self._threshold_notices()])

    def _threshold_notices(self) -> list[str]:
        """Read the holdout flow's threshold now (a malformed one fails before training)
        and say when holdout predictions will be raw scores."""
        if not self.options.apply_intent_threshold:
            return [
                f"holdout predictions are the raw nlu/scores top intents ({SETTING}: false); "
                "the live bot maps a top score below the flow's intent threshold to no intent"
            ]
        targets = self.options.targets
        spec = targets[min(self.options.holdout_target, len(targets) - 1)]
        if self._threshold(spec) is None:
            return [
                f"flow {spec.flow_id}'s settings carry no intentThreshold: holdout predictions "
                "are the raw nlu/scores top intents"
            ]
        return []

    def _threshold(self, spec: V2Target) -> IntentThreshold | None:
        """The flow's intent threshold, read once per run (None when not applied)."""
        if not self.options.apply_intent_threshold:
            return None
        if spec.flow_id not in self._thresholds:
            settings = self.client.read_flow_settings(spec.flow_id)
            self._thresholds[spec.flow_id] = parse_intent_threshold(spec.flow_id, settings)
        return self._thresholds[spec.flow_id]

    def dataset_stats(self, dataset_id: str) -> DatasetStats:
        """The dataset as each flow x locale that trains it holds it: its intents export
        (C9), kept as a run artifact before anything is imported."""
        members = [t for t in self.options.targets if t.dataset_id == dataset_id and t.intents_file]
        if not members:
            msg = "no cognigy_v2 target trains this dataset, so nothing was exported"
            raise FeatureUnavailable(msg)
        copies = []
        for spec in members:
            try:
                export = self.exports.export(spec)
            except (ApiError, ContractError, OSError) as exc:
                if self.options.import_mode == "overwrite":
                    raise  # no overwrite import without its backup (C10)
                msg = f"the intents export of {self._label(spec)} failed ({exc}); not compared"
                raise FeatureUnavailable(msg) from exc
            copies.append(export.copy(self._out_of_date.get(spec.id)))
        first = copies[0].sentences
        return DatasetStats(
            dataset_id=dataset_id,
            example_count=sum(len(texts) for texts in first.values()),
            intent_count=len(first),
            intent_distribution={name: len(texts) for name, texts in first.items()},
            copies=copies,
        )

    def _reference(self, spec: V2Target) -> tuple[str, str]:
        """The (flow, locale) referenceIds of a target, read with the access check."""
        if spec.id not in self._references:
            self.check_access()
        return self._references[spec.id]

    # ------------------------------------------------------------------ production

    def production_version(self, target: Target) -> ModelVersion | None:
        """The newest ci-trainer snapshot in the promotion target project, if any."""
        return self._promotion.production_version()

    # ------------------------------------------------------------------ training

    def training_payload(self, target: Target, request: TrainingRequest) -> dict[str, Any]:
        """The import and train calls `start_training` makes, one per member in order."""
        return self._training.payload(self._members(target))

    def start_training(
        self, target: Target, request: TrainingRequest, idempotency_key: str
    ) -> TrainingJob:
        """Import each member's intents file (when configured), then start the trainings.

        v2 has no idempotency keys and no hyperparameters: `request` is not sent.
        """
        return self._training.start(target, self._members(target), idempotency_key)

    def training_status(self, job: TrainingJob) -> JobStatus:
        return self._training.status(job)

    def cancel_training(self, job: TrainingJob) -> bool:
        self._training.cancel(job)
        return True

    # ------------------------------------------------------------------ metrics

    def training_metrics(self, job: TrainingJob) -> EvalMetrics:
        return self._analyzer.metrics(self._training.run(job).targets, job.training_id)

    def warnings(self) -> list[str]:
        """The findings a user should act on, one sentence each."""
        return self._analyzer.warnings()

    # ------------------------------------------------------------------ predictions

    def predict(self, target: Target, version_id: str, texts: Sequence[str]) -> list[Prediction]:
        """Top intent per text through `nlu/scores` (one request per text), no intent
        when the top score is below the flow's intent threshold (the source project's,
        for either version)."""
        members = self._members(target)
        spec = members[min(self.options.holdout_target, len(members) - 1)]
        project = version_id.split(":", 1)[0] or self.options.project_id
        flow_ref, locale_ref = self._reference(spec)
        threshold = self._threshold(spec)
        return [
            prediction(self.client.nlu_scores(project, text, flow_ref, locale_ref), threshold)
            for text in texts
        ]

    # ------------------------------------------------------------------ promotion

    def promote(self, target: Target, version_id: str, environment: str) -> Promotion:
        """Snapshot the project (once per run, whatever the target) and carry it over."""
        return self._promotion.promote(version_id, environment)

    def close(self) -> None:
        self.client.close()


# A flow or locale name labels every figure, step and message of its target.
NAME_LIMIT = 80


def _name(value: object, fallback: str) -> str:
    """A name the service gave, one short line (the id when there is none)."""
    if not isinstance(value, str) or not value.strip():
        return fallback
    return service_text(one_line(value), limit=NAME_LIMIT)


def backend_from_config(
    loaded: LoadedConfig,
    *,
    api_key: str | None,
    base_url: str | None,
    redactor: Redactor,
    client: ClientSecret | None = None,
    run_label: str,
    wait: Callable[[float], bool] | None = None,
    stop: threading.Event | None = None,
    policy: RetryPolicy | None = None,
    artifact_dir: Path | None = None,
) -> CognigyV2Backend:
    """The v2 backend of a run; its intents exports are kept in `artifact_dir`. `base_url` (COGNIGY_BASE_URL) overrides the config's;
    `api_key` or `client` (OAuth2 client credentials, C8) authenticate it.

    As for v1, the client's waits wake on `wait`'s event but the client is not stopped
    by it, so the cancel of a remote Task still goes out after a SIGTERM. A config the
    backend cannot use raises a located `ConfigError`.
    """
    section = v2_section(loaded)
    options = options_from_config(loaded, run_label, artifact_dir)
    budget = RequestBudget(
        window_limit=section.max_requests_per_window,
        run_limit=section.max_requests_per_run,
        # The run's retry allowance is the policy's, as for a client that builds its own.
        retry_limit=(policy or RetryPolicy()).run_retry_budget,
        wait=wait,
    )
    try:
        api = CognigyV2Client(
            base_url or section.base_url,
            api_key,
            redactor=redactor,
            client=client,
            base_url_setting="COGNIGY_BASE_URL (action input base-url)"
            if base_url
            else "cognigy_v2.base_url",
            policy=policy,
            requests=budget,
            wait=wait,
        )
    except BaseUrlError as exc:
        if base_url:
            raise  # COGNIGY_BASE_URL is the environment's mistake, not the file's
        raise config_error(
            loaded, ("cognigy_v2", "base_url"), exc.message, exc.hint or ""
        ) from None
    return CognigyV2Backend(api, options, stop=stop, wait=wait)
