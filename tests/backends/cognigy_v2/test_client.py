"""The v2 client against the v2 emulator: every endpoint it uses, the headers it sends,
pagination, tolerated shape variants, retries, errors and the request budget."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from ci_trainer.backends.cognigy_v2.client import CognigyV2Client, v2_policy
from ci_trainer.backends.cognigy_v2.emulator.app import V2Variants
from ci_trainer.backends.cognigy_v2.emulator.server import V2Emulator
from ci_trainer.backends.cognigy_v2.wire import Task
from ci_trainer.datasets import parse_dataset
from ci_trainer.errors import ApiError, AuthError, ContractError
from ci_trainer.http.budget import RequestBudget
from ci_trainer.http.policy import RetryPolicy
from ci_trainer.redact import Redactor

from .conftest import (
    DE,
    EN,
    PROJECT,
    SHOP_FLOW,
    TALK_FLOW,
    TARGET_PROJECT,
    EmulatorFactory,
    make_client,
    shop_json,
)


def finish(client: CognigyV2Client, task: Task) -> Task:
    deadline = time.monotonic() + 20
    while not task.terminal and time.monotonic() < deadline:
        time.sleep(0.02)
        task = client.read_task(task.id)
    return task


def trained(client: CognigyV2Client, flow: str = SHOP_FLOW, locale: str = EN) -> Task:
    return finish(client, client.train_intents(flow, locale))


# ---------------------------------------------------------------- headers and transport


def test_every_request_sends_the_key_and_accepts_json_and_no_get_has_a_body(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    client.read_project(PROJECT)
    client.list_locales(PROJECT)
    client.read_flow(SHOP_FLOW, EN)
    client.list_intents(SHOP_FLOW, EN)
    client.list_snapshots(PROJECT)
    assert emu.app.log, "the emulator saw no requests"
    for entry in emu.app.log:
        assert entry.accept == "application/json"
        assert entry.path.startswith("/new/v2.0/")
        if entry.method == "GET":
            assert not entry.has_body


def test_the_client_refuses_to_send_a_get_with_a_body(client: CognigyV2Client) -> None:
    with pytest.raises(ValueError, match="GET must not carry a body"):
        client.send("readProject", "GET", f"/projects/{PROJECT}", json_body={"x": 1})


def test_plain_http_to_a_remote_host_is_refused() -> None:
    from ci_trainer.http.base_url import BaseUrlError

    with pytest.raises(BaseUrlError, match="plain http"):
        CognigyV2Client("http://api-trial.cognigy.ai", "key", redactor=Redactor())


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter22@api-trial.cognigy.ai",
        "https://:hunter22@api-trial.cognigy.ai",  # a password without a user name
        "http://:hunter22@example.com",
    ],
)
def test_credentials_in_the_base_url_are_refused_without_echoing_them(url: str) -> None:
    from ci_trainer.http.base_url import BaseUrlError

    with pytest.raises(BaseUrlError, match="user name or password") as caught:
        CognigyV2Client(url, "key", redactor=Redactor())
    assert "hunter22" not in str(caught.value)


def test_the_v2_policy_keeps_the_given_policy_but_its_retry_statuses() -> None:
    given = RetryPolicy(read_timeout=1.0, max_attempts=2, max_wait_per_call=9.0)
    assert v2_policy(given) == RetryPolicy(
        read_timeout=1.0,
        max_attempts=2,
        max_wait_per_call=9.0,
        retry_statuses=frozenset({408, 429, 500, 502, 503, 504}),
    )


def test_a_base_url_with_a_fragment_is_refused() -> None:
    from ci_trainer.http.base_url import BaseUrlError

    with pytest.raises(BaseUrlError, match="not a plain http"):
        CognigyV2Client("https://api-trial.cognigy.ai/#x", "key", redactor=Redactor())


# ---------------------------------------------------------------- discovery and lists


def test_locales_and_flow_read(client: CognigyV2Client) -> None:
    locales = {loc["_id"]: loc for loc in client.list_locales(PROJECT)}
    assert set(locales) == {EN, DE}
    assert all(loc["referenceId"] for loc in locales.values())
    flow = client.read_flow(SHOP_FLOW, DE)
    assert flow["_id"] == SHOP_FLOW
    assert flow["isTrainingOutOfDate"] is True
    assert flow["feedbackReport"] is None  # never trained


def test_pagination_follows_the_cursor_across_pages(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    many = "\n".join(f"intent_{i:03d},exampleSentence,sentence {i}" for i in range(230))
    emu.service.set_intents(TALK_FLOW, EN, parse_dataset(many, "many.csv"))
    intents = client.list_intents(TALK_FLOW, EN)
    assert len(intents) == 230
    assert len({i["_id"] for i in intents}) == 230
    pages = emu.app.calls(f"/flows/{TALK_FLOW}/intents")
    assert len(pages) == 3
    assert "next" in pages[1].query and "next" in pages[2].query


def test_pagination_accepts_the_next_key_instead_of_next_cursor(
    make_emulator: EmulatorFactory,
) -> None:
    emu = make_emulator(V2Variants(page_cursor_key="next"))
    many = "\n".join(f"intent_{i:03d},exampleSentence,sentence {i}" for i in range(150))
    emu.service.set_intents(TALK_FLOW, EN, parse_dataset(many, "many.csv"))
    assert len(make_client(emu).list_intents(TALK_FLOW, EN)) == 150


def test_hal_pages_are_read_across_pages_when_the_server_ignores_accept(
    make_emulator: EmulatorFactory,
) -> None:
    emu = make_emulator(V2Variants(hal_always=True))
    many = "\n".join(f"intent_{i:03d},exampleSentence,sentence {i}" for i in range(120))
    emu.service.set_intents(TALK_FLOW, EN, parse_dataset(many, "many.csv"))
    intents = make_client(emu).list_intents(TALK_FLOW, EN)
    assert len({i["_id"] for i in intents}) == 120
    pages = emu.app.calls(f"/flows/{TALK_FLOW}/intents")
    assert [p.query.get("skip") for p in pages] == ["0", "100"]


def test_a_list_without_json_accept_is_hal_and_still_readable(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    raw = requests.get(
        f"{emu.base_url}/new/v2.0/locales",
        params={"projectId": PROJECT, "limit": "1"},
        headers={"X-API-Key": emu.api_key},
        timeout=5,
    )
    body = raw.json()
    assert "items" not in body
    assert [loc["localeId"] for loc in body["_embedded"]["locales"]] == [EN]
    assert "skip=1" in body["_links"]["next"]["href"]


# ---------------------------------------------------------------- intents, training, tasks


def test_import_then_train_then_scores(emu: V2Emulator, client: CognigyV2Client) -> None:
    content = shop_json(
        {
            "a": ["alpha one", "alpha two", "alpha three"],
            "b": ["beta one", "beta two", "beta three"],
        }
    )
    task = client.import_intents(SHOP_FLOW, DE, "intents.json", content.encode(), "overwrite")
    assert task.kind == "importIntents" and task.status == "queued"
    assert finish(client, task).status == "done"
    assert {i["name"] for i in client.list_intents(SHOP_FLOW, DE)} == {"a", "b"}
    # the other locale keeps its own sentences
    assert len(client.list_intents(SHOP_FLOW, EN)) == 3
    done = trained(client, SHOP_FLOW, DE)
    assert done.status == "done" and done.kind == "trainIntents" and done.progress == 1.0
    flow = client.read_flow(SHOP_FLOW, DE)
    locale = next(loc for loc in client.list_locales(PROJECT) if loc["_id"] == DE)
    scores = client.nlu_scores(PROJECT, "alpha", flow["referenceId"], locale["referenceId"])
    assert scores[0].name == "a"
    assert scores[0].score >= scores[-1].score


def test_a_csv_import_in_merge_mode_adds_sentences(client: CognigyV2Client) -> None:
    csv_text = (
        "track_order,exampleSentence,parcel whereabouts\nnew_intent,exampleSentence,brand new\n"
    )
    task = client.import_intents(SHOP_FLOW, EN, "intents.csv", csv_text.encode(), "merge")
    assert finish(client, task).status == "done"
    assert {i["name"] for i in client.list_intents(SHOP_FLOW, EN)} >= {
        "track_order",
        "new_intent",
        "cancel_order",
    }


def test_an_invalid_import_file_fails_its_task_with_a_reason(client: CognigyV2Client) -> None:
    task = client.import_intents(
        SHOP_FLOW, EN, "intents.json", b'[{"exampleSentences": ["x"]}]', "overwrite"
    )
    final = finish(client, task)
    assert final.status == "error"
    assert final.fail_reason and "name" in final.fail_reason


def test_feedback_reports_on_flow_and_intents(client: CognigyV2Client) -> None:
    trained(client)
    flow = client.read_flow(SHOP_FLOW, EN)
    report = flow["feedbackReport"]
    assert 0.0 <= report["info"]["fScore"] <= 1.0
    assert report["findings"][0]["type"] in {"goodAccuracy", "fairAccuracy", "poorAccuracy"}
    intents = client.list_intents(SHOP_FLOW, EN)
    assert all("fScore" in i["feedbackReport"]["info"] for i in intents)


def test_task_failure_carries_the_fail_reason(emu: V2Emulator, client: CognigyV2Client) -> None:
    emu.service.fail_next_task("trainIntents", "NLU worker crashed")
    final = trained(client)
    assert final.status == "error"
    assert final.fail_reason == "NLU worker crashed"


def test_cancel_a_queued_training(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator(task_seconds=30)
    api = make_client(emu)
    task = api.train_intents(SHOP_FLOW, EN)
    api.cancel_task(task.id)
    assert api.read_task(task.id).status in ("cancelling", "cancelled")
    assert finish(api, task).status == "cancelled"


@pytest.mark.parametrize("time_field", ["createdAt", "lastCreatedAt"])
def test_created_and_read_task_shapes_are_both_read(
    make_emulator: EmulatorFactory, time_field: str
) -> None:
    emu = make_emulator(V2Variants(created_task_time=time_field))
    api = make_client(emu)
    created = api.train_intents(SHOP_FLOW, EN)  # `type` + `parameters`
    read = finish(api, created)  # `name` + `data`
    assert created.kind == read.kind == "trainIntents"
    assert created.data == read.data == {"flowId": SHOP_FLOW, "localeId": EN, "mode": "full"}


@pytest.mark.parametrize("shape", ["array", "object"])
def test_nlu_scores_in_either_shape(make_emulator: EmulatorFactory, shape: str) -> None:
    emu = make_emulator(V2Variants(scores_shape=shape))
    api = make_client(emu)
    trained(api)
    flow = api.read_flow(SHOP_FLOW, EN)
    locale = next(loc for loc in api.list_locales(PROJECT) if loc["_id"] == EN)
    scores = api.nlu_scores(PROJECT, "cancel my order", flow["referenceId"], locale["referenceId"])
    assert scores[0].name == "cancel_order"
    assert scores[0].flow == flow["referenceId"]


# ---------------------------------------------------------------- snapshots


def test_snapshot_lifecycle_into_a_second_project(client: CognigyV2Client) -> None:
    trained(client)
    assert finish(client, client.create_snapshot(PROJECT, "ci-trainer-1", "test")).status == "done"
    snap = next(s for s in client.list_snapshots(PROJECT) if s["name"] == "ci-trainer-1")
    assert snap["isPackaged"] is False
    assert finish(client, client.package_snapshot(snap["_id"])).status == "done"
    package = client.download_snapshot(snap["_id"])
    assert len(package) >= 64
    assert (
        finish(client, client.upload_snapshot(TARGET_PROJECT, "s.csnap", package)).status == "done"
    )
    # The upload shows in the list a few reads after its Task is done (C7).
    listed = [client.list_snapshots(TARGET_PROJECT) for _ in range(3)]
    assert [[s["name"] for s in page] for page in listed] == [[], [], ["ci-trainer-1"]]
    copy = listed[-1][0]
    assert copy["_id"] != snap["_id"]
    assert finish(client, client.restore_snapshot(copy["_id"], TARGET_PROJECT)).status == "done"
    flow = client.read_flow(SHOP_FLOW, EN)
    locale = next(loc for loc in client.list_locales(TARGET_PROJECT) if loc["name"] == "locale-1")
    scores = client.nlu_scores(
        TARGET_PROJECT, "where is my order", flow["referenceId"], locale["referenceId"]
    )
    assert scores[0].name == "track_order"  # the trained model came along
    # A delete is a Task (C4): the snapshot is gone once it is done.
    assert finish(client, client.delete_snapshot(snap["_id"])).status == "done"
    assert all(s["_id"] != snap["_id"] for s in client.list_snapshots(PROJECT))


def test_download_link_409_until_packaged_is_retried_then_reported(emu: V2Emulator) -> None:
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    client = make_client(emu, wait=wait)
    finish(client, client.create_snapshot(PROJECT, "ci-trainer-x", ""))
    snap_id = client.list_snapshots(PROJECT)[0]["_id"]
    with pytest.raises(ApiError) as caught:
        client.snapshot_download_link(snap_id)
    assert caught.value.status == 409
    assert len(emu.app.calls("/downloadlink")) == 5
    assert waits == [0.5, 1.0, 2.0, 4.0]


# ---------------------------------------------------------------- errors and retries


def test_a_missing_key_gets_the_oauth_shape_and_a_bad_key_rfc7807_with_code(
    emu: V2Emulator,
) -> None:
    raw = requests.get(f"{emu.base_url}/new/v2.0/projects/{PROJECT}", timeout=5)
    assert raw.status_code == 401 and "error_description" in raw.json()
    api = CognigyV2Client(emu.base_url, "wrong-key-123", redactor=Redactor())
    with pytest.raises(AuthError) as caught:
        api.read_project(PROJECT)
    error = caught.value
    assert error.status == 401
    assert error.trace_id and error.trace_id.startswith("api--")
    assert error.extra["code"] == 401
    assert "COGNIGY_API_KEY" in str(error)
    assert "wrong-key-123" not in str(error) + (error.body or "")


def test_oauth_style_error_fields_become_title_and_detail(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    emu.app.fail_next("readProject", 403, style="oauth")
    with pytest.raises(AuthError) as caught:
        client.read_project(PROJECT)
    assert caught.value.title == "invalid_token"
    assert caught.value.detail and "not valid" in caught.value.detail


def test_not_found_names_the_config_fields(client: CognigyV2Client) -> None:
    with pytest.raises(ApiError) as caught:
        client.read_flow("0" * 24, EN)
    assert caught.value.status == 404
    assert "cognigy_v2.project_id" in str(caught.value)
    assert "Cognigy code 1002" in str(caught.value)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_transient_statuses_are_retried(
    emu: V2Emulator, client: CognigyV2Client, status: int
) -> None:
    emu.app.fail_next("readProject", status, retry_after="0")
    assert client.read_project(PROJECT)["_id"] == PROJECT
    assert [e.status for e in emu.app.calls(f"/projects/{PROJECT}")] == [status, 200]
    assert client.requests.used == 2  # the retry counts against the budget


def test_a_long_retry_after_ends_the_call_with_a_clear_error(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    emu.app.fail_next("readProject", 429, retry_after="3600")
    with pytest.raises(ApiError) as caught:
        client.read_project(PROJECT)
    assert caught.value.status == 429
    assert "3600" in str(caught.value)


def test_501_is_not_retried(emu: V2Emulator, client: CognigyV2Client) -> None:
    emu.app.fail_next("readProject", 501)
    with pytest.raises(ApiError):
        client.read_project(PROJECT)
    assert len(emu.app.calls(f"/projects/{PROJECT}")) == 1


def test_a_malformed_page_is_a_contract_error(emu: V2Emulator, client: CognigyV2Client) -> None:
    with pytest.raises(ContractError):
        client.pages("readProject", f"/projects/{PROJECT}", "projects", "projectId").__next__()


def test_the_server_rate_limit_is_honoured(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator(rate_limit=(3, 1.0))
    api = make_client(emu)
    for _ in range(5):
        api.read_project(PROJECT)
    statuses = [e.status for e in emu.app.calls(f"/projects/{PROJECT}")]
    assert 429 in statuses and statuses[-1] == 200


def test_the_request_budget_waits_when_its_window_is_full(emu: V2Emulator) -> None:
    now = [0.0]
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        now[0] += seconds
        return False

    budget = RequestBudget(window_limit=2, window_seconds=60, clock=lambda: now[0], wait=wait)
    api = make_client(emu, requests=budget)
    for _ in range(3):
        api.read_project(PROJECT)
    assert waits == [60.0]
    assert budget.used == 3


def test_the_request_budget_refuses_past_the_run_limit(emu: V2Emulator) -> None:
    api = make_client(emu, requests=RequestBudget(run_limit=2))
    api.read_project(PROJECT)
    api.read_project(PROJECT)
    with pytest.raises(ApiError, match="request budget of 2"):
        api.read_project(PROJECT)


class _Storage(BaseHTTPRequestHandler):
    """A stand-in for presigned storage: /link redirects to /file; records headers."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        if self.path.startswith("/link"):
            self.send_response(302)
            self.send_header("Location", "/file?sig=abc")
            self.end_headers()
            return
        body = b"x" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_download_on_another_host_follows_redirects_without_the_key(
    emu: V2Emulator, client: CognigyV2Client
) -> None:
    _Storage.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Storage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        content = client.download(f"http://127.0.0.1:{server.server_port}/link?x=1")
    finally:
        server.shutdown()
        server.server_close()
    assert content == b"x" * 100
    assert len(_Storage.seen) == 2
    assert all("X-API-Key" not in headers for headers in _Storage.seen)


