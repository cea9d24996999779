"""RunResult -> the step summary (GitHub-flavoured Markdown) and the action's outputs.

Both are pure functions of the RunResult: they format figures, they never compute one
the RunResult does not hold (a pass/fail comes from the gate's own rules, not from
comparing numbers here). The one exception is the candidate-minus-production delta, a
display of two figures that are both in the RunResult.

Every string that came from a config file or a server is escaped before it enters the
Markdown, so a crafted intent name, dataset id or server message cannot break a table,
inject HTML, or start a workflow command.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ci_trainer.backend_types import CombinedFigure, ConvergencePoint, EvalMetrics, IntentScore
from ci_trainer.result import CheckStatus, Decision, GateRule, RunResult

SUMMARY_LIMIT_BYTES = 1024 * 1024  # per step, enforced by GitHub
MAX_CHART_POINTS = 60  # Mermaid charts get unreadable (and slow) beyond this

_DECISION_HEADINGS: dict[Decision, tuple[str, str]] = {
    Decision.VALIDATED: ("✅", "Validated"),
    Decision.APPROVED: ("✅", "Approved"),
    Decision.PROMOTED: ("🚀", "Promoted"),
    Decision.REJECTED: ("❌", "Rejected"),
    Decision.INVALID: ("⚠️", "Invalid"),
    Decision.FAILED: ("💥", "Failed"),
    Decision.SKIPPED: ("⏭️", "Skipped"),
}
_CHECK_ICONS: dict[CheckStatus, str] = {
    CheckStatus.PASSED: "✅ passed",
    CheckStatus.FAILED: "❌ failed",
    CheckStatus.WARNING: "⚠️ warning",
    CheckStatus.SKIPPED: "⏭️ skipped",
}
_LEVEL_ICONS = {"error": "❌ error", "warning": "⚠️ warning", "notice": "💬 notice"}
# (label, EvalMetrics attribute) in the order reviewers read them.
_METRICS: tuple[tuple[str, str], ...] = (
    ("F1", "f1"),
    ("Precision", "precision"),
    ("Recall", "recall"),
    ("Accuracy", "accuracy"),
    ("Macro F1", "macro_f1"),
)
_COMBINED_NAMES: dict[CombinedFigure, str] = {
    "f1": "F1",
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
}

# --- escaping ------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_WWW = re.compile(r"(?i)(www)\.")


def escape(text: object) -> str:
    """Make any string safe inside a Markdown paragraph or table cell.

    HTML metacharacters become entities (no tags, no entity tricks); Markdown
    punctuation that could open emphasis, links, code or a table column is
    backslash-escaped; newlines and other control characters become one space so a
    value cannot end a table row.
    """
    value = _CONTROL.sub(" ", str(text))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
    # GFM turns bare URLs and e-mail addresses into links. An escaped `:` or `.` keeps a
    # URL plain text; e-mail linking ignores escapes, so an invisible word joiner after
    # `@` breaks it.
    value = value.replace("://", "\\://").replace("@", "@\u2060")
    return _WWW.sub(r"\1\\.", value)


def fenced(text: str, language: str = "") -> str:
    """A fenced code block that the content cannot close, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def one_line(text: str) -> str:
    """Collapse a message to a single line (outputs are read by `${{ }}` expressions)."""
    return " ".join(_CONTROL.sub(" ", text).split())


# --- number formatting ---------------------------------------------------------------


