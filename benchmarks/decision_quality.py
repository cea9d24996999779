"""Decision quality: does the gate promote real improvements, stop real regressions and
leave retraining noise alone? Ours against a threshold-only and a raw-delta gate.

Each scenario is built so the right answer is known: production and candidate are
trained by the emulator (real TF-IDF + SGD models) through the whole pipeline, over real
HTTP, exactly as `ci-trainer run` does; production is promoted first, then the candidate
runs in `train` mode and is judged on the committed holdout.

- more data: production saw a third of the training data, the candidate all of it
  (should promote);
- one intent corrupted: every training example of one intent relabelled as another
  (should reject, naming that intent);
- 20% label noise: a fifth of the training labels replaced at random (should reject);
- another seed: the same data as production, another training seed (not a regression:
  promote, or hold when the holdout cannot rule out a loss beyond the margin).

Our gate is the whole gate of the config's `gate` section: the product defaults (F1 0.85,
precision 0.80, margin 0.01) for banking77, the sample config's own section for the sample
data (`--gate-from` picks another config). The threshold-only gate applies the same floors
to the service's validation metrics, as the seed tutorial does; the raw-delta gate promotes when
the candidate's holdout macro-F1 is not below production's, the most favourable version
of what other NLU actions show (the same holdout, no statistics).

    python benchmarks/decision_quality.py                 # banking77 when present, else the sample
    python benchmarks/decision_quality.py --data sample   # datasets/ in this repository
    python benchmarks/decision_quality.py --train T.csv --holdout H.csv

banking77 is read from ../shared/data/banking77 (CC BY 4.0) and never copied into the
repository; its files are copied into a temporary directory for the run.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci_trainer.backends.cognigy_v1.emulator.server import Emulator
from ci_trainer.config.model import GateSection
from ci_trainer.datasets import Example, load_dataset
from ci_trainer.decision import Decision
from ci_trainer.gate import GateOutcome, raw_delta_gate, threshold_only_gate
from ci_trainer.progress import ConsoleReporter
from ci_trainer.result import Mode, RunResult
from ci_trainer.run import execute
from ci_trainer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
BANKING77 = REPO_ROOT.parent / "shared" / "data" / "banking77"
SAMPLE_CONFIG = REPO_ROOT / "training-config.yaml"
SAMPLE_TRAIN = (
    REPO_ROOT / "datasets" / "customer_service.yaml",
    REPO_ROOT / "datasets" / "smalltalk_cognigy.csv",
)
SAMPLE_HOLDOUT = REPO_ROOT / "datasets" / "holdout.yaml"

PROMOTE, REJECT, NOT_WORSE = "promote", "reject", "promote or hold"


# --------------------------------------------------------------------------- the data


def stratified_subset(examples: Sequence[Example], fraction: float, seed: int) -> list[Example]:
    """`fraction` of each intent's examples (at least two), chosen with `seed`."""
    rng = random.Random(seed)
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    kept: list[Example] = []
    for intent in sorted(by_intent):
        members = by_intent[intent]
        kept += rng.sample(members, max(2, round(len(members) * fraction)))
    return kept


def corrupt_intent(examples: Sequence[Example], intent: str, into: str) -> list[Example]:
    """Every example of `intent` labelled `into`: an annotator's systematic mistake."""
    return [Example(text=e.text, intent=into if e.intent == intent else e.intent) for e in examples]


def label_noise(examples: Sequence[Example], rate: float, seed: int) -> list[Example]:
    """Each label replaced, with probability `rate`, by another intent chosen at random."""
    rng = random.Random(seed)
    intents = sorted({e.intent for e in examples})
    noisy = []
    for e in examples:
        label = e.intent
        if rng.random() < rate:
            label = rng.choice([i for i in intents if i != e.intent])
        noisy.append(Example(text=e.text, intent=label))
    return noisy


