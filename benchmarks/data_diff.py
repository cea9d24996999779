"""The whole step summary at scale: 1,000 intents, every one changed in the data diff,
flipped on the holdout and measured per intent.

A temporary git repository holds a generated YAML dataset (and a holdout) on main, and a
pull request's commit on a branch that changes every intent: examples added and removed,
one example moved to the next intent, and every tenth intent renamed. Measured, best of
`--repeat`:

- read: `read_base` (git finds the merge base and reads both files at it, then parses them);
- compare: the per-intent comparison of the dataset and the holdout (`compare_files`);
- holdout: `holdout_changes` of one outcome per holdout utterance (2 per intent): the
  first of each intent lost by the candidate to the next intent, the second gained from
  production's mistake, so every intent has flips and two confusions that changed;
- render: `render_summary` of the RunResult a run would hold: that diff, those holdout
  changes, the champion/challenger comparison with a recall test per intent, and the
  service's metrics per intent for both models; its size against GitHub's 1 MiB, and
  each section's size.

    python benchmarks/data_diff.py [--intents 1000] [--examples 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from ci_trainer.backend_types import EvalMetrics, IntentScore
from ci_trainer.base_data import base_request, read_base
from ci_trainer.config import load_config
from ci_trainer.data_diff import compare_files
from ci_trainer.data_diff_types import DataDiff
from ci_trainer.datasets import Dataset, load_dataset
from ci_trainer.decision import Decision
from ci_trainer.holdout_changes import holdout_changes
from ci_trainer.holdout_types import HoldoutChanges, HoldoutOutcome
from ci_trainer.report import SUMMARY_LIMIT_BYTES, render_summary
from ci_trainer.report.summary import summary_sections
from ci_trainer.result import ChampionComparison, IntentChange, Mode, ProductionInfo, RunResult

T = TypeVar("T")
CONFIG = """\
version: 1
model: {id: bench}
datasets:
  - {id: ds, path: intents.yaml}
holdout: {path: holdout.yaml}
"""


def intent_name(index: int, renamed: bool) -> str:
    return f"intent_{index:04d}" + ("_renamed" if renamed and index % 10 == 0 else "")


def write_data(folder: Path, intents: int, examples: int, *, pull_request: bool) -> None:
    with (folder / "intents.yaml").open("w", encoding="utf-8") as out:
        for index in range(intents):
            out.write(f"{intent_name(index, pull_request)}:\n")
            kept = range(2, examples) if pull_request else range(examples)  # 2 removed
            for n in kept:
                if pull_request and n == examples - 1:
                    continue  # moved to the next intent
                out.write(f"  - 'example {n} of intent {index} with a few words more'\n")
            if pull_request:
                for n in range(3):
                    out.write(f"  - 'a new example {n} for intent {index}'\n")
                previous = (index - 1) % intents
                out.write(
                    f"  - 'example {examples - 1} of intent {previous} with a few words more'\n"
                )
    with (folder / "holdout.yaml").open("w", encoding="utf-8") as out:
        for index in range(intents):
            out.write(f"{intent_name(index, pull_request)}:\n")
            out.write(f"  - 'held out {index}'\n")
            if pull_request:
                out.write(f"  - 'held out {index} more'\n")


def git(folder: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


def best_of(action: Callable[[], T], repeat: int) -> tuple[T, float]:
    best, result = float("inf"), action()
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - start)
    return result, best


def outcomes(held: Dataset) -> list[HoldoutOutcome]:
    """Per intent, flips one way or both (intent i: its first utterance lost by the
    candidate to the next intent unless i % 3 == 2, its second gained from production's
    taking it for the previous one unless i % 3 == 1), so intents' F1 moves apart and two
    confusions change per intent or one; scores vary so the order is the sort's."""
    names = sorted(set(held.labels))
    place = {name: i for i, name in enumerate(names)}
    seen: set[str] = set()
    made = []
    for index, (text, gold) in enumerate(zip(held.texts, held.labels, strict=True)):
        first = gold not in seen
        seen.add(gold)
        kind = place[gold] % 3
        lost = first and kind != 2
        gained = not first and kind != 1
        made.append(
            HoldoutOutcome(
                text=text,
                expected=gold,
                candidate=names[(place[gold] + 1) % len(names)] if lost else gold,
                candidate_score=0.5 + (index % 50) / 100,
                production=names[place[gold] - 1] if gained else gold,
                production_score=0.4 + (index % 40) / 100,
                flagged=lost and index % 7 == 0,
            )
        )
    return made