def fmt(value: float | int | str | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"
    return escape(value)


def fmt_signed(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GFM table; cells must already be escaped."""
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


# --- sections ------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One part of the summary; when space runs out the lowest `keep` goes first."""

    title: str
    keep: int
    body: str


def _headline(result: RunResult) -> str:
    icon, label = _DECISION_HEADINGS[result.decision]
    model = f" · model {escape(result.model_id)}" if result.model_id else ""
    facts = [
        f"mode {escape(result.mode.value)}",
        f"backend {escape(result.backend)}",
        f"took {fmt_duration(result.duration_seconds)}",
    ]
    if result.decision is Decision.APPROVED and not result.promotion.attempted:
        facts.append("not promoted in this mode")
    return (
        f"## {icon} {label}{model}\n\n"
        f"**{escape(result.reason).strip() or 'No reason was recorded.'}**\n\n"
        f"<sub>ci-trainer {escape(result.tool_version)} · {' · '.join(facts)}</sub>"
    )


def _messages(result: RunResult) -> str | None:
    if not result.messages and not result.error:
        return None
    rows = []
    for message in result.messages:
        where = message.file or ""
        if message.file and message.line is not None:
            where += f":{message.line}"
            if message.column is not None:
                where += f":{message.column}"
        text = f"{message.title}: {message.text}" if message.title else message.text
        rows.append(
            [_LEVEL_ICONS.get(message.level, escape(message.level)), escape(where), escape(text)]
        )
    parts = ["### Problems and notes"]
    if result.error and not any(m.level == "error" for m in result.messages):
        parts.append(f"**{escape(result.error.type)}:** {escape(result.error.message)}")
    if rows:
        parts.append(table(["Level", "Where", "Message"], rows))
    return "\n\n".join(parts)


def _troubleshooting(result: RunResult) -> str | None:
    support = result.support
    if support is None:
        return None
    rows = [
        ["Endpoint", escape(support.endpoint)],
        ["HTTP status", fmt(support.status)],
        ["Trace id", escape(support.trace_id) if support.trace_id else "n/a"],
        ["Datasets", escape(", ".join(support.dataset_ids)) or "n/a"],
    ]
    parts = [
        "### Troubleshooting",
        "The training service failed and the run stopped after its retries. A support "
        "ticket needs what follows (secrets already removed); the trace id lets the "
        "service's operators find the request.",
        table(["Field", "Value"], rows),
    ]
    if support.request_payload is not None:
        payload = json.dumps(support.request_payload, indent=2, sort_keys=True, default=str)
        parts += ["Request payload:", fenced(payload, "json")]
    if support.response_body:
        parts += ["Response body (trimmed):", fenced(support.response_body)]
    return "\n\n".join(parts)


def _gate_rule_for(result: RunResult, metric: str) -> GateRule | None:
    """The gate's floor on `metric` (rules are named after the config key, `min_f1`)."""
    return next((rule for rule in result.gate if rule.rule == f"min_{metric}"), None)


def _threshold_for(result: RunResult, metric: str) -> Any:
    rule = _gate_rule_for(result, metric)
    if rule is not None and rule.threshold is not None:
        return rule.threshold
    # No rule (the gate did not run): the configured floor, from the runner's record of
    # the config's sections ({"gate": {...}, "validation": {...}}).
    gate = result.thresholds.get("gate")
    value = gate.get(f"min_{metric}") if isinstance(gate, dict) else None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _metric(metrics: EvalMetrics | None, name: str) -> float | None:
    if metrics is None:
        return None
    value = getattr(metrics, name)
    return float(value) if isinstance(value, (int, float)) else None


def _metrics(result: RunResult) -> str | None:
    candidate = result.metrics
    production = result.production.metrics if result.production else None
    if candidate is None and production is None:
        return None
    rows = []
    for label, name in _METRICS:
        cand, prod = _metric(candidate, name), _metric(production, name)
        rule = _gate_rule_for(result, name)
        if cand is None and prod is None and rule is None:
            continue  # a metric neither version has (e.g. accuracy on v2) is not a row
        delta = cand - prod if cand is not None and prod is not None else None
        verdict = "—" if rule is None else ("✅ pass" if rule.passed else "❌ fail")
        rows.append(
            [
                label,
                fmt(cand),
                fmt(_threshold_for(result, name)),
                fmt(prod),
                fmt_signed(delta),
                verdict,
            ]
        )
    production_id = result.production.version_id if result.production else None
    caption = (
        f"Candidate {escape(result.version_id or 'n/a')} against production "
        f"{escape(production_id or 'none yet')}, on the service's validation split. "
        "n/a: the service did not report this figure."
    )
    headers = ["Metric", "Candidate", "Threshold", "Production", "Delta", "Gate"]
    return "### Metrics\n\n" + table(headers, rows) + "\n\n" + caption


def _production_f1(result: RunResult) -> dict[str, float]:
    """Production's F1 per target id, where the service reported one."""
    production = result.production.metrics if result.production else None
    if production is None:
        return {}
    return {score.id: score.f1 for score in production.targets if score.f1 is not None}


def _targets(result: RunResult) -> str | None:
    """Each flow x locale's own figures behind a combined target's (lowest) ones."""
    scores = result.metrics.targets if result.metrics else []
    if len(scores) < 2:
        return None  # one target's figures are the Metrics table's
    production_f1 = _production_f1(result)
    with_production = any(score.id in production_f1 for score in scores)
    headers = ["Target", "F1", "Accuracy", "Macro F1"]
    headers += ["Production F1"] if with_production else []
    headers += ["Intents", "Sets combined"]
    rows = []
    for score in scores:
        row = [escape(score.label), fmt(score.f1), fmt(score.accuracy), fmt(score.macro_f1)]
        if with_production:
            row.append(fmt(production_f1.get(score.id)))
        sets = ", ".join(_COMBINED_NAMES[name] for name in score.sets_combined)
        row += [fmt(score.intent_count), f"⬇️ {sets}" if sets else "—"]
        rows.append(row)
    caption = (
        f"{len(scores)} flow x locale targets, trained together. Metrics and the gate use "
        "the lowest target's F1, accuracy and macro F1; *Sets combined* says whose each is."
    )
    return "### Targets\n\n" + table(headers, rows) + "\n\n" + caption


def _gate(result: RunResult) -> str | None:
    if not result.gate:
        return None
    rows = [
        [
            escape(rule.rule),
            fmt(rule.value),
            fmt(rule.threshold),
            "✅ pass" if rule.passed else "❌ fail",
            escape(rule.message),
        ]
        for rule in result.gate
    ]
    body = "### Gate\n\n" + table(["Rule", "Value", "Threshold", "Result", "Why"], rows)
    # Reasons the table does not already say (e.g. a dataset check that failed).
    shown = {result.reason, *(rule.message for rule in result.gate)}
    extra = [escape(reason) for reason in result.reasons if reason not in shown]
    if extra:
        body += "\n\n" + "\n".join(f"- {reason}" for reason in extra)
    return body


def _champion(result: RunResult) -> str | None:
    champion = result.champion
    if champion is None:
        if not result.champion_note:
            return None
        return f"### Champion / challenger\n\nNot compared: {escape(result.champion_note)}"
    confidence = f"{champion.confidence:.0%}"
    rows = [
        ["Macro F1", fmt(champion.candidate_macro_f1), fmt(champion.production_macro_f1)],
        ["Accuracy", fmt(champion.candidate_accuracy), fmt(champion.production_accuracy)],
        ["Version", escape(champion.candidate_version_id), escape(champion.production_version_id)],
    ]
    facts = [
        f"- Macro-F1 difference {fmt_signed(champion.diff_macro_f1)}, {confidence} CI "
        f"{fmt_signed(champion.ci_low)} to {fmt_signed(champion.ci_high)} "
        f"(paired bootstrap, {champion.bootstrap_samples} samples, seed {champion.seed}); "
        f"non-inferiority margin {fmt(champion.margin)}.",
        f"- McNemar exact test: p = {fmt(champion.mcnemar_p, 4)} "
        f"({champion.mcnemar_candidate_only} utterances only the candidate got right, "
        f"{champion.mcnemar_production_only} only production got right).",
        f"- Intents significantly worse: {_names(champion.intents_worse)}.",
        f"- Intents significantly better: {_names(champion.intents_better)}.",
        f"- Verdict: **{escape(champion.verdict)}**.",
    ]
    return (
        f"### Champion / challenger\n\n{escape(champion.sentence)}\n\n"
        + table(["", "Candidate", "Production"], rows)
        + f"\n\nOn the committed holdout {escape(champion.holdout_path)} "
        f"({champion.n} utterances, sha256 {escape(champion.holdout_sha256[:12])}).\n\n"
        + "\n".join(facts)
    )


def _names(names: Sequence[str]) -> str:
    return ", ".join(escape(name) for name in names) if names else "none"


def _checks(result: RunResult) -> str | None:
    if not result.checks:
        return None
    rows = [
        [
            escape(check.check),
            escape(check.dataset_id or "all"),
            _CHECK_ICONS[check.status],
            fmt(check.value),
            fmt(check.threshold),
            escape(check.message),
        ]
        for check in result.checks
    ]
    headers = ["Check", "Dataset", "Result", "Value", "Threshold", "Message"]
    return "### Dataset checks\n\n" + table(headers, rows)


def _intent_rows(scores: Iterable[IntentScore]) -> list[list[str]]:
    return [
        [escape(s.intent), fmt(s.f1), fmt(s.precision), fmt(s.recall), fmt(s.support)]
        for s in scores
    ]


def _weakest(result: RunResult) -> str | None:
    if not result.weakest_intents:
        return None
    headers = ["Intent", "F1", "Precision", "Recall", "Support"]
    return "### Weakest intents\n\n" + table(headers, _intent_rows(result.weakest_intents))


def _chart_points(points: Sequence[ConvergencePoint]) -> list[ConvergencePoint]:
    """At most MAX_CHART_POINTS evenly spread points, always keeping the last epoch."""
    if len(points) <= MAX_CHART_POINTS:
        return list(points)
    step = math.ceil(len(points) / MAX_CHART_POINTS)
    chosen = list(points[::step])
    if chosen[-1] is not points[-1]:
        chosen[-1] = points[-1]
    return chosen


def _chart(title: str, axis: str, epochs: list[int], values: list[float], top: float) -> str:
    return fenced(
        "\n".join(
            [
                "xychart-beta",
                f'    title "{title}"',
                f'    x-axis "epoch" [{", ".join(str(epoch) for epoch in epochs)}]',
                f'    y-axis "{axis}" 0 --> {top:.4g}',
                f"    line [{', '.join(f'{value:.4f}' for value in values)}]",
            ]
        ),
        "mermaid",
    )


def _series(
    points: Sequence[ConvergencePoint], pick: Callable[[ConvergencePoint], float | None]
) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    for point in points:
        value = pick(point)
        if value is not None and math.isfinite(value):
            epochs.append(point.epoch)
            values.append(value)
    return epochs, values


def _convergence(result: RunResult) -> str | None:
    points = _chart_points(result.convergence)
    charts = []
    epochs, f1 = _series(points, lambda p: p.validation_f1)
    if len(f1) >= 2:
        charts.append(_chart("Validation F1 per epoch", "F1", epochs, f1, 1.0))
    epochs, loss = _series(points, lambda p: p.train_loss)
    if len(loss) >= 2:
        charts.append(_chart("Training loss per epoch", "loss", epochs, loss, max(loss) * 1.1))
    if not charts:
        return None
    note = f"{len(result.convergence)} epochs reported by the service"
    if len(points) < len(result.convergence):
        note += f"; every {math.ceil(len(result.convergence) / MAX_CHART_POINTS)}th shown"
    return "### Convergence\n\n" + "\n\n".join(charts) + f"\n\n<sub>{note}.</sub>"


_SERVER_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]+)?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_COMMIT = re.compile(r"[0-9a-f]{7,64}")
_RUN_ID = re.compile(r"[0-9]+")


