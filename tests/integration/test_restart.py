"""Sessions, visitors and applied ids survive a server restart (embedded Redis, append-only file)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support import FAST, Server, open_session, recv, send

pytestmark = pytest.mark.integration


def test_resume_and_dedupe_across_restart(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"timing": {**FAST["timing"], "session_timeout_s": 60, "leave_grace_s": 30}})
    srv.start()
    try:
        ws, ready = open_session(srv)
        with ws:
            send(ws, {"t": "cart", "items": [{"id": "1", "name": "Boot", "price": 139, "qty": 1}],
                      "total": 139, "currency": "EUR"})
            send(ws, {"t": "purchase", "id": "buy-1", "order": "B1", "total": 139, "currency": "EUR"})
            assert recv(ws) == {"t": "ack", "id": "buy-1"}
            srv.stop()  # SIGTERM: sockets get 1012, pending writes are flushed, valkey stops
        srv.start()
        ws, again = open_session(srv, vid=ready["vid"], sid=ready["sid"])
        with ws:
            assert again["resumed"] is True and again["sid"] == ready["sid"]
            send(ws, {"t": "purchase", "id": "buy-1", "order": "B1", "total": 139, "currency": "EUR"})
            assert recv(ws) == {"t": "ack", "id": "buy-1"}
            s = srv.session(ready["sid"])
            assert s["purchases"] == 1 and s["cart"]["total"] == 139 and s["connected"] == 1
    finally:
        srv.stop()


def test_drain_closes_sockets_with_1012(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST).start()
    try:
        ws, _ = open_session(srv)
        srv.stop()
        from websockets.exceptions import ConnectionClosed
        with pytest.raises(ConnectionClosed) as err:
            ws.recv(timeout=5)
        assert err.value.rcvd is not None and err.value.rcvd.code == 1012
    finally:
        srv.stop()


def test_stale_pid_and_socket_from_a_crash_do_not_block_start(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST).start()
    redis_dir = tmp_path / "var" / "redis"
    valkey_pid = int((redis_dir / "redis.pid").read_text())
    srv.stop(signal.SIGKILL)  # the server dies; its valkey child keeps running
    os.kill(valkey_pid, 0)
    try:
        srv.start()
        ws, _ = open_session(srv)
        ws.close()
    finally:
        srv.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(valkey_pid, 0)


def test_external_redis_url_starts_nothing(tmp_path: Path) -> None:
    """With redis.url set, the server uses that Redis and does not start its own."""
    from server.embedded import EmbeddedRedis

    ext = EmbeddedRedis(tmp_path / "ext")  # stands in for an operator's Redis
    url = ext.start()
    try:
        (tmp_path / "app").mkdir()
        srv = Server(tmp_path / "app", FAST | {"redis": {"url": url}}).start()
        try:
            ws, ready = open_session(srv)
            ws.close()
            assert srv.session(ready["sid"])["sid"] == ready["sid"]
            assert not (tmp_path / "app" / "var" / "redis").exists()
        finally:
            srv.stop()
    finally:
        ext.stop()


def test_sessions_of_a_killed_instance_are_closed_by_another(tmp_path: Path) -> None:
    """Two instances, one Redis: the one holding a shopper's socket is killed (no shutdown); the other
    notices its silence, closes the socket for it, and the session leaves as usual."""
    from server.embedded import EmbeddedRedis

    redis = EmbeddedRedis(tmp_path / "shared")
    url = redis.start()
    fast = FAST | {"server": {"heartbeat_s": 0.2}, "redis": {"url": url}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Server(tmp_path / "a", fast).start()
    b = Server(tmp_path / "b", fast).start()
    try:
        ws, ready = open_session(b)
        a.wait_session(ready["sid"], lambda s: s["connected"] == 1)
        b.stop(signal.SIGKILL)
        ws.close()
        s = a.wait_session(ready["sid"], lambda s: s["state"] == "left", timeout=8)
        assert s["connected"] == 0
    finally:
        a.stop()
        b.stop()
        redis.stop()


@pytest.mark.parametrize("outage", ["stalled", "restarted"])
def test_instances_do_not_declare_each_other_dead_after_a_redis_outage(tmp_path: Path, outage: str) -> None:
    """Redis stops answering for longer than the dead-after period, then comes back. Every instance
    was silent; none may claim the others (it must first be healthy for the whole period itself)."""
    from tests.support import Valkey, wait_for

    redis = Valkey(tmp_path / "shared").start()
    fast = FAST | {"server": {"heartbeat_s": 0.2}, "redis": {"url": redis.url}}  # dead after 1.2 s
    a = Server(tmp_path / "a", fast).start()
    b = Server(tmp_path / "b", fast).start()
    try:
        wa, ra = open_session(a)
        wb, rb = open_session(b)
        if outage == "stalled":
            redis.signal(signal.SIGSTOP)
            time.sleep(2.5)
            redis.signal(signal.SIGCONT)
        else:
            redis.stop()
            time.sleep(2.5)
            redis.start()
        wait_for(lambda: httpx.get(f"{a.url}/healthz").status_code == 200
                 and httpx.get(f"{b.url}/healthz").status_code == 200, timeout=10)
        time.sleep(2.0)  # longer than dead-after once everyone is back
        for srv, ready in ((a, ra), (b, rb)):
            s = srv.session(ready["sid"])
            assert s["connected"] == 1 and s["state"] == "active", s
        assert "stopped answering" not in a.log.read_text() + b.log.read_text()
        wa.close()
        wb.close()
    finally:
        a.stop()
        b.stop()
        redis.stop()