def metrics(version: str, names: list[str], base: float) -> EvalMetrics:
    per_intent = [
        IntentScore(
            intent=name,
            precision=base - (i % 9) / 100,
            recall=base - (i % 7) / 100,
            f1=base - (i % 8) / 100,
            support=6,
        )
        for i, name in enumerate(names)
    ]
    return EvalMetrics(
        version_id=version, f1=base, precision=base, recall=base, macro_f1=base,
        per_intent=per_intent,
    )  # fmt: skip


def run_result(diff: DataDiff, changes: HoldoutChanges) -> RunResult:
    now = datetime.now(timezone.utc)
    intents = [score.intent for score in changes.intent_recall]
    tested = [
        IntentChange(
            intent=score.intent,
            support=score.support,
            candidate_recall=score.candidate,
            production_recall=score.production,
            candidate_only=1,
            production_only=1,
            p_value=1.0,
            p_adjusted=1.0,
            significant=False,
        )
        for score in changes.intent_recall
    ]
    champion = ChampionComparison(
        holdout_path="holdout.yaml",
        holdout_sha256="0" * 64,
        n=len(changes.outcomes),
        candidate_version_id="v2",
        production_version_id="v1",
        candidate_macro_f1=0.5,
        production_macro_f1=0.5,
        candidate_accuracy=0.5,
        production_accuracy=0.5,
        diff_macro_f1=0.0,
        ci_low=-0.05,
        ci_high=0.05,
        confidence=0.95,
        bootstrap_samples=1000,
        seed=1,
        mcnemar_candidate_only=changes.fixed,
        mcnemar_production_only=changes.regressed,
        mcnemar_p=1.0,
        margin=0.02,
        verdict="no significant change",
        sentence="No significant change.",
        intent_changes=tested,
    )
    candidate = metrics("v2", intents, 0.9)
    weakest = sorted(candidate.per_intent, key=lambda score: score.f1 or 0.0)[:5]
    return RunResult(
        run_uuid="bench",
        tool_version="bench",
        backend="cognigy-v1",
        mode=Mode.TRAIN,
        decision=Decision.APPROVED,
        reason="bench",
        started_at=now,
        finished_at=now,
        duration_seconds=1.0,
        champion=champion,
        data_diff=diff,
        holdout_changes=changes,
        metrics=candidate,
        production=ProductionInfo(version_id="v1", metrics=metrics("v1", intents, 0.88)),
        weakest_intents=weakest,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=1000)
    parser.add_argument("--examples", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "training-config.yaml").write_text(CONFIG, encoding="utf-8")
        write_data(folder, args.intents, args.examples, pull_request=False)
        git(folder, "init", "-q", "-b", "main")
        git(folder, "add", "-A")
        git(folder, "commit", "-q", "-m", "base")
        git(folder, "checkout", "-q", "-b", "feature")
        write_data(folder, args.intents, args.examples, pull_request=True)
        git(folder, "commit", "-q", "-am", "every intent changed")
        loaded = load_config(folder / "training-config.yaml")
        request = base_request("main", {})
        assert request is not None
        base, read_s = best_of(lambda: read_base(loaded, request), args.repeat)
        head = load_dataset(folder / "intents.yaml")
        held = load_dataset(folder / "holdout.yaml")

        def compare() -> DataDiff:
            return DataDiff(
                base_ref="main",
                requested_by="--base",
                resolved_ref="main",
                base_commit=base.commit,
                datasets=[compare_files("ds", "intents.yaml", base.datasets["ds"], head)],
                holdout=compare_files(None, "holdout.yaml", base.holdout, held),
            )

        diff, compare_s = best_of(compare, args.repeat)
        made = outcomes(held)
        changes, holdout_s = best_of(lambda: holdout_changes(made), args.repeat)
        result = run_result(diff, changes)
        summary, render_s = best_of(lambda: render_summary(result), args.repeat)
    file = diff.datasets[0]
    size = len(summary.encode("utf-8"))
    trimmed = "Trimmed to fit" in summary
    print(
        "intents | examples (head) | changed intents | flipped utterances | confusions changed "
        "| read base s | compare s | holdout s | render s | summary bytes | under 1 MiB, untrimmed"
    )
    print("---|---|---|---|---|---|---|---|---|---|---")
    fits = "yes" if size <= SUMMARY_LIMIT_BYTES and not trimmed else "no"
    print(
        f"{args.intents} | {file.head_examples} | {file.changed_intents_count} | "
        f"{changes.regressed + changes.fixed} | {len(changes.confusions)} | {read_s:.3f} | "
        f"{compare_s:.3f} | {holdout_s:.3f} | {render_s:.3f} | {size} | {fits}"
    )
    print("\nsection | bytes")
    print("---|---")
    for part in summary_sections(result):
        print(f"{part.title} | {len(part.body.encode('utf-8'))}")
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
