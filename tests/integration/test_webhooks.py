"""Abandonment alerts and signed webhooks, against a real HTTP receiver in the test: signatures
verify, retries back off, and a restart in the middle of retrying still delivers. Delivery is
at-least-once; the receiver deduplicates on the Linger-Delivery id, so each event is processed once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from server.core.alerts import verify
from tests.support import FAST, TOKEN, Server, open_session, recv, send

pytestmark = pytest.mark.integration
SECRET = "whsec-test-0123456789"


class Receiver:
    """A merchant's endpoint: verifies signatures, dedupes on the delivery id, can fail on purpose."""

    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []
        self.processed: dict[str, dict[str, Any]] = {}
        self.fail_first = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["content-length"]))
                ok = verify(SECRET, self.headers.get("linger-signature", ""), body, int(time.time()))
                did = self.headers.get("linger-delivery", "")
                with outer.lock:
                    outer.attempts.append({"id": did, "valid": ok, "event": self.headers.get("linger-event")})
                    failing = outer.fail_first > 0
                    if failing:
                        outer.fail_first -= 1
                    elif ok and did not in outer.processed:
                        outer.processed[did] = orjson.loads(body)
                self.send_response(500 if failing else (200 if ok else 401))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def events(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.processed.values() if b["event"] == name]

    def wait(self, name: str, n: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.events(name)
            if len(got) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{name}: {len(self.events(name))} of {n} arrived; attempts: {self.attempts}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.http.shutdown()
    r.http.server_close()


def hook_server(tmp: Path, receiver: Receiver, **timing: Any) -> Server:
    return Server(tmp, FAST | {"webhooks": {"retry_base_s": 0.2, "poll_ms": 20, **timing}},
                  site={"capture": "live", "alert_cart_total": 250,
                        "webhooks": [{"url": receiver.url, "secret": SECRET,
                                      "events": ["lead.captured", "cart.abandoned", "alert.raised", "purchase"]}]})


def cart(ws: Any, total: float) -> None:
    send(ws, {"t": "cart", "items": [{"id": "1", "name": "Bag", "price": total, "qty": 1}], "total": total,
              "currency": "EUR"})


def test_lead_and_purchase_webhooks_are_signed_and_logged(tmp_path: Path, receiver: Receiver) -> None:
    srv = hook_server(tmp_path, receiver).start()
    try:
        ws, ready = open_session(srv)
        with ws:
            cart(ws, 120)
            send(ws, {"t": "email", "id": "e1", "email": "hook@example.com", "source": "field", "field": "email",
                      "consent": True})
            assert recv(ws)["t"] == "ack"
            send(ws, {"t": "purchase", "id": "o1", "order": "A-1", "total": 120, "currency": "EUR"})
            assert recv(ws)["t"] == "ack"
        lead = receiver.wait("lead.captured")[0]
        assert lead["data"]["email"] == "hook@example.com" and lead["data"]["vid"] == ready["vid"]
        assert lead["data"]["cart"]["total"] == 120
        buy = receiver.wait("purchase")[0]
        assert buy["data"]["order"] == "A-1" and buy["data"]["email"] == "hook@example.com"
        assert all(a["valid"] for a in receiver.attempts)
        body = httpx.get(f"{srv.url}/api/v1/webhooks/deliveries?site=demo",
                         headers={"authorization": f"Bearer {TOKEN}"}).json()
        assert {e["event"] for e in body["log"] if e["status"] == "delivered"} >= {"lead.captured", "purchase"}
    finally:
        srv.stop()


def test_abandonment_alerts(tmp_path: Path, receiver: Receiver) -> None:
    srv = hook_server(tmp_path, receiver).start()
    try:
        ws, idle = open_session(srv, url="https://shop.example/checkout", kind="checkout")
        with ws:
            cart(ws, 300)
            alert = receiver.wait("alert.raised")[0]  # idle_after_ms 400 at checkout
            assert alert["data"]["reason"] == "idle_at_checkout" and alert["data"]["cart"]["total"] == 300
        ws, small = open_session(srv, url="https://shop.example/cart", kind="cart")
        cart(ws, 40)
        time.sleep(0.1)
        ws.close()
        abandoned = receiver.wait("cart.abandoned", 2)  # leave_grace 0.6 s: both carts left
        assert {a["data"]["sid"] for a in abandoned} == {idle["sid"], small["sid"]}
        reasons = sorted(a["data"]["reason"] for a in receiver.wait("alert.raised", 2))
        assert reasons == ["idle_at_checkout", "left_with_cart"]  # the 40 cart is below the alert total
        listed = httpx.get(f"{srv.url}/api/v1/alerts?site=demo", headers={"authorization": f"Bearer {TOKEN}"})
        assert [a["reason"] for a in listed.json()["alerts"]] == ["left_with_cart", "idle_at_checkout"]
    finally:
        srv.stop()


def test_a_restart_in_the_middle_of_retries_still_delivers(tmp_path: Path, receiver: Receiver) -> None:
    receiver.fail_first = 3
    srv = hook_server(tmp_path, receiver, retry_base_s=0.5).start()
    try:
        ws, ready = open_session(srv)
        with ws:
            send(ws, {"t": "purchase", "id": "o9", "order": "R-9", "total": 50, "currency": "EUR"})
            assert recv(ws)["t"] == "ack"
        deadline = time.monotonic() + 5
        while len(receiver.attempts) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        srv.stop()  # mid-retry: the delivery is in Redis, not in this process
        assert receiver.events("purchase") == []
        srv.start()
        got = receiver.wait("purchase", timeout=15)
        assert len(got) == 1 and got[0]["data"]["order"] == "R-9"
        ids = {a["id"] for a in receiver.attempts}
        assert len(ids) == 1 and len(receiver.attempts) >= 4  # one delivery id across every retry
    finally:
        srv.stop()


def test_bad_webhook_config_names_the_key(tmp_path: Path) -> None:
    from server import config
    from server.config import ConfigError

    site = {"key": "demo", "origins": ["http://a"], "webhooks": [{"url": "ftp://x", "secret": SECRET}]}
    with pytest.raises(ConfigError, match=r"sites\[0\]\.webhooks\[0\]\.url must be an http\(s\) URL"):
        config.load(doc={"sites": [site]}, env={})
    site["webhooks"] = [{"url": "https://x.example/h", "secret": "short"}]
    with pytest.raises(ConfigError, match="secret must be a string of at least 16 characters"):
        config.load(doc={"sites": [site]}, env={})
    site["webhooks"] = [{"url": "https://x.example/h", "secret": SECRET, "events": ["order.shipped"]}]
    with pytest.raises(ConfigError, match="events must list some of"):
        config.load(doc={"sites": [site]}, env={})