def write_csv(path: Path, examples: Sequence[Example]) -> Path:
    """The `text,category` format the dataset reader knows (banking77's own)."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "category"])
        writer.writerows([e.text, e.intent] for e in examples)
    return path


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: str
    model_id: str  # scenarios that share a production model share the model id
    candidate: list[Example]
    seed: int = 1
    corrupted: str | None = None  # the intent the candidate's data got wrong, if one


@dataclass(frozen=True)
class Production:
    model_id: str
    examples: list[Example]
    seed: int = 1


def pick_corruption(examples: Sequence[Example]) -> tuple[str, str]:
    """The largest intent (ties: first by name) and the intent it is mislabelled as."""
    counts: dict[str, int] = defaultdict(int)
    for e in examples:
        counts[e.intent] += 1
    ranked = sorted(counts, key=lambda intent: (-counts[intent], intent))
    return ranked[0], ranked[1]


def build_scenarios(
    train: Sequence[Example], *, noise_seed: int = 7
) -> tuple[list[Production], list[Scenario]]:
    """The four scenarios over one training set; production models they compare against."""
    full = list(train)
    intent, into = pick_corruption(full)
    productions = [
        Production("bench-small-production", stratified_subset(full, 1 / 3, seed=3)),
        Production("bench-full-production", full),
    ]
    scenarios = [
        Scenario("more data", PROMOTE, "bench-small-production", full),
        Scenario(
            f"'{intent}' labelled '{into}'",
            REJECT,
            "bench-full-production",
            corrupt_intent(full, intent, into),
            corrupted=intent,
        ),
        Scenario(
            "20% label noise", REJECT, "bench-full-production", label_noise(full, 0.2, noise_seed)
        ),
        Scenario("another seed", NOT_WORSE, "bench-full-production", full, seed=2),
    ]
    return productions, scenarios


# --------------------------------------------------------------------------- running


@dataclass
class Outcome:
    scenario: Scenario
    result: RunResult
    threshold_only: GateOutcome
    raw_delta: GateOutcome | None
    seconds: float

    @property
    def ours(self) -> str:
        """promote / hold / reject. Hold: rejected only because the holdout cannot rule out
        a loss beyond the margin, with no significant change found."""
        if self.result.decision in (Decision.APPROVED, Decision.PROMOTED):
            return PROMOTE
        if self.result.decision is not Decision.REJECTED:
            return str(self.result.decision.value)
        failed = [rule.rule for rule in self.result.gate if not rule.passed]
        champion = self.result.champion
        inconclusive = champion is not None and champion.verdict == "no significant change"
        return "hold" if inconclusive and failed == ["champion.margin"] else REJECT

    def correct(self, decision: str) -> bool:
        if self.scenario.expected == NOT_WORSE:
            return decision in (PROMOTE, "hold")
        return decision == self.scenario.expected


@dataclass
class Workbench:
    """A temporary workspace, one emulator serving every dataset, and the run configs."""

    root: Path
    holdout: Path
    gate: dict[str, Any]  # the candidates' `gate` section, as in a config file
    datasets: dict[str, Path] = field(default_factory=dict)

    def add_dataset(self, dataset_id: str, examples: Sequence[Example]) -> None:
        self.datasets[dataset_id] = write_csv(self.root / f"{dataset_id}.csv", examples)

    def config(
        self, name: str, model_id: str, dataset_id: str, seed: int, gate: Mapping[str, Any]
    ) -> Path:
        config = {
            "version": 1,
            "model": {"id": model_id},
            "datasets": [{"id": dataset_id, "path": self.datasets[dataset_id].name}],
            "holdout": {"path": self.holdout.name},
            # The scenarios are about the gate, not data hygiene: corrupted and noisy data
            # are the point, and public corpora repeat a few utterances across splits.
            "validation": {
                "max_imbalance_ratio": 1000,
                "min_examples_per_intent": 1,
                "max_duplicate_examples": 100000,
                "fail_on_label_conflicts": False,
                "fail_on_holdout_leakage": False,
            },
            "training": {
                "poll_interval_floor_seconds": 0.1,
                "hyperparameters": {"seed": seed},
            },
            "gate": dict(gate),
            "audit": {"path": f"audit-{name}.jsonl"},
        }
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path


def run(emulator: Emulator, config: Path, mode: Mode) -> RunResult:
    env = {
        "COGNIGY_BASE_URL": emulator.base_url,
        "COGNIGY_CLIENT_ID": emulator.client_id,
        "COGNIGY_CLIENT_SECRET": emulator.client_secret,
    }
    settings = Settings.from_env(env, config_path=config, mode=mode)
    return execute(settings, ConsoleReporter(io.StringIO()))


def promote_production(emulator: Emulator, bench: Workbench, production: Production) -> RunResult:
    dataset_id = f"{production.model_id}-data"
    # Production only has to exist: any sane model will do, whatever the floors say.
    floors = {"min_f1": 0.3, "min_precision": 0.3}
    config = bench.config(
        production.model_id, production.model_id, dataset_id, production.seed, floors
    )
    result = run(emulator, config, Mode.PROMOTE)
    if not result.promoted:
        msg = f"could not set up production for {production.model_id}: {result.reason}"
        raise RuntimeError(msg)
    return result


def judge(emulator: Emulator, bench: Workbench, scenario: Scenario, number: int) -> Outcome:
    started = time.monotonic()
    name = f"candidate-{number}"
    config = bench.config(name, scenario.model_id, name, scenario.seed, bench.gate)
    result = run(emulator, config, Mode.TRAIN)
    if result.metrics is None:
        msg = f"scenario {scenario.name!r} ended {result.decision.value}: {result.reason}"
        raise RuntimeError(msg)
    champion = result.champion
    raw = (
        raw_delta_gate(champion.candidate_macro_f1, champion.production_macro_f1)
        if champion is not None
        else None
    )
    return Outcome(
        scenario=scenario,
        result=result,
        threshold_only=threshold_only_gate(GateSection.model_validate(bench.gate), result.metrics),
        raw_delta=raw,
        seconds=time.monotonic() - started,
    )


@contextmanager
def workbench(holdout: Path, gate: Mapping[str, Any]) -> Iterator[Workbench]:
    with tempfile.TemporaryDirectory(prefix="ci-trainer-decision-quality-") as tmp:
        root = Path(tmp)
        copied = root / f"holdout{holdout.suffix}"
        shutil.copyfile(holdout, copied)
        yield Workbench(root=root, holdout=copied, gate=dict(gate))


def run_scenarios(
    train: Sequence[Example],
    holdout: Path,
    *,
    gate: Mapping[str, Any] | None = None,
    parallel: int = 2,
) -> list[Outcome]:
    """Train the production models, promote them, then judge every scenario's candidate."""
    productions, scenarios = build_scenarios(train)
    with workbench(holdout, gate or {}) as bench:
        for production in productions:
            bench.add_dataset(f"{production.model_id}-data", production.examples)
        for number, scenario in enumerate(scenarios, start=1):
            bench.add_dataset(f"candidate-{number}", scenario.candidate)
        with (
            Emulator(bench.datasets, time_scale=0.0, workers=parallel) as emulator,
            ThreadPoolExecutor(max_workers=parallel) as pool,
        ):
            list(pool.map(lambda p: promote_production(emulator, bench, p), productions))
            return list(
                pool.map(
                    lambda item: judge(emulator, bench, item[1], item[0]),
                    enumerate(scenarios, start=1),
                )
            )


