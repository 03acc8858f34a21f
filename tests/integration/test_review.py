"""Holes a hostile review found after the first hardening pass, each reproduced here first:
a failed erase, leads and sessions that grow without bound, consent lost to a race or to a new
visit, a Redis that turns its append-only file off, health that looked fine while writes failed,
a webhook backlog that starved other endpoints, and a shutdown that could hang."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
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


@pytest.fixture
def fast() -> Iterator[Receiver]:
    """A webhook endpoint that answers at once (and verifies signatures)."""
    r = Receiver()
    yield r
    r.http.shutdown()
    r.http.server_close()


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


def test_a_returning_visitors_webhooks_say_their_consent(tmp_path: Path, fast: Receiver) -> None:
    srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 20}}, site={
        "capture": "live", "webhooks": [{"url": fast.url, "secret": SECRET, "events": ["purchase"]}]}).start()
    try:
        ws, first = open_session(srv)
        with ws:
            email(ws, "e1", "loyal@example.com", consent=True)
        ws, again = open_session(srv, vid=first["vid"])  # no sid: a new visit
        with ws:
            assert again["sid"] != first["sid"]
            send(ws, {"t": "purchase", "id": "p1", "order": "L1", "total": 20})
            assert next_msg(ws, "ack") == {"t": "ack", "id": "p1"}
        data = fast.wait("purchase")[0]["data"]
        assert data["email"] == "loyal@example.com" and data["consent"] == {"given": True}
    finally:
        srv.stop()


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
                                       "limits": {"frames_per_second": 10_000, "frame_burst": 10_000,
                                                  "messages_per_ip_per_min": 0}},
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


def test_an_erase_confirmed_by_every_instance_leaves_nothing_even_from_a_slow_one(tmp_path: Path) -> None:
    """The shopper browses on instance B, whose Redis is 100 ms away; the merchant erases through A.
    A waits for B to drop the visitor and flush what it had queued, then deletes once more."""
    from tests.support import DelayProxy

    redis = Valkey(tmp_path / "r").start()
    proxy = DelayProxy(redis.port, 0.1)
    cfg = FAST | {"server": {"heartbeat_s": 0.2}}
    a = Server(tmp_path / "a", cfg | {"redis": {"url": redis.url}}, site={"capture": "live"}).start()
    b = Server(tmp_path / "b", cfg | {"redis": {"url": f"redis://127.0.0.1:{proxy.port}/0"}},
               site={"capture": "live"}).start()
    try:
        wait_for(lambda: len(redis.client().zrange("lg:instances", 0, -1)) == 2)
        time.sleep(1.5)  # both instances see each other as alive
        ws, ready = open_session(b)
        email(ws, "e1", "far.away@example.com")
        stop = threading.Event()

        def browse() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    send(ws, {"t": "page", "page": {"url": f"https://shop.example/p/{n}", "kind": "product"}})
                except Exception:
                    return
                time.sleep(0.01)

        t = threading.Thread(target=browse)
        t.start()
        time.sleep(0.5)
        r = call(a, "DELETE", "/api/v1/leads?site=demo&email=far.away@example.com")
        stop.set()
        t.join()
        ws.close()
        assert r.status_code == 200, r.text
        assert r.json()["unconfirmed_instances"] == 0
        time.sleep(1.0)
        client = redis.client()
        needles = [b"far.away@example.com", ready["vid"].encode(), ready["sid"].encode()]
        hits = [k for k in client.scan_iter(count=1000)
                if any(n in k for n in needles) or (client.type(k) == b"string"
                                                    and any(n in (client.get(k) or b"") for n in needles))]
        assert hits == []
        assert call(a, "GET", f"/api/v1/sessions/{ready['sid']}?site=demo").status_code == 404
    finally:
        a.stop()
        b.stop()
        proxy.close()
        redis.stop()


def test_a_visitors_second_address_is_not_taken_for_consented(tmp_path: Path, fast: Receiver) -> None:
    srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 20}}, site={
        "capture": "live", "webhooks": [{"url": fast.url, "secret": SECRET, "events": ["purchase"]}]}).start()
    try:
        ws, first = open_session(srv)
        with ws:
            email(ws, "e1", "first@example.com", consent=True)
            email(ws, "e2", "second@example.com", consent=False)
        ws, _ = open_session(srv, vid=first["vid"])  # no sid: a new visit
        with ws:
            send(ws, {"t": "purchase", "id": "p1", "order": "S1", "total": 20})
            assert next_msg(ws, "ack") == {"t": "ack", "id": "p1"}
        data = fast.wait("purchase")[0]["data"]
        assert data["email"] == "second@example.com" and data["consent"] == {"given": False}
    finally:
        srv.stop()


def test_stored_messages_per_address_are_limited_and_kept_for_later(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"limits": {"messages_per_ip_per_min": 5}}).start()
    try:
        ws, _ = open_session(srv)
        with ws:
            for n in range(5):
                send(ws, {"t": "purchase", "id": f"p{n}", "order": "A", "total": 1})
                assert next_msg(ws, "ack")["id"] == f"p{n}"
            send(ws, {"t": "purchase", "id": "p5", "order": "A", "total": 1})
            err = next_msg(ws, "error")
            assert err["code"] == "rate_limited" and err["ref"] == "p5"  # the widget keeps it and resends
        assert embedded_client(srv).zcard("lg:recz:purchase:demo") == 5
    finally:
        srv.stop()


def test_retention_keeps_up_with_more_than_one_round_of_old_records(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"retention": {"records_days": 1.0, "sweep_s": 0.1}}).start()
    try:
        r = embedded_client(srv)
        old = time.time() - 2 * 86400
        pipe = r.pipeline(transaction=False)
        for n in range(5000):
            pipe.hset("lg:rec:purchase:demo", f"old{n}", b"{}")
            pipe.zadd("lg:recz:purchase:demo", {f"old{n}": old})
        pipe.execute()
        wait_for(lambda: r.zcard("lg:recz:purchase:demo") == 0 and r.hlen("lg:rec:purchase:demo") == 0, timeout=5)
    finally:
        srv.stop()


def test_a_failed_erase_lets_the_session_leave_as_usual(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST, site={"capture": "live"}).start()
    try:
        r = embedded_client(srv)
        ws, ready = open_session(srv)
        with ws:
            email(ws, "e1", "leaving@example.com")
            r.config_set("maxmemory", 1)
            assert call(srv, "DELETE", "/api/v1/leads?site=demo&email=leaving@example.com").status_code == 503
            r.config_set("maxmemory", 0)
        assert call(srv, "GET", "/api/v1/leads?site=demo").json()["leads"] != []  # nothing was deleted
        s = srv.wait_session(ready["sid"], lambda s: s["state"] == "left", timeout=8)  # leave_grace 0.6 s
        assert s["connected"] == 0
    finally:
        srv.stop()


def test_health_sees_refused_writes_without_traffic_and_withheld_acks(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()
    srv = Server(tmp_path / "app", FAST | {"redis": {"url": redis.url}}).start()
    try:
        redis.client().config_set("maxmemory", 1)
        h = httpx.get(f"{srv.url}/healthz")
        assert h.status_code == 503 and h.json()["redis"] == "refusing writes"  # no shopper wrote anything
        redis.client().config_set("maxmemory", 0)
        wait_for(lambda: httpx.get(f"{srv.url}/healthz").status_code == 200)
        redis.client().config_set("appendonly", "no")
        ws, _ = open_session(srv)
        with ws:
            for n in range(10):
                send(ws, {"t": "purchase", "id": f"p{n}", "order": "A", "total": 1})
                assert next_msg(ws, "error", timeout=10)["code"] == "unavailable"
        h = httpx.get(f"{srv.url}/healthz")
        assert h.status_code == 503 and h.json()["redis"] == "not fsyncing"
        assert srv.log.read_text().count("acks withheld") == 1  # one line per change, not per batch
    finally:
        srv.stop()
        redis.stop()


def test_several_slow_endpoints_do_not_starve_a_healthy_one(tmp_path: Path) -> None:
    slow = [RawEndpoint(hang) for _ in range(5)]
    fast = Receiver()
    try:
        hooks = [{"url": u, "secret": SECRET, "events": ["purchase"]} for u in [e.url for e in slow] + [fast.url]]
        srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 20, "timeout_s": 30.0},
                                       "limits": {"messages_per_ip_per_min": 0, "frames_per_second": 10_000,
                                                  "frame_burst": 10_000}}, site={"webhooks": hooks}).start()
        try:
            ws, _ = open_session(srv)
            with ws:
                for n in range(100):
                    send(ws, {"t": "purchase", "id": f"o{n}", "order": f"A{n}", "total": 1})
                    assert next_msg(ws, "ack")["id"] == f"o{n}"
            assert len(fast.wait("purchase", 100, timeout=15)) == 100
        finally:
            srv.stop()
    finally:
        for e in slow:
            e.close()
        fast.http.shutdown()
        fast.http.server_close()