def _repository_url(result: RunResult) -> str | None:
    """The repository's web address, only when every part has the shape GitHub gives it
    (they come from the runner's GITHUB_* variables, but a link must never carry data)."""
    p = result.provenance
    if not (p.server_url and p.repository):
        return None
    if not (_SERVER_URL.fullmatch(p.server_url) and _REPOSITORY.fullmatch(p.repository)):
        return None
    return f"{p.server_url}/{p.repository}"


def _commit_cell(result: RunResult) -> str:
    commit = result.provenance.commit
    if not commit:
        return "n/a"
    base = _repository_url(result)
    if base and _COMMIT.fullmatch(commit):
        return f"[{commit[:12]}]({base}/commit/{commit})"
    return escape(commit[:12])


def _run_cell(result: RunResult) -> str:
    p = result.provenance
    base = _repository_url(result)
    if base and p.run_id and _RUN_ID.fullmatch(p.run_id):
        attempt = p.run_attempt if p.run_attempt and _RUN_ID.fullmatch(p.run_attempt) else "1"
        link = f"[workflow run {p.run_id}, attempt {attempt}]({base}/actions/runs/{p.run_id})"
        return f"{link} · {escape(result.run_uuid)}"
    return escape(result.run_uuid)


def _run_details(result: RunResult) -> str:
    p = result.provenance
    promotion = result.promotion
    if promotion.promoted:
        promoted = f"yes, to {escape(promotion.environment or 'production')}"
    elif promotion.attempted:
        promoted = f"no: {escape(promotion.message or 'see the log')}"
    else:
        promoted = "not attempted"
    webhook = result.webhook
    if not webhook.attempted:
        sync = "not configured"
    elif webhook.delivered:
        sync = (
            f"delivered (HTTP {fmt(webhook.status_code)}, event {escape(webhook.event_id or '')})"
        )
    else:
        sync = f"not delivered: {escape(webhook.error or 'no answer')}"
    rows = [
        ["Training id", escape(result.training_id or "n/a")],
        ["Version id", escape(result.version_id or "n/a")],
        ["Service status", escape(result.status or "n/a")],
        [
            "Duration",
            f"{fmt_duration(result.duration_seconds)} "
            f"(training {fmt_duration(result.training_seconds)})",
        ],
        ["Config", escape(result.config_path or "n/a")],
        ["Config sha256", escape(result.config_sha256 or "n/a")],
        ["Commit", _commit_cell(result)],
        ["Ref", escape(p.ref or "n/a")],
        ["Triggered by", escape(f"{p.actor or 'n/a'} ({p.event or 'n/a'})")],
        ["Promoted", promoted],
        ["Registry webhook", sync],
        [
            "Audit log",
            escape(result.audit_log or "not written")
            + (f" (record hash {escape(result.audit_hash[:16])})" if result.audit_hash else ""),
        ],
        ["Run", _run_cell(result)],
    ]
    if result.audit_error:
        rows.append(["Audit problem", escape(result.audit_error)])
    return "### Run\n\n" + table(["", ""], rows)


