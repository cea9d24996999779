"""No intents lost (C9, C10): what a flow x locale held before an overwrite import replaced it.

An `overwrite` import replaces every intent of the locale, and intents missing from the
file are gone afterwards (C10). So before one, the locale's intents are exported
(`POST /flows/{id}/intents/export {localeId, format: "json"}`, C9) and the file is kept
as a run artifact, `cognigy-export-<flow>-<locale>.json`: importing it restores what the
tenant held. If the export fails, nothing is imported.

The answer's shape: Cognigy's CLI writes the client's return value straight to a file
(the export itself, a JSON array of intents in the import format); C9 reads it as a Task
followed by a download. Both are accepted: an array, or a Task whose finished `data`
carries a `downloadLink` (followed like a snapshot's). Either way the body is bounded
and must be strict JSON of the documented shape.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_trainer.backend_types import ServiceCopy
from ci_trainer.backends.cognigy_v2.client import CognigyV2Client
from ci_trainer.backends.cognigy_v2.ids import path_id
from ci_trainer.backends.cognigy_v2.intents_compare import file_matches, sentences_of
from ci_trainer.backends.cognigy_v2.options import V2Target
from ci_trainer.backends.cognigy_v2.tasks import TaskWaits
from ci_trainer.backends.cognigy_v2.wire import Task, contract_error, json_of, object_of, parse_task
from ci_trainer.errors import ApiError, ContractError, Interrupted, TrainingFailed
from ci_trainer.http.policy import RetryMode
from ci_trainer.http.strict_json import loads_strict

MAX_INTENTS = 10_000  # 2,500 intents per flow is the documented limit
EXPORT_OPERATION = "exportIntents"
DOWNLOAD_OPERATION = "downloadIntentsExport"


@dataclass(frozen=True)
class IntentsExport:
    """One flow x locale's intents as the service held them, and where the file is kept."""

    target: V2Target
    label: str
    items: tuple[dict[str, Any], ...]
    path: Path | None  # None when the backend keeps no files (no artifact directory)
    sha256: str

    def copy(self, out_of_date: bool | None = None) -> ServiceCopy:
        """The export as the dataset gate compares it with the committed file."""
        return ServiceCopy(
            target=self.label,
            sentences=sentences_of(self.items),
            artifact=str(self.path) if self.path is not None else None,
            artifact_sha256=self.sha256,
            training_out_of_date=out_of_date,
        )


def current_notice(label: str) -> str:
    """What a run says about a flow x locale it did not train (C12)."""
    return (
        f"{label} was not trained: its training is not out of date and the committed "
        "intents file equals the tenant's export, so a training would change nothing"
    )


def artifact_name(target: V2Target) -> str:
    """The artifact's file name: one per flow x locale (ids are C14-checked, so safe)."""
    return f"cognigy-export-{target.flow_id}-{target.locale_id}.json"


