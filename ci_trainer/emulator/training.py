"""The emulator's real classifier: TF-IDF word and char n-grams into a linear SGD model.

scikit-learn is imported inside the functions that need it, so importing the emulator
(and `ci-trainer run`) stays fast; the first training pays the import.

How the contract's hyperparameters are honoured:
- `validationSplit`: a stratified, seeded split per intent (an intent with 2+ examples
  always keeps at least one on each side).
- `epochs`: at most this many passes; one `partial_fit` over the shuffled training set per
  epoch (per-batch calls cost ~0.5 ms per intent each, far too slow for 77 intents).
- `batchSize`, `learningRate`: SGDClassifier steps per example, so a mean-gradient
  mini-batch step of `learningRate` over `batchSize` examples becomes a per-example step of
  `learningRate * LR_SCALE / batchSize`; LR_SCALE maps the contract's Adam-style rates
  (0.001) onto rates a linear model on TF-IDF features learns with.
- `dropout`: input-feature dropout; each epoch zeroes that fraction of each example's
  features (inverted scaling keeps the expected value).
- `earlyStoppingPatience`: stop after this many epochs without a better validation F1;
  the best epoch's weights are kept.
- `seed`: seeds the split, the shuffling, the dropout masks and the model.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_SEED = 1234
LR_SCALE = 3200.0
_L2_ALPHA = 1e-5
_MIN_IMPROVEMENT = 1e-4
_PARALLEL_FROM_EXAMPLES = 2000


class TrainingCancelled(Exception):
    """Raised inside the worker when the job was cancelled between epochs."""


class TrainingRejected(Exception):
    """The data cannot be trained on (the job ends FAILED with this message)."""


@dataclass(frozen=True)
class TrainingSpec:
    texts: Sequence[str]
    labels: Sequence[str]
    validation_split: float = 0.2
    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 0.001
    dropout: float = 0.3
    patience: int = 5
    seed: int = DEFAULT_SEED

    @classmethod
    def from_request(
        cls, texts: Sequence[str], labels: Sequence[str], split: float, hp: dict[str, Any]
    ) -> TrainingSpec:
        return cls(
            texts=texts,
            labels=labels,
            validation_split=split,
            epochs=int(hp.get("epochs", 50)),
            batch_size=int(hp.get("batchSize", 32)),
            learning_rate=float(hp.get("learningRate", 0.001)),
            dropout=float(hp.get("dropout", 0.3)),
            patience=int(hp.get("earlyStoppingPatience", 5)),
            seed=int(hp.get("seed", DEFAULT_SEED)),
        )


@dataclass(frozen=True)
class Usage:
    """The emulator process's share of the machine's CPUs and memory, in percent."""

    cpu: float
    memory: float


class UsageMeter:
    """Measures process CPU use between two readings (every thread: the one-vs-rest fits
    of a large training run in helper threads), and peak process memory."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._cpu = time.process_time()
        self._cores = os.cpu_count() or 1

    def read(self) -> Usage:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = max(wall - self._wall, 1e-6)
        percent = (cpu - self._cpu) / elapsed / self._cores * 100.0
        self._wall, self._cpu = wall, cpu
        return Usage(
            cpu=round(min(100.0, max(0.0, percent)), 1), memory=round(_memory_percent(), 2)
        )


def _memory_percent() -> float:
    try:
        import resource  # POSIX only; elsewhere memory is reported as 0
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux and bytes on macOS.
    peak_bytes = peak if sys.platform == "darwin" else peak * 1024
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0.0
    return 100.0 * peak_bytes / total if total > 0 else 0.0


@dataclass
class TrainedModel:
    """A fitted vectoriser and classifier; `predict` gives top intent and confidence."""

    vectorizer: Any
    classifier: Any

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        features = self.vectorizer.transform(list(texts))
        proba = self.classifier.predict_proba(features)
        best = np.argmax(proba, axis=1)
        classes = self.classifier.classes_
        return [
            (str(classes[i]), float(np.clip(proba[row, i], 0.0, 1.0))) for row, i in enumerate(best)
        ]