def _details(result: RunResult) -> str | None:
    parts = []
    if result.datasets:
        rows = [
            [
                escape(d.id),
                escape(d.path or "n/a"),
                fmt(d.example_count),
                fmt(d.intent_count),
                fmt(d.service_example_count),
                fmt(d.average_annotation_score),
                escape((d.sha256 or "n/a")[:12]),
            ]
            for d in result.datasets
        ]
        headers = [
            "Dataset",
            "File",
            "Examples",
            "Intents",
            "Service examples",
            "Avg score",
            "sha256",
        ]
        parts.append("**Datasets**\n\n" + table(headers, rows))
    if result.attempts:
        rows = [
            [
                str(a.attempt),
                escape(a.training_id),
                fmt(a.batch_size),
                escape(a.status),
                str(a.status_requests),
                escape(a.message or ""),
            ]
            for a in result.attempts
        ]
        headers = ["Attempt", "Training id", "Batch size", "Status", "Status requests", "Message"]
        parts.append("**Training attempts**\n\n" + table(headers, rows))
    usage = result.resources
    if usage.samples:
        parts.append(
            f"**Service resources** ({usage.samples} samples): peak CPU "
            f"{fmt(usage.peak_cpu_percent, 1)} %, peak memory "
            f"{fmt(usage.peak_memory_percent, 1)} %."
        )
    if result.promotion.steps:
        rows = [
            [escape(s.name), escape(s.status), escape(s.id or ""), escape(s.detail or "")]
            for s in result.promotion.steps
        ]
        parts.append("**Promotion steps**\n\n" + table(["Step", "Status", "Id", "Detail"], rows))
    if result.thresholds:
        thresholds = json.dumps(result.thresholds, indent=2, sort_keys=True, default=str)
        parts.append("**Thresholds**\n\n" + fenced(thresholds, "json"))
    if result.metrics and result.metrics.per_intent:
        headers = ["Intent", "F1", "Precision", "Recall", "Support"]
        parts.append(
            "**All intents**\n\n" + table(headers, _intent_rows(result.metrics.per_intent))
        )
    if not parts:
        return None
    body = "\n\n".join(parts)
    return f"<details>\n<summary>Everything else</summary>\n\n{body}\n\n</details>"