# --------------------------------------------------------------------------- the table


def _mark(outcome: Outcome, decision: str) -> str:
    return f"{decision} {'✅' if outcome.correct(decision) else '❌'}"


def _gate_word(gate: GateOutcome | None) -> str:
    if gate is None:
        return "n/a"
    return PROMOTE if gate.passed else REJECT


def table(outcomes: Sequence[Outcome]) -> str:
    headers = [
        "Scenario",
        "Right answer",
        "Our gate",
        "Champion verdict",
        "Threshold-only",
        "Raw delta",
        "Holdout macro-F1 Δ (95% CI)",
        "McNemar p",
    ]
    rows = []
    for o in outcomes:
        c = o.result.champion
        delta = f"{c.diff_macro_f1:+.3f} ({c.ci_low:+.3f} to {c.ci_high:+.3f})" if c else "n/a"
        rows.append(
            [
                o.scenario.name,
                o.scenario.expected,
                _mark(o, o.ours),
                c.verdict if c else "not compared",
                _mark(o, _gate_word(o.threshold_only)),
                _mark(o, _gate_word(o.raw_delta)),
                delta,
                f"{c.mcnemar_p:.3g}" if c else "n/a",
            ]
        )
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def explanations(outcomes: Sequence[Outcome]) -> str:
    lines = []
    for o in outcomes:
        lines.append(f"- {o.scenario.name}: {o.result.reason}")
        if o.result.champion is not None:
            lines.append(f"  {o.result.champion.sentence}")
        metrics = o.result.metrics
        if metrics is not None:
            lines.append(
                f"  threshold-only saw validation F1 {metrics.f1} / precision {metrics.precision}: "
                f"{o.threshold_only.reason}"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


@dataclass(frozen=True)
class DataChoice:
    name: str
    train: tuple[Path, ...]
    holdout: Path
    gate_config: Path | None  # the config whose `gate` section the candidates use


def data_files(args: argparse.Namespace) -> DataChoice:
    gate_from = Path(args.gate_from) if args.gate_from else None
    if args.train or args.holdout:
        if not (args.train and args.holdout):
            sys.exit("--train and --holdout go together")
        return DataChoice("custom", (Path(args.train),), Path(args.holdout), gate_from)
    if args.data == "banking77" or (args.data == "auto" and (BANKING77 / "train.csv").exists()):
        return DataChoice(
            "banking77", (BANKING77 / "train.csv",), BANKING77 / "test.csv", gate_from
        )
    return DataChoice("sample", SAMPLE_TRAIN, SAMPLE_HOLDOUT, gate_from or SAMPLE_CONFIG)


def gate_section(config: Path | None) -> dict[str, Any]:
    """The `gate` section of a config file, or {} for the product defaults."""
    if config is None:
        return {}
    loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    section = loaded.get("gate", {}) if isinstance(loaded, dict) else {}
    return dict(section) if isinstance(section, dict) else {}


def gate_source(config: Path | None) -> str:
    if config is None:
        return "the product defaults"
    try:
        return f"the gate section of {config.relative_to(REPO_ROOT)}"
    except ValueError:
        return f"the gate section of {config}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", choices=["auto", "banking77", "sample"], default="auto")
    parser.add_argument("--train", help="training file (any dataset format)")
    parser.add_argument("--holdout", help="holdout file (any dataset format)")
    parser.add_argument("--gate-from", help="a training config whose gate section to use")
    parser.add_argument("--parallel", type=int, default=2, help="trainings at once")
    args = parser.parse_args()
    data = data_files(args)
    train = [example for path in data.train for example in load_dataset(path).examples]
    holdout = load_dataset(data.holdout)
    gate = gate_section(data.gate_config)
    print(
        f"Data: {data.name} ({len(train)} training utterances, {len(holdout.examples)} "
        f"holdout utterances, {len(holdout.intent_distribution)} intents); gate: "
        f"{gate_source(data.gate_config)}",
        flush=True,
    )
    started = time.monotonic()
    outcomes = run_scenarios(train, data.holdout, gate=gate, parallel=args.parallel)
    print()
    print(table(outcomes))
    print()
    print(explanations(outcomes))
    print(f"\n{time.monotonic() - started:.0f} s in all")


if __name__ == "__main__":
    main()
