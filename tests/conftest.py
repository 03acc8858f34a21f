from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pushstand import PushStandIn
from tests.support import FAST, Server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server (subprocess, embedded valkey) with short timings, shared by integration tests."""
    srv = Server(tmp_path_factory.mktemp("srv"), FAST).start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, FAST)
    yield srv
    srv.stop()


@pytest.fixture
def stand() -> Iterator[PushStandIn]:
    """A push-service stand-in (tests/pushstand.py): decrypts payloads, checks VAPID JWTs."""
    s = PushStandIn()
    yield s
    s.close()