# Sections in display order with how long each is kept when space runs out.
_SECTIONS: tuple[tuple[str, int, Callable[[RunResult], str | None]], ...] = (
    ("problems", 95, _messages),
    ("troubleshooting", 90, _troubleshooting),
    ("metrics", 85, _metrics),
    # Small, and it says which flow x locale the metrics' figures come from: kept after
    # the gate's reasons but before the holdout comparison.
    ("targets", 78, _targets),
    ("gate", 80, _gate),
    ("champion/challenger", 75, _champion),
    ("run details", 70, _run_details),
    ("dataset checks", 60, _checks),
    ("weakest intents", 50, _weakest),
    ("convergence chart", 30, _convergence),
    ("collapsed details", 10, _details),
)


def summary_sections(result: RunResult) -> list[Section]:
    sections = []
    for title, keep, render in _SECTIONS:
        body = render(result)
        if body:
            sections.append(Section(title, keep, body))
    return sections


def render_summary(result: RunResult, *, max_bytes: int = SUMMARY_LIMIT_BYTES) -> str:
    """The step summary, under `max_bytes` UTF-8 bytes.

    When it does not fit, whole sections are left out, least important first, and a
    note names them; the headline is always kept (cut at a character boundary only in
    the absurd case that it alone is too long).
    """
    headline = _headline(result)
    sections = summary_sections(result)
    dropped: list[Section] = []
    while True:
        text = _join(headline, sections, dropped)
        if len(text.encode("utf-8")) <= max_bytes or not sections:
            break
        weakest = min(sections, key=lambda section: section.keep)
        sections.remove(weakest)
        dropped.append(weakest)
    return _clip(text, max_bytes)