class IntentsExports:
    """The exports of one run: each flow x locale is exported at most once, kept as a file,
    and required before its overwrite import."""

    def __init__(
        self,
        client: CognigyV2Client,
        tasks: TaskWaits,
        directory: Path | None,
        label: Callable[[V2Target], str],
    ) -> None:
        self._client = client
        self._tasks = tasks
        self._directory = directory
        self._label = label
        self._made: dict[str, IntentsExport] = {}

    def made(self, target: V2Target) -> IntentsExport | None:
        return self._made.get(target.id)

    def export(self, target: V2Target) -> IntentsExport:
        """The target's export, made now unless this run made it already."""
        done = self._made.get(target.id)
        if done is not None:
            return done
        items = self._fetch(target)
        content = (json.dumps(items, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        path = None
        if self._directory is not None:
            path = self._directory / artifact_name(target)
            _write(path, content)
        export = IntentsExport(
            target=target,
            label=self._label(target),
            items=tuple(items),
            path=path,
            sha256=hashlib.sha256(content).hexdigest(),
        )
        self._made[target.id] = export
        return export

    def before_import(self, target: V2Target, mode: str) -> None:
        """An overwrite import may go ahead only after its target was exported (C10); a
        failed export stops it with the reason. Merge and skip keep what is there."""
        if mode != "overwrite":
            return
        try:
            self.export(target)
        except Interrupted:
            raise
        except (ApiError, ContractError, OSError) as exc:
            msg = (
                f"the intents of {self._label(target)} could not be exported before the "
                f"overwrite import, so nothing was imported: {exc}"
            )
            raise TrainingFailed(
                msg,
                hint="an overwrite import replaces every intent of the locale; fix the "
                "export (or set cognigy_v2.import_mode: merge) and re-run",
            ) from exc

    def up_to_date(self, target: V2Target) -> bool:
        """True when training would change nothing (C12): the flow says its training is
        not out of date in the locale, and the committed file equals the export."""
        export = self.made(target)
        if export is None or target.intents_file is None:
            return False
        flow = self._client.read_flow(target.flow_id, target.locale_id)
        if flow.get("isTrainingOutOfDate") is not False:
            return False
        return file_matches(target.intents_file, export.items)

    def _fetch(self, target: V2Target) -> list[dict[str, Any]]:
        answer = request_export(self._client, target.flow_id, target.locale_id)
        if isinstance(answer, list):
            return answer
        final = self._tasks.wait(answer, f"exporting the intents of {self._label(target)}")
        link = final.data.get("downloadLink")
        if final.status != "done" or not isinstance(link, str) or not link:
            reason = final.fail_reason or (
                "no downloadLink in its data" if final.status == "done" else ""
            )
            raise ApiError(
                call=EXPORT_OPERATION,
                message_text=f"the export Task {final.id} ended {final.status}"
                + (f": {reason}" if reason else ""),
                hint_text="quote the Task id to support",
            )
        raw = self._client.download(link, operation=DOWNLOAD_OPERATION)
        try:
            body = loads_strict(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ContractError(
                call=DOWNLOAD_OPERATION,
                message_text=f"the downloaded export is not strict JSON: {str(exc)[:200]}",
                hint_text="quote this to support",
            ) from None
        return parse_items(body, DOWNLOAD_OPERATION)


def request_export(
    client: CognigyV2Client, flow_id: str, locale_id: str
) -> list[dict[str, Any]] | Task:
    """`POST /flows/{id}/intents/export` in JSON: the intents, or the Task that makes them.

    An export changes nothing on the tenant, so this POST is retried as a read."""
    response = client.send(
        EXPORT_OPERATION,
        "POST",
        f"/flows/{path_id(flow_id)}/intents/export",
        json_body={"localeId": locale_id, "format": "json"},
        retry=RetryMode.SAFE,
    )
    body = json_of(response, client.redactor)
    if isinstance(body, list):
        return parse_items(body, EXPORT_OPERATION)
    if isinstance(body, dict) and "status" in body:
        return parse_task(response, client.redactor)
    object_of(response, client.redactor)  # a non-object answer is refused with its body
    raise contract_error(
        response, client.redactor, "expected the exported intents (a JSON array) or a Task"
    )


def parse_items(body: Any, call: str) -> list[dict[str, Any]]:
    """The exported intents, checked: an array of objects, each with a non-empty string
    `name` and `exampleSentences` of strings; at most MAX_INTENTS of them."""

    def refused(what: str) -> ContractError:
        return ContractError(call=call, message_text=what, hint_text="quote this to support")

    if not isinstance(body, list):
        msg = "the export is not a JSON array of intents"
        raise refused(msg)
    if len(body) > MAX_INTENTS:
        msg = f"the export lists {len(body)} intents, more than the {MAX_INTENTS} accepted"
        raise refused(msg)
    for number, item in enumerate(body, start=1):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            msg = f"intent {number} of the export has no name"
            raise refused(msg)
        sentences = item.get("exampleSentences", [])
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            msg = f"intent {number} of the export: exampleSentences is not a list of strings"
            raise refused(msg)
    return list(body)


def _write(path: Path, content: bytes) -> None:
    """Write the whole file or none of it: a half-written backup restores nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    partial.replace(path)
