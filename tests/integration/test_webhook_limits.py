"""Webhook endpoints are strangers: one deadline per attempt however slowly they answer, at most
64 KiB of their answer read, one slow endpoint never holding up another, no secret of theirs in
logs or API answers; and the payloads are honest about consent and carry derived ids."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.core.alerts import delivery_id
from server.workers.webhooks import lease_for
from tests.integration.test_webhooks import SECRET, Receiver
from tests.support import FAST, Server, call, next_msg, open_session, send, wait_for

pytestmark = pytest.mark.integration


class RawEndpoint:
    """A TCP endpoint that answers however `behave(conn)` likes; records how each attempt ended."""

    def __init__(self, behave: Callable[[socket.socket, dict[str, Any]], None]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook?token=endpoint-secret"
        self.attempts: list[dict[str, Any]] = []
        self.behave = behave
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        info: dict[str, Any] = {"start": time.monotonic(), "sent": 0}
        self.attempts.append(info)
        try:
            conn.recv(65536)  # the request
            self.behave(conn, info)
        except OSError:
            pass
        finally:
            info["end"] = time.monotonic()
            conn.close()

    def close(self) -> None:
        self.sock.close()


def drip(conn: socket.socket, info: dict[str, Any]) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
    for _ in range(200):  # one byte every 0.25 s: each read is quick, the whole answer takes 50 s
        conn.sendall(b"x")
        info["sent"] += 1
        time.sleep(0.25)


def flood(conn: socket.socket, info: dict[str, Any]) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 300000000\r\n\r\n")
    chunk = b"x" * 65536
    conn.settimeout(5)
    while info["sent"] < 300_000_000:
        conn.sendall(chunk)
        info["sent"] += len(chunk)


def hang(conn: socket.socket, info: dict[str, Any]) -> None:
    time.sleep(30)


@pytest.fixture
def endpoints() -> Iterator[list[RawEndpoint]]:
    made: list[RawEndpoint] = []
    yield made
    for e in made:
        e.close()


def server_with(tmp: Path, urls: list[str], **webhooks: Any) -> Server:
    hooks = [{"url": u, "secret": SECRET, "events": ["purchase", "lead.captured", "cart.abandoned"]} for u in urls]
    return Server(tmp, FAST | {"webhooks": {"poll_ms": 20, "retry_base_s": 60, **webhooks}},
                  site={"capture": "live", "webhooks": hooks}).start()


def buy(srv: Server, n: int = 1) -> dict[str, Any]:
    ws, ready = open_session(srv)
    with ws:
        for i in range(n):
            send(ws, {"t": "purchase", "id": f"o{i}", "order": f"A{i}", "total": 10})
            assert next_msg(ws, "ack") == {"t": "ack", "id": f"o{i}"}
    return ready


def test_a_drip_feeding_endpoint_gets_one_deadline(tmp_path: Path, endpoints: list[RawEndpoint]) -> None:
    ep = RawEndpoint(drip)
    endpoints.append(ep)
    srv = server_with(tmp_path, [ep.url], timeout_s=1.0)
    try:
        buy(srv)
        wait_for(lambda: ep.attempts and "end" in ep.attempts[0], timeout=10)
        took = ep.attempts[0]["end"] - ep.attempts[0]["start"]
        assert took < 2.5, took  # 1 s deadline for the whole attempt, not per read
        log = wait_for(lambda: call(srv, "GET", "/api/v1/webhooks/deliveries?site=demo").json()["pending"])
        assert log[0]["last"]["result"] == "no complete answer within 1 s"
        assert lease_for(1.0) > 1.0 and lease_for(120.0) > 120.0
    finally:
        srv.stop()


def test_at_most_64_kib_of_an_answer_is_read(tmp_path: Path, endpoints: list[RawEndpoint]) -> None:
    ep = RawEndpoint(flood)
    endpoints.append(ep)
    srv = server_with(tmp_path, [ep.url], timeout_s=20.0)
    try:
        buy(srv)
        wait_for(lambda: ep.attempts and "end" in ep.attempts[0], timeout=15)
        assert ep.attempts[0]["sent"] < 40_000_000  # kernel buffers, not 300 MB
        entry = wait_for(lambda: call(srv, "GET", "/api/v1/webhooks/deliveries?site=demo").json()["log"])[0]
        assert entry["status"] == "delivered" and entry["result"] == "HTTP 200"
    finally:
        srv.stop()


def test_a_slow_endpoint_does_not_hold_up_another(tmp_path: Path, endpoints: list[RawEndpoint]) -> None:
    slow = RawEndpoint(hang)
    endpoints.append(slow)
    fast = Receiver()
    try:
        srv = server_with(tmp_path, [slow.url, fast.url], timeout_s=20.0)
        try:
            buy(srv, 30)  # 60 deliveries, 10 slots: the slow endpoint may hold 2 of them
            got = fast.wait("purchase", 30, timeout=10)
            assert len(got) == 30
            assert len(slow.attempts) == 2  # webhooks.per_endpoint: the others wait their turn
        finally:
            srv.stop()
    finally:
        fast.http.shutdown()
        fast.http.server_close()


def test_webhook_urls_are_redacted_and_payloads_say_consent(tmp_path: Path, endpoints: list[RawEndpoint]) -> None:
    failing = RawEndpoint(lambda conn, info: conn.sendall(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n"))
    endpoints.append(failing)
    fast = Receiver()
    try:
        srv = server_with(tmp_path, [failing.url, fast.url], max_attempts=1)
        try:
            ws, ready = open_session(srv)
            with ws:
                send(ws, {"t": "cart", "items": [{"id": "1", "name": "Bag", "price": 80, "qty": 1}], "total": 80})
                send(ws, {"t": "email", "id": "e1", "email": "nocon@example.com", "source": "field",
                          "field": "email", "consent": False})
                assert next_msg(ws, "ack")["id"] == "e1"
                send(ws, {"t": "purchase", "id": "o1", "order": "A1", "total": 80})
                assert next_msg(ws, "ack")["id"] == "o1"
            lead = fast.wait("lead.captured")[0]["data"]
            assert lead["consent"] == {"given": False}
            purchase = fast.wait("purchase")[0]
            assert purchase["data"]["consent"] == {"given": False}
            assert purchase["id"] == delivery_id(fast.url, "demo", ready["vid"], "o1", "purchase")
            body = wait_for(lambda: (b := call(srv, "GET", "/api/v1/webhooks/deliveries?site=demo").json())
                            and [e for e in b["log"] if e["status"] == "failed"] and b)
            text = str(body)
            assert "endpoint-secret" not in text and "/hook" not in text  # shown as its origin only
            assert failing.url.split("/hook")[0] + "/…" in text
        finally:
            srv.stop()
        assert "endpoint-secret" not in srv.log.read_text()
    finally:
        fast.http.shutdown()
        fast.http.server_close()