def _join(headline: str, sections: list[Section], dropped: list[Section]) -> str:
    parts = [headline, *(section.body for section in sections)]
    if dropped:
        names = ", ".join(section.title for section in dropped)
        parts.append(
            f"> [!NOTE]\n> Trimmed to fit GitHub's step summary limit: left out {names}. "
            "The audit log and the job log have the full record."
        )
    return "\n\n".join(parts) + "\n"


def _clip(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    note = "\n\n(summary cut to fit the step summary limit)\n"
    keep = max(0, max_bytes - len(note))
    clipped = data[:keep].decode("utf-8", errors="ignore")
    return clipped + note if keep else ""


# --- outputs -------------------------------------------------------------------------


def _number(value: float | None) -> str:
    """An output number: full precision, or empty when the service did not give it."""
    if value is None or not math.isfinite(value):
        return ""
    return repr(float(value))


def _metric_fields(metrics: EvalMetrics | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return metrics.model_dump(mode="json", exclude={"per_intent", "convergence"})


def _metrics_json(result: RunResult) -> str:
    champion = result.champion
    document = {
        "candidate": _metric_fields(result.metrics),
        "production": _metric_fields(result.production.metrics if result.production else None),
        "thresholds": result.thresholds,
        "gate": [rule.model_dump(mode="json") for rule in result.gate],
        "champion": None
        if champion is None
        else champion.model_dump(
            mode="json",
            include={
                "candidate_macro_f1",
                "production_macro_f1",
                "diff_macro_f1",
                "ci_low",
                "ci_high",
                "confidence",
                "mcnemar_p",
                "margin",
                "verdict",
                "intents_worse",
                "intents_better",
                "n",
            },
        ),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)


def summary_line(result: RunResult) -> str:
    """The `summary` output: one line, decision and the reason (full Markdown is in the
    step summary, or in `summary.md` outside Actions)."""
    _, label = _DECISION_HEADINGS[result.decision]
    return one_line(f"{label}: {result.reason}")


def build_outputs(result: RunResult) -> dict[str, str]:
    """The action's outputs (the names in action.yml), all strings as the runner wants."""
    metrics = result.metrics
    return {
        "decision": result.decision.value,
        "promoted": "true" if result.promoted else "false",
        "status": result.status or "",
        "training-id": result.training_id or "",
        "version-id": result.version_id or "",
        "f1": _number(metrics.f1 if metrics else None),
        "precision": _number(metrics.precision if metrics else None),
        "recall": _number(metrics.recall if metrics else None),
        "reason": one_line(result.reason),
        "metrics": _metrics_json(result),
        "audit-log": result.audit_log or "",
        "summary": summary_line(result),
    }