def test_a_snapshot_download_may_weigh_more_than_an_api_answer(emu: V2Emulator) -> None:
    """The body cap guards every answer, but a snapshot may be up to 256 MB (C15): its
    download gets a cap and a deadline of its own, so a real one is not refused."""
    tiny = RetryPolicy(max_attempts=1, max_body_bytes=50)
    client = make_client(emu, policy=tiny)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Storage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert client.download(f"http://127.0.0.1:{server.server_port}/link") == b"x" * 100
        with pytest.raises(ApiError, match="50"):
            client.list_snapshots(PROJECT)  # an API answer of more than 50 bytes
    finally:
        server.shutdown()
        server.server_close()
        client.close()


@pytest.mark.parametrize("bad", ["..", ".", "../projects", "a" * 23 + "/", "A" * 24, "x?y=1"])
def test_an_id_that_is_not_cognigys_never_reaches_a_path(
    emu: V2Emulator, client: CognigyV2Client, bad: str
) -> None:
    """Ids from an answer go into the next path (a task, a snapshot): one of another
    shape than C14's is refused before it could change the URL."""
    seen = len(emu.app.log)
    with pytest.raises(ContractError, match="nothing was sent"):
        client.read_task(bad)
    with pytest.raises(ContractError, match="nothing was sent"):
        client.delete_snapshot(bad)
    assert len(emu.app.log) == seen