@dataclass
class TrainingOutcome:
    model: TrainedModel
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_run: int = 0


EpochCallback = Callable[[int, int, Usage], None]


def train(
    spec: TrainingSpec,
    *,
    on_epoch: EpochCallback | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> TrainingOutcome:
    """Train on `spec`; checks `cancelled` between epochs.

    After each epoch, `on_epoch(done, expected, usage)`: `expected` is the number of epochs
    the run will have if no later epoch improves (what progress is measured against).
    """
    labels = np.asarray(spec.labels)
    if len(set(spec.labels)) < 2:
        msg = "training needs at least two intents with examples"
        raise TrainingRejected(msg)
    rng = np.random.default_rng(spec.seed)
    train_idx, val_idx = stratified_split(labels, spec.validation_split, rng)
    if not len(val_idx):
        msg = "the validation split is empty: intents need at least two examples each"
        raise TrainingRejected(msg)
    vectorizer = _vectorizer()
    try:
        x_train = vectorizer.fit_transform([spec.texts[i] for i in train_idx])
    except ValueError:  # scikit-learn's "empty vocabulary"
        msg = "the examples yield no usable words or character n-grams (too few or too short)"
        raise TrainingRejected(msg) from None
    x_val = vectorizer.transform([spec.texts[i] for i in val_idx])
    y_train, y_val = labels[train_idx], labels[val_idx]
    classifier = _classifier(spec)
    classes = np.unique(labels)
    loop = _EpochLoop(spec, rng, classifier, classes, on_epoch, cancelled)
    history = loop.run(x_train, y_train, x_val, y_val)
    model = TrainedModel(vectorizer=vectorizer, classifier=loop.best_classifier)
    predicted = model.classifier.predict(x_val)
    return TrainingOutcome(
        model=model,
        metrics=evaluation_metrics(y_val, predicted),
        history=history,
        epochs_run=len(history),
    )


def stratified_split(
    labels: np.ndarray[Any, Any], fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Indices for training and validation; each intent contributes `fraction` to validation."""
    train_parts: list[np.ndarray[Any, Any]] = []
    val_parts: list[np.ndarray[Any, Any]] = []
    for intent in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == intent)
        rng.shuffle(members)
        n_val = round(len(members) * fraction)
        n_val = min(max(n_val, 1), len(members) - 1) if len(members) >= 2 else 0
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts))


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )


def _classifier(spec: TrainingSpec) -> Any:
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(
        # modified_huber: robust like a hinge loss, and still gives probabilities for predict.
        loss="modified_huber",
        alpha=_L2_ALPHA,
        learning_rate="constant",
        eta0=spec.learning_rate * LR_SCALE / spec.batch_size,
        shuffle=False,
        random_state=spec.seed,
        # One-vs-rest fits release the GIL: two threads nearly halve a large training.
        n_jobs=2 if len(spec.texts) >= _PARALLEL_FROM_EXAMPLES else None,
    )


class _EpochLoop:
    """Runs the epochs with dropout, records convergence, and keeps the best weights."""

    def __init__(
        self,
        spec: TrainingSpec,
        rng: np.random.Generator,
        classifier: Any,
        classes: np.ndarray[Any, Any],
        on_epoch: EpochCallback | None,
        cancelled: Callable[[], bool],
    ) -> None:
        self.spec, self.rng, self.classifier, self.classes = spec, rng, classifier, classes
        self.on_epoch, self.cancelled = on_epoch, cancelled
        self.best_classifier: Any = classifier
        self.meter = UsageMeter()

    def run(self, x_train: Any, y_train: Any, x_val: Any, y_val: Any) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = []
        best_f1, stale = -1.0, 0
        for epoch in range(1, self.spec.epochs + 1):
            if self.cancelled():
                raise TrainingCancelled
            order = self.rng.permutation(x_train.shape[0])
            self.classifier.partial_fit(
                self._dropped(x_train[order]), y_train[order], classes=self.classes
            )
            val_f1 = self._validation_f1(x_val, y_val)
            history.append(
                {
                    "epoch": epoch,
                    "trainLoss": round(_modified_huber_loss(self.classifier, x_train, y_train), 6),
                    "validationF1": round(val_f1, 6),
                }
            )
            if val_f1 > best_f1 + _MIN_IMPROVEMENT:
                best_f1, stale = val_f1, 0
                self.best_classifier = copy.deepcopy(self.classifier)
            else:
                stale += 1
            if self.on_epoch is not None:
                # Epochs still expected: early stopping ends the run after `patience`
                # epochs without improvement, usually long before `epochs`.
                expected = epoch + min(self.spec.epochs - epoch, self.spec.patience - stale)
                self.on_epoch(epoch, expected, self.meter.read())
            if stale >= self.spec.patience:
                break
        return history

    def _dropped(self, features: Any) -> Any:
        rate = self.spec.dropout
        if rate <= 0.0:
            return features
        dropped = features.copy()
        keep = self.rng.random(dropped.data.shape[0]) >= rate
        dropped.data = dropped.data * keep / (1.0 - rate)
        return dropped

    def _validation_f1(self, x_val: Any, y_val: Any) -> float:
        return weighted_f1(y_val, self.classifier.predict(x_val))


def _modified_huber_loss(classifier: Any, features: Any, labels: Any) -> float:
    """Mean one-vs-rest modified Huber loss: the objective the classifier minimises."""
    scores = classifier.decision_function(features)
    if scores.ndim == 1:  # two classes: one score, positive for classes_[1]
        targets = np.where(labels == classifier.classes_[1], 1.0, -1.0)
        margins = targets * scores
    else:
        targets = np.where(labels[:, None] == classifier.classes_[None, :], 1.0, -1.0)
        margins = targets * scores
    losses = np.where(margins >= -1.0, np.square(np.maximum(0.0, 1.0 - margins)), -4.0 * margins)
    return float(np.mean(losses))


def weighted_f1(truth: Any, predicted: Any) -> float:
    """Support-weighted F1 over the true intents (sklearn's "weighted"), in plain numpy:
    it runs every epoch, where sklearn's argument checks cost more than the sums."""
    labels, encoded = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    true_ids, pred_ids = encoded[: len(truth)], encoded[len(truth) :]
    size = len(labels)
    hits = np.bincount(true_ids[true_ids == pred_ids], minlength=size).astype(float)
    support = np.bincount(true_ids, minlength=size).astype(float)
    predicted_count = np.bincount(pred_ids, minlength=size).astype(float)
    denominator = support + predicted_count
    f1 = np.divide(2.0 * hits, denominator, out=np.zeros(size), where=denominator > 0)
    return float(np.sum(f1 * support) / max(np.sum(support), 1.0))


def evaluation_metrics(truth: Any, predicted: Any) -> dict[str, Any]:
    """Weighted and macro precision/recall/F1, accuracy and per-intent scores."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    def averaged(kind: str) -> dict[str, float]:
        p, r, f, _ = precision_recall_fscore_support(
            truth, predicted, average=kind, zero_division=0
        )
        return {"precision": _fraction(p), "recall": _fraction(r), "f1": _fraction(f)}

    labels = sorted(set(truth.tolist()) | set(predicted.tolist()))
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    weighted = averaged("weighted")
    return {
        "f1Score": weighted["f1"],
        "precision": weighted["precision"],
        "recall": weighted["recall"],
        "accuracy": _fraction(accuracy_score(truth, predicted)),
        "macro": averaged("macro"),
        "perIntent": {
            label: {
                "precision": _fraction(p[i]),
                "recall": _fraction(r[i]),
                "f1": _fraction(f[i]),
                "support": int(s[i]),
            }
            for i, label in enumerate(labels)
        },
    }


def _fraction(value: Any) -> float:
    return round(float(min(1.0, max(0.0, float(value)))), 6)


def preload() -> None:
    """Import scikit-learn ahead of the first training (about a second on a cold start)."""
    import sklearn.feature_extraction.text
    import sklearn.linear_model
    import sklearn.metrics
    import sklearn.pipeline  # noqa: F401
