"""Property test: whatever text a run holds, the receiver gets signed JSON without secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_trainer import webhook
from ci_trainer.redact import Redactor

from .conftest import Receiver, make_result

SECRET = "whsec-Kq8v3Zr0"
CLIENT_SECRET = "cl13nt-s3cr3t-value"


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


# Any text, lone surrogates included, with a secret leaked into it by a would-be bug.
leaky_text = st.builds(
    lambda head, secret, tail: head + secret + tail,
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),
    st.sampled_from([SECRET, CLIENT_SECRET, ""]),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),
)


@settings(max_examples=30, deadline=None)
@given(reason=leaky_text, model_id=leaky_text)
def test_any_run_arrives_signed_parseable_and_redacted(
    shared_receiver: Receiver, reason: str, model_id: str
) -> None:
    shared_receiver.received.clear()
    result = make_result(reason=reason, model_id=model_id)
    delivery = webhook.deliver(
        result,
        shared_receiver.url,
        SECRET,
        timeout=5.0,
        redactor=Redactor([SECRET, CLIENT_SECRET]),
    )
    assert delivery.delivered, delivery.error
    [got] = shared_receiver.received
    assert webhook.verify_signature(got.body, got.headers["X-CI-Trainer-Signature"], SECRET)
    event = json.loads(got.body.decode("utf-8"))
    assert event["eventId"] == delivery.event_id
    assert SECRET.encode() not in got.body
    assert CLIENT_SECRET.encode() not in got.body
