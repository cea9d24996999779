"""The training service itself, without HTTP: tokens, datasets, jobs, versions, promotion.

Every public method either returns a contract-shaped body or raises `Problem`. All state
lives behind one lock, so several pipelines may drive one emulator at once; training runs
on a small worker pool outside the lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_trainer.backends.cognigy_v1.emulator import jobs
from ci_trainer.backends.cognigy_v1.emulator.auth import Credentials, Grant, TokenIssuer
from ci_trainer.backends.cognigy_v1.emulator.jobs import Job, Timing, utc_now
from ci_trainer.backends.cognigy_v1.emulator.state import (
    EmulatorState,
    TrainingView,
    VersionView,
)
from ci_trainer.datasets import Dataset, load_dataset
from ci_trainer.emulator.faults import Fault
from ci_trainer.emulator.problem import Problem
from ci_trainer.emulator.requestlog import RequestLog, RequestRecord
from ci_trainer.emulator.training import (
    TrainedModel,
    TrainingCancelled,
    TrainingRejected,
    TrainingSpec,
    Usage,
    train,
)
from ci_trainer.errors import DatasetError

logger = logging.getLogger("ci_trainer.emulator")

EXTERNAL_CLIENT = "someone-else"


@dataclass(frozen=True)
class Version:
    version_id: str
    model_id: str
    training_id: str
    created_at: str
    model: TrainedModel
    metrics: dict[str, Any]  # contract-shaped, with versionId and trainingId
    spec: TrainingSpec | None = None  # its data and hyperparameters (kept between runs)


class DatasetStore:
    """Dataset id -> committed file; files are re-read when they change on disk."""

    def __init__(self, paths: Mapping[str, Path]) -> None:
        self.paths = dict(paths)
        self._cache: dict[str, tuple[tuple[int, int], Dataset]] = {}
        self._lock = threading.Lock()

    def __contains__(self, dataset_id: object) -> bool:
        return dataset_id in self.paths

    def load(self, dataset_id: str) -> Dataset:
        path = self.paths[dataset_id]
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(dataset_id)
            if cached and cached[0] == key:
                return cached[1]
        dataset = load_dataset(path)
        with self._lock:
            self._cache[dataset_id] = (key, dataset)
        return dataset


class Service:
    def __init__(
        self,
        datasets: DatasetStore,
        credentials: Credentials,
        timing: Timing,
        *,
        workers: int = 2,
    ) -> None:
        self.datasets = datasets
        self.timing = timing
        self._lock = threading.RLock()
        self.auth = TokenIssuer(credentials)
        self._jobs: dict[str, Job] = {}
        self._versions: dict[str, Version] = {}
        self._production: dict[str, tuple[str, str, str]] = {}  # model -> (version, env, at)
        self._idempotency: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._requests = RequestLog()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator-train")

    # -- auth (see auth.py) ----------------------------------------------------------------

    def issue_token(
        self, form: Mapping[str, str], expires_in: float | None = None
    ) -> dict[str, Any]:
        return self.auth.issue(form, expires_in)

    def authorize(self, authorization: str | None, scopes: tuple[str, ...]) -> Grant:
        return self.auth.authorize(authorization, scopes)

    def client_of(self, authorization: str | None) -> str | None:
        return self.auth.client_of(authorization)

    def issued_tokens(self) -> list[str]:
        return self.auth.issued_tokens()

    # -- datasets -----------------------------------------------------------------------

    def dataset_stats(self, dataset_id: str) -> dict[str, Any]:
        dataset = self._dataset(dataset_id)
        return {
            "datasetId": dataset_id,
            "intentDistribution": dict(sorted(dataset.intent_distribution.items())),
            "averageAnnotationScore": _round(dataset.average_annotation_score),
            "exampleCount": len(dataset.examples),
            "intentCount": len(dataset.intent_distribution),
        }

    def _dataset(self, dataset_id: str) -> Dataset:
        if dataset_id not in self.datasets:
            raise Problem(404, f"dataset {dataset_id!r} does not exist on this service")
        try:
            return self.datasets.load(dataset_id)
        except (DatasetError, OSError) as exc:
            raise Problem(500, f"dataset {dataset_id!r} is corrupted: {exc}") from None

    # -- training -----------------------------------------------------------------------

    def start_training(
        self,
        model_id: str,
        body: dict[str, Any],
        *,
        client_id: str,
        idempotency_key: str | None,
        fault: Fault | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """(202, started) for a new job; (200, started) when the key replays an earlier one."""
        unknown = [
            {"field": f"datasetIds[{i}]", "message": f"dataset {ds!r} does not exist"}
            for i, ds in enumerate(body["datasetIds"])
            if ds not in self.datasets
        ]
        if unknown:
            raise Problem(400, "unknown dataset id(s)", errors=unknown)
        fingerprint = json.dumps(body, sort_keys=True)
        with self._lock:
            replay = self._replay(client_id, model_id, idempotency_key, fingerprint)
            if replay is not None:
                return 200, self._started(replay)
            job = Job(
                training_id=f"trn-{uuid.uuid4().hex[:16]}",
                model_id=model_id,
                client_id=client_id,
                request=body,
                idempotency_key=idempotency_key,
                fault=fault,
            )
            self._jobs[job.training_id] = job
            if idempotency_key:
                key = (client_id, model_id, idempotency_key)
                self._idempotency[key] = (fingerprint, job.training_id)
            self._pool.submit(self._work, job)
            return 202, self._started(job)

    def _replay(self, client: str, model: str, key: str | None, fingerprint: str) -> Job | None:
        if not key:
            return None
        earlier = self._idempotency.get((client, model, key))
        if earlier is None:
            return None
        if earlier[0] != fingerprint:
            raise Problem(
                409,
                "this Idempotency-Key was used with a different request body; "
                "use a new key for a new training",
            )
        return self._jobs[earlier[1]]

    def _started(self, job: Job) -> dict[str, Any]:
        return {
            "trainingId": job.training_id,
            "modelId": job.model_id,
            "status": job.status,
            "createdAt": job.created_at,
        }

    def _work(self, job: Job) -> None:
        """Worker thread: the real training; the apparent timeline is derived on reads."""
        with self._lock:
            if job.status != jobs.QUEUED:
                return
            job.start(time.monotonic())
        try:
            job.spec = self._spec(job)
            outcome = train(
                job.spec,
                on_epoch=lambda done, total, usage: self._on_epoch(job, done, total, usage),
                cancelled=job.cancel_event.is_set,
            )
        except TrainingCancelled:
            return
        except (TrainingRejected, DatasetError, Problem) as exc:
            self._fail_now(job, f"training failed: {exc}")
            return
        except Exception as exc:  # our bug or a library error: the job fails, the server lives
            logger.exception("training %s crashed", job.training_id)
            self._fail_now(job, f"internal training error: {type(exc).__name__}")
            return
        with self._lock:
            if job.status == jobs.RUNNING:
                job.outcome = outcome
                job.compute_seconds = time.monotonic() - (job.started_clock or 0.0)
                self._advance(job, time.monotonic())

    def _spec(self, job: Job) -> TrainingSpec:
        texts: list[str] = []
        labels: list[str] = []
        for dataset_id in job.request["datasetIds"]:
            dataset = self._dataset(dataset_id)
            texts.extend(dataset.texts)
            labels.extend(dataset.labels)
        return TrainingSpec.from_request(
            texts, labels, float(job.request["validationSplit"]), job.request["hyperparameters"]
        )

    def _on_epoch(self, job: Job, done: int, total: int, usage: Usage) -> None:
        with self._lock:
            job.epochs_done, job.epochs_max, job.usage = done, total, usage
            job.touch()

    def _fail_now(self, job: Job, message: str) -> None:
        with self._lock:
            if job.status not in jobs.TERMINAL:
                job.finish(jobs.FAILED, message)

    def _advance(self, job: Job, now: float) -> None:
        """Apply the transition the clock has made due (call with the lock held)."""
        due = job.due(now, self.timing)
        if due == jobs.FAILED:
            message = job.fault.message if job.fault and job.fault.message else None
            job.finish(jobs.FAILED, message or jobs.DEFAULT_FAILURE)
        elif due == jobs.COMPLETED and job.outcome is not None:
            self._create_version(job, job.outcome.model, job.outcome.metrics)
            job.finish(jobs.COMPLETED)

    def _create_version(self, job: Job, model: TrainedModel, metrics: dict[str, Any]) -> None:
        version_id = self._next_version_id()
        history = job.outcome.history if job.outcome else []
        self._versions[version_id] = Version(
            version_id=version_id,
            model_id=job.model_id,
            training_id=job.training_id,
            created_at=utc_now(),
            model=model,
            metrics={
                "trainingId": job.training_id,
                "versionId": version_id,
                **metrics,
                "convergenceHistory": history,
            },
            spec=job.spec,
        )
        job.version_id = version_id

    def _next_version_id(self) -> str:
        number = len(self._versions) + 1
        while f"ver-{number:05d}" in self._versions:  # after a version kept from a past run
            number += 1
        return f"ver-{number:05d}"

    def _job(self, model_id: str, training_id: str) -> Job:
        job = self._jobs.get(training_id)
        if job is None or job.model_id != model_id:
            raise Problem(404, f"training {training_id!r} does not exist for model {model_id!r}")
        self._advance(job, time.monotonic())
        return job

    def training_status(self, model_id: str, training_id: str) -> dict[str, Any]:
        with self._lock:
            return self._status_body(self._job(model_id, training_id))

    def _status_body(self, job: Job) -> dict[str, Any]:
        body: dict[str, Any] = {
            "trainingId": job.training_id,
            "status": job.status,
            "progress": job.progress(time.monotonic(), self.timing),
            "message": job.message,
            "updatedAt": job.updated_at,
        }
        if job.usage is not None:
            body["resourceUtilization"] = {"cpu": job.usage.cpu, "memory": job.usage.memory}
        if job.started_at is not None:
            body["startedAt"] = job.started_at
        return body

    def training_metrics(self, model_id: str, training_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._job(model_id, training_id)
            if job.status != jobs.COMPLETED or job.version_id is None:
                raise Problem(
                    409,
                    f"training {training_id} is {job.status}; metrics exist once it is COMPLETED",
                )
            return dict(self._versions[job.version_id].metrics)

    def cancel_training(self, model_id: str, training_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._job(model_id, training_id)
            if job.status not in jobs.TERMINAL:
                job.cancel_event.set()
                job.finish(jobs.CANCELLED, "cancelled at the client's request")
            return self._status_body(job)

    # -- versions -----------------------------------------------------------------------

    def production_version(self, model_id: str) -> dict[str, Any]:
        with self._lock:
            current = self._production.get(model_id)
            if current is None:
                return {
                    "modelId": model_id,
                    "versionId": None,
                    "environment": "production",
                    "promotedAt": None,
                    "metrics": None,
                }
            version_id, environment, promoted_at = current
            return {
                "modelId": model_id,
                "versionId": version_id,
                "environment": environment,
                "promotedAt": promoted_at,
                "metrics": dict(self._versions[version_id].metrics),
            }

    def _version(self, model_id: str, version_id: str) -> Version:
        version = self._versions.get(version_id)
        if version is None or version.model_id != model_id:
            raise Problem(404, f"version {version_id!r} does not exist for model {model_id!r}")
        return version

    def predict(self, model_id: str, version_id: str, texts: list[str]) -> dict[str, Any]:
        with self._lock:
            version = self._version(model_id, version_id)
        predictions = version.model.predict(texts)
        return {
            "versionId": version_id,
            "predictions": [
                {"text": text, "intent": intent, "confidence": round(confidence, 6)}
                for text, (intent, confidence) in zip(texts, predictions, strict=True)
            ],
        }

    def promote(self, model_id: str, version_id: str, environment: str) -> dict[str, Any]:
        with self._lock:
            self._version(model_id, version_id)
            previous = self._production.get(model_id)
            promoted_at = utc_now()
            self._production[model_id] = (version_id, environment, promoted_at)
        return {
            "modelId": model_id,
            "versionId": version_id,
            "environment": environment,
            "promotedAt": promoted_at,
            "previousVersionId": previous[0] if previous else None,
        }

    def promote_externally(self, model_id: str) -> str | None:
        """Someone else trains a new version of `model_id` (its last request) and promotes it."""
        with self._lock:
            earlier = [job for job in self._jobs.values() if job.model_id == model_id]
            if not earlier:
                return None
            request = dict(earlier[-1].request)
        hyper = dict(request.get("hyperparameters", {}))
        hyper["seed"] = int(hyper.get("seed", 0)) + 7919  # a different colleague, a different run
        job = Job(
            training_id=f"trn-{uuid.uuid4().hex[:16]}",
            model_id=model_id,
            client_id=EXTERNAL_CLIENT,
            request={**request, "hyperparameters": hyper},
            idempotency_key=None,
            fault=None,
        )
        with self._lock:
            self._jobs[job.training_id] = job
        self._work(job)
        with self._lock:
            self._advance(job, time.monotonic() + 10 * 365 * 86400.0)  # skip any stretch
            if job.version_id is None:
                return None
        self.promote(model_id, job.version_id, "production")
        return job.version_id

    def adopt_production(
        self, model_id: str, version: Version, promoted_at: str, environment: str = "production"
    ) -> None:
        """Make a version trained outside a job (kept from an earlier run, or the merge
        base's baseline) the model's production version (`emulator_state.py`)."""
        with self._lock:
            self._versions[version.version_id] = version
            self._production[model_id] = (version.version_id, environment, promoted_at)

    def production_versions(self) -> dict[str, tuple[Version, str]]:
        """Model id -> its production version and when it was promoted."""
        with self._lock:
            return {
                model: (self._versions[entry[0]], entry[2])
                for model, entry in self._production.items()
            }

    # -- inspection -----------------------------------------------------------------------

    def record(self, entry: RequestRecord) -> None:
        self._requests.add(entry)

    def snapshot(self) -> EmulatorState:
        with self._lock:
            now = time.monotonic()
            for job in self._jobs.values():
                self._advance(job, now)
            return EmulatorState(
                trainings={job.training_id: self._view(job, now) for job in self._jobs.values()},
                versions={
                    v.version_id: VersionView(
                        v.version_id, v.model_id, v.training_id, v.created_at, dict(v.metrics)
                    )
                    for v in self._versions.values()
                },
                production={model: entry[0] for model, entry in self._production.items()},
                requests=self._requests.records(),
                issued_tokens=tuple(self.auth.issued_tokens()),
            )

    def _view(self, job: Job, now: float) -> TrainingView:
        return TrainingView(
            training_id=job.training_id,
            model_id=job.model_id,
            status=job.status,
            progress=job.progress(now, self.timing),
            message=job.message,
            client_id=job.client_id,
            idempotency_key=job.idempotency_key,
            request=json.loads(json.dumps(job.request)),
            version_id=job.version_id,
            epochs_run=job.outcome.epochs_run if job.outcome else job.epochs_done,
            compute_seconds=job.compute_seconds,
        )

    def set_production(self, model_id: str, version_id: str) -> None:
        """Move the production pointer directly (tests: "someone else promoted")."""
        with self._lock:
            self._version(model_id, version_id)
        self.promote(model_id, version_id, "production")

    def close(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancel_event.set()
        # Workers notice the cancel between epochs; stop() need not wait for them.
        self._pool.shutdown(wait=False, cancel_futures=True)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
