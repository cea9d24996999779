"""Tolerant readers of v2 shapes, fed hand-made responses (no server needed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ci_trainer.backends.cognigy_v2.wire import parse_page, parse_scores, parse_task, v2_error
from ci_trainer.errors import AuthError, ContractError
from ci_trainer.http.client import Call, HttpResponse
from ci_trainer.redact import Redactor

REDACT = Redactor()


def response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, headers or {}, raw, 1, Call("op", "GET", "/x"))


def test_json_page_with_next_cursor() -> None:
    page = parse_page(
        response({"items": [{"_id": "a"}], "total": 3, "nextCursor": "c1"}), REDACT, "x", "xId"
    )
    assert page.items == [{"_id": "a"}] and page.total == 3 and page.next_cursor == "c1"


def test_json_page_with_the_older_next_key() -> None:
    page = parse_page(
        response({"items": [{"_id": "a"}], "next": "c2", "previous": None}), REDACT, "x", "xId"
    )
    assert page.next_cursor == "c2"


def test_hal_page_maps_singular_ids_and_the_next_link() -> None:
    body = {
        "_embedded": {"snapshots": [{"snapshotId": "s1", "name": "n"}]},
        "_links": {"next": {"href": "https://h/new/v2.0/snapshots?limit=1&skip=1"}},
    }
    page = parse_page(response(body), REDACT, "snapshots", "snapshotId")
    assert page.items[0]["_id"] == "s1" and page.next_skip == 1 and page.next_cursor is None
    body["_links"] = {"next": {"href": "https://h/x?next=abc"}}
    assert parse_page(response(body), REDACT, "snapshots", "snapshotId").next_cursor == "abc"


@pytest.mark.parametrize(
    "body",
    [{"data": []}, {"items": "no"}, {"items": [{"name": "no id"}]}, [1, 2], b"<html>"],
)
def test_pages_that_fit_no_shape_are_contract_errors(body: Any) -> None:
    with pytest.raises(ContractError):
        parse_page(response(body), REDACT, "x", "xId")


def test_created_and_read_task_shapes() -> None:
    created = parse_task(
        response(
            {
                "_id": "t",
                "type": "trainIntents",
                "parameters": {"a": 1},
                "status": "queued",
                "lastCreatedAt": 1,
            }
        ),
        REDACT,
    )
    read = parse_task(
        response(
            {
                "_id": "t",
                "name": "trainIntents",
                "data": {"a": 1},
                "status": "error",
                "failReason": "boom",
                "currentStep": 50,
                "totalStep": 100,
            }
        ),
        REDACT,
    )
    assert (created.kind, created.data, created.progress) == ("trainIntents", {"a": 1}, None)
    assert (read.kind, read.fail_reason, read.progress, read.terminal) == (
        "trainIntents",
        "boom",
        0.5,
        True,
    )


@pytest.mark.parametrize("status", ["running", "COMPLETED", None, 3])
def test_an_unknown_task_status_is_a_contract_error(status: Any) -> None:
    with pytest.raises(ContractError, match="unknown task status"):
        parse_task(response({"_id": "t", "status": status}), REDACT)


def test_scores_bare_array_or_wrapped_are_sorted_best_first() -> None:
    items = [{"id": "1", "name": "low", "score": 0.1}, {"id": "2", "name": "high", "score": 0.9}]
    for body in (items, {"scores": items}):
        assert [s.name for s in parse_scores(response(body), REDACT)] == ["high", "low"]
    with pytest.raises(ContractError):
        parse_scores(response({"results": items}), REDACT)
    with pytest.raises(ContractError):
        parse_scores(response([{"name": "x", "score": "high"}]), REDACT)


def test_rfc7807_error_with_code_and_trace_id() -> None:
    body = {
        "type": "Bad Request",
        "title": "Bad Request",
        "status": 400,
        "detail": "Validation failed",
        "code": 1000,
        "traceId": "api--123",
    }
    error = v2_error(response(body, 400), REDACT)
    assert error.trace_id == "api--123"
    assert error.detail == "Validation failed (Cognigy code 1000)"
    assert error.extra["code"] == 1000


def test_oauth_error_and_secrets_in_bodies_are_redacted() -> None:
    redactor = Redactor()
    redactor.add("sekrit-key-value")
    body = {"error": "invalid_client", "error_description": "key sekrit-key-value is unknown"}
    error = v2_error(response(body, 401), redactor)
    assert isinstance(error, AuthError)
    assert error.title == "invalid_client"
    assert "sekrit-key-value" not in str(error) + (error.body or "") + (error.detail or "")
