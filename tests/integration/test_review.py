"""Holes a hostile review found after the first hardening pass, each reproduced here first:
a failed erase, leads and sessions that grow without bound, consent lost to a race or to a new
visit, a Redis that turns its append-only file off, health that looked fine while writes failed,
a webhook backlog that starved other endpoints, and a shutdown that could hang."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_webhook_limits import RawEndpoint, hang
from tests.integration.test_webhooks import SECRET, Receiver
from tests.support import (
    FAST,
    Server,
    Valkey,
    call,
    embedded_client,
    hello,
    next_msg,
    open_session,
    recv,
    send,
    wait_for,
)

pytestmark = pytest.mark.integration


def email(ws: Any, mid: str, address: str, consent: bool = True) -> None:
    send(ws, {"t": "email", "id": mid, "email": address, "source": "field", "field": "email", "consent": consent,
              "submitted": True})
    assert next_msg(ws, "ack") == {"t": "ack", "id": mid}


def test_a_failed_erase_leaves_no_session_that_acks_without_storing(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST, site={"capture": "live"}).start()
    try:
        r = embedded_client(srv)
        ws, ready = open_session(srv)
        with ws:
            email(ws, "e1", "zombie@example.com")
            r.config_set("maxmemory", 1)
            send(ws, {"t": "act"})
            resp = call(srv, "DELETE", "/api/v1/leads?site=demo&email=zombie@example.com")
            assert resp.status_code == 503 and resp.json()["error"]["code"] == "unavailable"
            r.config_set("maxmemory", 0)
        ws, again = open_session(srv, vid=ready["vid"], sid=ready["sid"])
        with ws:
            send(ws, {"t": "purchase", "id": "p1", "order": "Z1", "total": 5})
            assert next_msg(ws, "ack", timeout=10) == {"t": "ack", "id": "p1"}
            assert srv.session(again["sid"])["purchases"] == 1
        assert r.zcard("lg:recz:purchase:demo") == 1  # acked and stored
        assert call(srv, "DELETE", "/api/v1/leads?site=demo&email=zombie@example.com").status_code == 200
    finally:
        srv.stop()


def test_every_lead_key_expires_and_one_visit_or_address_cannot_make_many(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"limits": {"leads_per_ip_per_hour": 8}}, site={"capture": "live"}).start()
    try:
        r = embedded_client(srv)
        ws, _ = open_session(srv)
        with ws:
            for n in range(7):
                email(ws, f"e{n}", f"visit{n}@example.com")
        kept = {x["email"] for x in call(srv, "GET", "/api/v1/leads?site=demo").json()["leads"]}
        assert kept == {f"visit{n}@example.com" for n in range(5)}  # five addresses per visit
        for n in range(6):  # more visits from the same address: 8 leads an hour in all
            ws, _ = open_session(srv)
            with ws:
                email(ws, "x", f"other{n}@example.com")
        assert len(call(srv, "GET", "/api/v1/leads?site=demo").json()["leads"]) == 8
        for key in r.scan_iter("lg:lead*"):
            if r.type(key) == b"string":
                assert r.ttl(key) > 0, key  # retention.leads_days, consent or not
        for key in r.scan_iter("lg:ev:*"):
            assert r.ttl(key) > 0, key
    finally:
        srv.stop()


def test_a_known_visitor_cannot_mint_sessions_without_limit(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"limits": {"new_sessions_per_ip_per_min": 3}}).start()
    try:
        ws, first = open_session(srv)
        ws.close()
        for _ in range(2):
            ws, again = open_session(srv, vid=first["vid"])  # no sid: a new session each time
            ws.close()
        ws = srv.ws()
        send(ws, hello(vid=first["vid"]))
        err = recv(ws)
        assert err["t"] == "error" and err["code"] == "rate_limited" and "sessions" in err["msg"]
        ws.close()
        ws, resumed = open_session(srv, vid=first["vid"], sid=again["sid"])  # resuming is not a new session
        assert resumed["resumed"] is True
        ws.close()
    finally:
        srv.stop()


def test_two_instances_capturing_one_address_never_lose_its_consent(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()
    cfg = FAST | {"redis": {"url": redis.url}}
    a = Server(tmp_path / "a", cfg, site={"capture": "live"}).start()
    b = Server(tmp_path / "b", cfg, site={"capture": "live"}).start()
    try:
        for n in range(10):
            address = f"race{n}@example.com"
            wa, _ = open_session(a)
            wb, _ = open_session(b)
            go = threading.Barrier(2)

            def capture(ws: Any, consent: bool, go: threading.Barrier = go, address: str = address) -> None:
                go.wait()
                email(ws, "e1", address, consent=consent)

            threads = [threading.Thread(target=capture, args=(wa, True)),
                       threading.Thread(target=capture, args=(wb, False))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wa.close()
            wb.close()
            lead = next(x for x in call(a, "GET", "/api/v1/leads?site=demo").json()["leads"] if x["email"] == address)
            assert lead["consent"]["given"] is True, lead
    finally:
        a.stop()
        b.stop()
        redis.stop()


def test_a_returning_visitors_webhooks_say_their_consent(tmp_path: Path) -> None:
    fast = Receiver()
    try:
        srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 20}}, site={
            "capture": "live", "webhooks": [{"url": fast.url, "secret": SECRET, "events": ["purchase"]}]}).start()
        try:
            ws, first = open_session(srv)
            with ws:
                email(ws, "e1", "loyal@example.com", consent=True)
            time.sleep(3.2)  # session_timeout 3 s: the next hello is a new visit
            ws, again = open_session(srv, vid=first["vid"])
            with ws:
                assert again["sid"] != first["sid"]
                send(ws, {"t": "purchase", "id": "p1", "order": "L1", "total": 20})
                assert next_msg(ws, "ack") == {"t": "ack", "id": "p1"}
            data = fast.wait("purchase")[0]["data"]
            assert data["email"] == "loyal@example.com" and data["consent"] == {"given": True}
        finally:
            srv.stop()
    finally:
        fast.http.shutdown()
        fast.http.server_close()


def test_append_only_switched_off_at_run_time_means_no_ack(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()
    srv = Server(tmp_path / "app", FAST | {"redis": {"url": redis.url}}).start()
    try:
        ws, _ = open_session(srv)
        with ws:
            redis.client().config_set("appendonly", "no")
            send(ws, {"t": "purchase", "id": "p1", "order": "A", "total": 1})
            assert next_msg(ws, "error", timeout=10)["code"] == "unavailable"
            redis.client().config_set("appendonly", "yes")
            wait_for(lambda: redis.client().info("persistence")["aof_rewrite_in_progress"] == 0)
            send(ws, {"t": "purchase", "id": "p1", "order": "A", "total": 1})
            assert next_msg(ws, "ack", timeout=10) == {"t": "ack", "id": "p1"}
    finally:
        srv.stop()
        redis.stop()


def test_health_is_503_while_redis_refuses_writes(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST).start()
    try:
        r = embedded_client(srv)
        ws, _ = open_session(srv)
        with ws:
            r.config_set("maxmemory", 1)
            send(ws, {"t": "purchase", "id": "p1", "order": "A", "total": 1})
            assert next_msg(ws, "error")["code"] == "unavailable"
            h = httpx.get(f"{srv.url}/healthz")
            assert h.status_code == 503 and h.json()["redis"] == "refusing writes"
            r.config_set("maxmemory", 0)
            wait_for(lambda: httpx.get(f"{srv.url}/healthz").status_code == 200, timeout=5)
    finally:
        srv.stop()


def test_a_slow_endpoints_backlog_does_not_starve_another(tmp_path: Path) -> None:
    slow = RawEndpoint(hang)
    fast = Receiver()
    try:
        hooks = [{"url": u, "secret": SECRET, "events": ["purchase"]} for u in (slow.url, fast.url)]
        srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 20, "timeout_s": 30.0},
                                       "limits": {"frames_per_second": 10_000, "frame_burst": 10_000}},
                     site={"webhooks": hooks}).start()
        try:
            ws, _ = open_session(srv)
            with ws:
                for n in range(1200):  # 1,200 deliveries wait for the slow endpoint
                    send(ws, {"t": "purchase", "id": f"o{n}", "order": f"A{n}", "total": 1})
                    assert next_msg(ws, "ack")["id"] == f"o{n}"
                fast.wait("purchase", 1200, timeout=60)
                send(ws, {"t": "purchase", "id": "canary", "order": "C", "total": 1})
                assert next_msg(ws, "ack")["id"] == "canary"
            got = fast.wait("purchase", 1201, timeout=10)
            assert any(x["data"]["order"] == "C" for x in got)
            assert len(slow.attempts) == 2
        finally:
            srv.stop()
    finally:
        slow.close()
        fast.http.shutdown()
        fast.http.server_close()


def test_shutdown_does_not_hang_while_webhooks_retry(tmp_path: Path) -> None:
    refused = "http://127.0.0.1:9/hook"  # nothing listens: every attempt fails at once and is retried
    srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 5, "retry_base_s": 0.01, "retry_max_s": 0.02,
                                                "max_attempts": 100}},
                 site={"webhooks": [{"url": refused, "secret": SECRET, "events": ["purchase"]}]})
    for _ in range(3):
        srv.start()
        ws, _ = open_session(srv)
        with ws:
            for n in range(20):
                send(ws, {"t": "purchase", "id": f"o{n}", "order": "A", "total": 1})
                assert next_msg(ws, "ack")["id"] == f"o{n}"
        time.sleep(0.3)
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=15)  # raises if the shutdown hangs
        srv.proc = None
