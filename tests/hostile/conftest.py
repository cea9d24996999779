"""The hostile service, one per module (it is stateless)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hostile.server import HostileServer


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server
