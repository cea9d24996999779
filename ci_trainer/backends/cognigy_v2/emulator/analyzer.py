"""The v2 emulator's Intent Analyzer: flow and intent reports (F-score bands, few
sentences, overlaps) computed from a trained model's validation split, and the scores of
one sentence for `nlu/scores`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ci_trainer.backends.cognigy_v2.emulator.model import Flow
from ci_trainer.emulator.training import TrainedModel, TrainingSpec, stratified_split

FEW_SENTENCES = 5  # fewer gives the `fewSentences` finding (Cognigy's red indicator)
GOOD, FAIR = 0.8, 0.6  # traffic-light bands of the Intent Analyzer
STRONG_OVERLAP, SOME_OVERLAP = 0.3, 0.15  # share of an intent's validation sentences


def all_scores(model: TrainedModel, sentence: str) -> list[tuple[str, float]]:
    """Every intent's score for `sentence`, best first.

    The classifier's probabilities sum to 1, so even a sentence of words it never saw
    would score at least 1/intents for some intent. Cognigy's scores do not work that
    way (an unknown sentence scores low for every intent, which is what its thresholds
    are for), so each probability is scaled by the share of the sentence's words the
    model knows: the ranking stays the classifier's, and off-topic text falls below a
    threshold as on a tenant.
    """
    proba = model.classifier.predict_proba(model.vectorizer.transform([sentence]))[0]
    classes = [str(c) for c in model.classifier.classes_]
    known = _known_share(model, sentence)
    return sorted(
        (
            (name, round(float(np.clip(p * known, 0.0, 1.0)), 6))
            for name, p in zip(classes, proba, strict=True)
        ),
        key=lambda pair: -pair[1],
    )


def _known_share(model: TrainedModel, sentence: str) -> float:
    """The share of the sentence's words in the model's word vocabulary (1.0 when the
    vectoriser has no word part to ask)."""
    words = dict(getattr(model.vectorizer, "transformer_list", [])).get("words")
    vocabulary = getattr(words, "vocabulary_", None)
    if words is None or vocabulary is None:
        return 1.0
    tokens = words.build_tokenizer()(sentence.lower())
    if not tokens:
        return 0.0
    return sum(token in vocabulary for token in tokens) / len(tokens)


def _band(value: float, good: str, fair: str, poor: str) -> str:
    return good if value > GOOD else fair if value >= FAIR else poor


def feedback(
    flow: Flow, spec: TrainingSpec, model: TrainedModel, metrics: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The Intent Analyzer's flow and intent reports, from the validation split."""
    labels = np.asarray(spec.labels)
    _, val_idx = stratified_split(labels, spec.validation_split, np.random.default_rng(spec.seed))
    val_texts = [spec.texts[i] for i in val_idx]
    predicted = [name for name, _ in model.predict(val_texts)] if val_texts else []
    confusion: dict[str, Counter[str]] = {}
    for truth, guess in zip(labels[val_idx].tolist(), predicted, strict=True):
        confusion.setdefault(truth, Counter())[guess] += 1
    counts = Counter(spec.labels)
    intent_reports = {
        name: _intent_report(flow, name, metrics, confusion.get(name, Counter()), counts[name])
        for name in sorted(counts)
    }
    few = [name for name in sorted(counts) if counts[name] < FEW_SENTENCES]
    accuracy = float(metrics["accuracy"])
    findings: list[dict[str, Any]] = [
        {"type": _band(accuracy, "goodAccuracy", "fairAccuracy", "poorAccuracy")}
    ]
    if few:
        findings.append(
            {
                "type": "lowDataIntents",
                "intents": [
                    {
                        "intentReferenceId": flow.intents[n].reference_id,
                        "intentName": n,
                        "intentId": flow.intents[n].id,
                        "flowId": flow.id,
                        "flowName": flow.name,
                    }
                    for n in few
                    if n in flow.intents
                ],
            }
        )
    flow_report = {
        "findings": findings,
        "info": {"fScore": float(metrics["f1Score"]), "accuracy": accuracy},
    }
    return flow_report, intent_reports


def _intent_report(
    flow: Flow, name: str, metrics: dict[str, Any], confused: Counter[str], count: int
) -> dict[str, Any]:
    per = metrics["perIntent"].get(name, {})
    f_score = float(per.get("f1", 0.0))
    findings: list[dict[str, Any]] = [
        {"type": _band(f_score, "goodFScore", "fairFScore", "poorFScore")}
    ]
    if count < FEW_SENTENCES:
        findings.append({"type": "fewSentences"})
    total = sum(confused.values())
    wrong = [(other, n) for other, n in confused.most_common() if other != name]
    if total and wrong:
        other, n = wrong[0]
        share = n / total
        if share >= SOME_OVERLAP:
            target = flow.intents.get(other)
            findings.append(
                {
                    "type": "strongOverlap" if share >= STRONG_OVERLAP else "someOverlap",
                    "overlappingIntentReferenceId": target.reference_id if target else "Reject",
                    "overlappingIntentName": other,
                    "overlappingIntentId": target.id if target else None,
                    "overlappingFlowName": flow.name,
                    "overlappingFlowId": flow.id,
                }
            )
    return {"findings": findings, "info": {"fScore": f_score}}
