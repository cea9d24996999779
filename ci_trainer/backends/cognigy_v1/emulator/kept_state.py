"""What the v1 emulator of `run --emulator` keeps between runs, and its first champion.

At start: the model's production version kept by an earlier run is trained again from
its kept examples and put back in production; with none kept, a baseline trained from
the datasets committed at the merge base (`ci_trainer.emulator.merge_base`) is, so even
the first run compares a challenger with a champion. Both happen inside the embedded
emulator only. At the end, every production version is written back (a run in
`--mode promote` leaves its candidate there for the next run).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ci_trainer.backends.cognigy_v1.emulator.jobs import utc_now
from ci_trainer.backends.cognigy_v1.emulator.service import Service, Version
from ci_trainer.datasets import parse_dataset
from ci_trainer.emulator.merge_base import NoMergeBase, read_at_merge_base
from ci_trainer.emulator.state_folder import KeptExample, KeptVersion, StateFolder
from ci_trainer.emulator.training import TrainingRejected, TrainingSpec, train
from ci_trainer.errors import DatasetError, EmulatorStateError

if TYPE_CHECKING:
    from ci_trainer.config import LoadedConfig

logger = logging.getLogger("ci_trainer.emulator")

_CONTRACT_NAMES = {
    "batch_size": "batchSize",
    "learning_rate": "learningRate",
    "early_stopping_patience": "earlyStoppingPatience",
}


class KeptProduction:
    """The production versions of one embedded emulator, read from and written to its
    state folder; `notes` say where the champion came from (console and summary)."""

    def __init__(self, folder: StateFolder, model_id: str) -> None:
        self.folder = folder
        self.model_id = model_id
        self.state = folder.read()
        self.origins: dict[str, str] = {}
        self.notes: list[str] = []

    def prepare(self, service: Service, loaded: LoadedConfig) -> None:
        kept = self.state.production.get(self.model_id)
        if kept is not None:
            _adopt(service, self.model_id, kept)
            self.origins[kept.version_id] = kept.origin
            self.notes.append(
                f"emulator: production {kept.version_id} is {kept.origin}, kept in "
                f"{self.folder.path} ({self.folder.reset_hint})"
            )
            return
        self._baseline(service, loaded)

    def _baseline(self, service: Service, loaded: LoadedConfig) -> None:
        refs = [(ref.id, loaded.resolve(ref.path)) for ref in loaded.config.datasets if ref.path]
        try:
            base = read_at_merge_base(loaded.path.parent, [path for _, path in refs])
        except NoMergeBase as exc:
            self.notes.append(
                f"emulator: no baseline to compare with ({exc.message}); run once with "
                f"--mode promote and the next run compares against that model "
                f"(kept in {self.folder.path})"
            )
            return
        try:
            examples = [
                KeptExample(text=example.text, intent=example.intent)
                for _, path in refs
                if path in base.files
                for example in parse_dataset(base.files[path], str(path)).examples
            ]
        except DatasetError as exc:
            first = str(exc).splitlines()[0][:200]
            self.notes.append(f"emulator: no baseline: {base.short}'s data is unreadable ({first})")
            return
        if not examples:
            self.notes.append(
                f"emulator: no baseline to compare with: no dataset of this config is "
                f"committed at {base.short} (the merge base with {base.branch}); run once "
                f"with --mode promote and the next run compares against that model"
            )
            return
        origin = f"the emulator's baseline from commit {base.short}"
        kept = _kept_version(
            origin, _spec_of(loaded, examples), [ref_id for ref_id, _ in refs], utc_now()
        )
        try:
            _adopt(service, self.model_id, kept)
        except TrainingRejected as exc:
            self.notes.append(
                f"emulator: no baseline: {base.short}'s data cannot be trained ({exc})"
            )
            return
        self.origins[kept.version_id] = origin
        self.notes.append(
            f"emulator: production {kept.version_id} is {origin} (the datasets committed "
            f"at the merge base with {base.branch}), promoted in the emulator only"
        )

    def save(self, service: Service) -> None:
        """Write every production version that has its training data back. Never raises:
        it runs as the run's emulator stops, after the audit record; a folder that cannot
        be written is a warning."""
        try:
            self._save(service)
        except EmulatorStateError as exc:
            logger.warning("%s", exc)

    def _save(self, service: Service) -> None:
        production = dict(self.state.production)
        for model_id, (version, promoted_at) in service.production_versions().items():
            if version.spec is None:
                continue
            origin = self.origins.get(version.version_id, f"promoted by a run on {promoted_at}")
            production[model_id] = _kept_from(version, version.spec, origin, promoted_at)
        self.folder.write(self.state.model_copy(update={"production": production}))


def _spec_of(loaded: LoadedConfig, examples: Sequence[KeptExample]) -> TrainingSpec:
    """The config's training settings over the baseline's examples (today's settings:
    the comparison is about the data)."""
    training = loaded.config.training
    hyper = {
        _CONTRACT_NAMES.get(name, name): value
        for name, value in training.hyperparameters.model_dump().items()
        if value is not None
    }
    return TrainingSpec.from_request(
        [example.text for example in examples],
        [example.intent for example in examples],
        training.validation_split,
        hyper,
    )


def _hyperparameters(spec: TrainingSpec) -> dict[str, int | float]:
    return {
        "epochs": spec.epochs,
        "batchSize": spec.batch_size,
        "learningRate": spec.learning_rate,
        "dropout": spec.dropout,
        "earlyStoppingPatience": spec.patience,
        "seed": spec.seed,
    }


def _kept_version(
    origin: str, spec: TrainingSpec, dataset_ids: list[str], promoted_at: str
) -> KeptVersion:
    return KeptVersion(
        version_id="ver-00001",
        training_id=f"trn-{uuid.uuid4().hex[:16]}",
        created_at=promoted_at,
        promoted_at=promoted_at,
        origin=origin,
        dataset_ids=dataset_ids,
        validation_split=spec.validation_split,
        hyperparameters=_hyperparameters(spec),
        examples=[
            KeptExample(text=text, intent=intent)
            for text, intent in zip(spec.texts, spec.labels, strict=True)
        ],
    )


def _kept_from(version: Version, spec: TrainingSpec, origin: str, promoted_at: str) -> KeptVersion:
    kept = _kept_version(origin, spec, [], promoted_at)
    return kept.model_copy(
        update={
            "version_id": version.version_id,
            "training_id": version.training_id,
            "created_at": version.created_at,
        }
    )


def _adopt(service: Service, model_id: str, kept: KeptVersion) -> None:
    """Train the kept version again (seeded: the same model) and put it in production."""
    spec = TrainingSpec.from_request(
        [example.text for example in kept.examples],
        [example.intent for example in kept.examples],
        kept.validation_split,
        dict(kept.hyperparameters),
    )
    outcome = train(spec)
    metrics: dict[str, Any] = {
        "trainingId": kept.training_id,
        "versionId": kept.version_id,
        **outcome.metrics,
        "convergenceHistory": outcome.history,
    }
    version = Version(
        version_id=kept.version_id,
        model_id=model_id,
        training_id=kept.training_id,
        created_at=kept.created_at,
        model=outcome.model,
        metrics=metrics,
        spec=spec,
    )
    service.adopt_production(model_id, version, kept.promoted_at)
