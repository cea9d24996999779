"""Whatever JSON a v2 service sends, the readers answer a value or a ContractError."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ci_trainer.backends.cognigy_v2.wire import parse_page, parse_scores, parse_task
from ci_trainer.errors import ContractError
from ci_trainer.http.client import Call, HttpResponse
from ci_trainer.redact import Redactor

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "items",
                    "_embedded",
                    "_links",
                    "next",
                    "nextCursor",
                    "total",
                    "_id",
                    "status",
                    "scores",
                    "score",
                    "name",
                    "type",
                    "data",
                    "snapshots",
                    "href",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


def response(body: Any) -> HttpResponse:
    return HttpResponse(200, {}, json.dumps(body).encode(), 1, Call("op", "GET", "/x"))


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_readers_never_raise_anything_but_contract_errors(body: Any) -> None:
    for reader in (
        lambda r: parse_page(r, Redactor(), "snapshots", "snapshotId"),
        lambda r: parse_task(r, Redactor()),
        lambda r: parse_scores(r, Redactor()),
    ):
        with contextlib.suppress(ContractError):
            reader(response(body))
