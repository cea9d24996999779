"""Intent exports in the v2 emulator: `POST /flows/{id}/intents/export {localeId, format}`.

What the sources say it answers (contract notes 3.2, C9): Cognigy's CLI writes the
client's return value straight to `intents.json`, so by default the answer is the file
itself, a JSON array of intents in the import format (notes 4.2). C9 also reads it as
"a Task, then a download"; `V2Variants.intents_export = "task"` answers that way: a
created Task whose read shape carries `data.downloadLink` once it is `done`, and the
link serves the same array.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ci_trainer.backends.cognigy_v2.emulator.model import Flow, new_id
from ci_trainer.backends.cognigy_v2.emulator.problems import V2Problem
from ci_trainer.backends.cognigy_v2.emulator.responses import json_body, json_response

if TYPE_CHECKING:
    from ci_trainer.backends.cognigy_v2.emulator.model import TaskRecord
    from ci_trainer.backends.cognigy_v2.emulator.service import V2Service


def export_items(flow: Flow, locale_ref: str) -> list[dict[str, Any]]:
    """The flow's intents that have sentences in the locale, as the JSON file holds them."""
    return [
        {
            "name": intent.name,
            "exampleSentences": list(intent.sentences[locale_ref]),
            "rules": [],
            "tags": list(intent.tags),
            "condition": "",
            "disambiguationSentence": "",
            "childFeatures": False,
            "biasTowardsParentOrChildIntents": "parents",
            "parent": intent.parent or "",  # the parent intent by name (notes 4.2)
            "defaultReply": {},
            "entryPoint": "",
            "isRejectIntent": intent.is_reject,
            "isDisabled": intent.is_disabled,
            "overrideIntentDefaultRepliesAsExamples": "",
        }
        for intent in flow.intents.values()
        if intent.sentences.get(locale_ref)
    ]


class IntentExports:
    """Answers exports, directly or as a Task with a download link (`shape`)."""

    def __init__(self, service: V2Service, shape: str) -> None:
        self._service = service
        self._shape = shape
        self._files: dict[str, bytes] = {}  # download token -> the exported file
        self._lock = threading.Lock()

    def export(self, request: Request, args: dict[str, str]) -> Response:
        body = json_body(request)
        locale_id, fmt = body.get("localeId"), body.get("format")
        if not isinstance(locale_id, str) or fmt not in ("json", "csv"):
            raise V2Problem(400, "Validation failed: localeId and format (json, csv)", 1000)
        if fmt == "csv":
            raise V2Problem(501, "this emulator exports JSON only", 1009)
        service = self._service
        with service.lock:
            project, flow, locale = service.flow_locale(args["flow_id"], locale_id)
            items = export_items(flow, locale.reference_id)
        if self._shape != "task":
            return json_response(items)
        token = new_id()
        link = f"{request.host_url}new/v2.0/intents/exports/{token}"
        content = json.dumps(items).encode("utf-8")

        def work(task: TaskRecord) -> None:
            with self._lock:
                self._files[token] = content
            task.parameters["downloadLink"] = link

        params = {"flowId": flow.id, "localeId": locale.id, "format": "json"}
        task = service.start_task("exportIntents", project.id, params, work)
        return json_response(task.render_created("createdAt"), status=202)

    def download(self, request: Request, args: dict[str, str]) -> Response:
        with self._lock:
            content = self._files.get(args["token"])
        if content is None:
            raise V2Problem(404, "unknown or expired download link", 1002)
        return Response(content, status=200, mimetype="application/json")
