"""Where a finished run's record goes: the webhook first, then the holdout predictions
file, then the audit log (which names the predictions file and its sha256).

All run on every path a run can end on, and none raises: a webhook that cannot be
delivered or a file that cannot be written becomes a warning on the run.
"""

from __future__ import annotations

import threading

from ci_trainer.config import LoadedConfig
from ci_trainer.config.model import AuditSection, WebhookSection
from ci_trainer.progress import Reporter
from ci_trainer.redact import Redactor
from ci_trainer.result import Message, RunResult
from ci_trainer.settings import Settings

# A cancelled run still tells the registry, in one attempt of at most this many seconds
# (connect, answer and the whole exchange alike). With the pipeline's wind-down
# (signals.STOP_GRACE_SECONDS) and the cancel of its job (CANCEL_DEADLINE_SECONDS) the
# run ends about 4 s after SIGINT, well inside the runner's 7.5 s before SIGTERM.
STOPPING_WEBHOOK_TIMEOUT = 1.0


def sync_webhook(
    result: RunResult,
    settings: Settings,
    loaded: LoadedConfig | None,
    redactor: Redactor,
    reporter: Reporter,
    stop: threading.Event,
) -> RunResult:
    """Deliver the run's event when a webhook URL is set; the result records how it went."""
    url, secret = settings.webhook(loaded)
    if url is None:
        return result
    section = loaded.config.webhook if loaded else WebhookSection()
    from ci_trainer.webhook import deliver  # requests' import is paid only when needed

    with reporter.stage("Webhook"):
        if stop.is_set():
            # Not the run's stop flag: the client sends nothing once it is set, and the
            # registry must still hear of a cancelled run. The attempt's deadline is the
            # bound instead.
            timeout = min(section.timeout_seconds, STOPPING_WEBHOOK_TIMEOUT)
            delivery = deliver(result, url, secret, timeout=timeout, deadline=timeout, attempts=1)
        else:
            # No second, text-level pass (redactor=None): the lifecycle already scrubbed
            # the result with its types kept (a year-like secret would otherwise turn
            # timestamps into '***-11-26'); the delivery still scrubs the URL and the
            # webhook secret.
            delivery = deliver(
                result, url, secret, timeout=section.timeout_seconds, stop=stop, redactor=None
            )
    result = result.model_copy(update={"webhook": delivery})
    if delivery.delivered:
        reporter.info(f"webhook delivered to {delivery.target} ({delivery.status_code})")
        return result
    target = delivery.target or "the configured webhook URL"
    text = f"webhook not delivered to {target}: {delivery.error}"
    if result.promoted:
        text += "; the model WAS promoted, so the registry is now out of sync"
    return _with_message(
        result, Message(level="warning", text=text, title="Webhook"), redactor, reporter
    )


def write_predictions_file(
    result: RunResult,
    settings: Settings,
    loaded: LoadedConfig | None,
    redactor: Redactor,
    reporter: Reporter,
) -> RunResult:
    """Write the holdout's outcomes next to the audit log, when the run has any; the
    result records where. The outcomes come from the scrubbed result: no secret in them."""
    changes = result.holdout_changes
    if changes is None or not changes.outcomes:
        return result
    path = settings.predictions_destination(loaded)
    from ci_trainer.predictions_file import write_predictions

    try:
        written = write_predictions(path, changes.outcomes)
    except OSError as exc:
        text = f"could not write the holdout predictions to {path}: {exc.strerror or exc}"
        message = Message(level="warning", text=text, title="Predictions file")
        return _with_message(result, message, redactor, reporter)
    reporter.info(f"holdout predictions ({written.lines} utterances) written to {written.path}")
    return result.model_copy(update={"predictions_file": written})


def append_audit(
    result: RunResult,
    settings: Settings,
    loaded: LoadedConfig | None,
    redactor: Redactor,
    reporter: Reporter,
) -> RunResult:
    """Append the run's audit record; the result records where it went."""
    section = loaded.config.audit if loaded else AuditSection()
    path, warning = settings.audit_destination(loaded)
    if warning:
        message = Message(level="warning", text=warning, title="Audit log")
        result = _with_message(result, message, redactor, reporter)
    # Imported late: the audit module loads jsonschema (for `audit verify`), which
    # would otherwise delay the first request of every run.
    from ci_trainer.audit import write_audit

    outcome = write_audit(
        result,
        path,
        governance_tags=list(section.governance_tags),
        fallback_dir=settings.output_dir,
        redactor=None,  # already scrubbed by the lifecycle, types kept (see sync_webhook)
    )
    result = outcome.apply(result)
    if outcome.path is None:
        # Every file failed: the record goes to the log so it is not lost either.
        reporter.info("audit record (could not be written to any file):")
        reporter.info(outcome.line)
    if not outcome.primary_error:
        reporter.info(f"audit record appended to {outcome.path}")
        for kept in result.service_exports:
            if kept.path and outcome.path is not None:
                reporter.info(
                    f"{kept.target}: the export artifact {kept.path} (what it held before "
                    "this run) is in the audit record"
                )
        return result
    where = f"; written to {outcome.path} instead" if outcome.path else ""
    # The error names the path already.
    message = Message(level="warning", text=f"{outcome.primary_error}{where}", title="Audit log")
    return _with_message(result, message, redactor, reporter)


def _with_message(
    result: RunResult, message: Message, redactor: Redactor, reporter: Reporter
) -> RunResult:
    message = message.model_copy(update={"text": redactor(message.text)})
    reporter.message(message)
    return result.model_copy(update={"messages": [*result.messages, message]})
