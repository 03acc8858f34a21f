"""Acked means fsynced and applied once, whatever Redis does: no fsync, a full or read-only
server, a server killed under the instance, a managed Redis that refuses CONFIG."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    FAST,
    FORM_POPUP,
    Server,
    Valkey,
    call,
    embedded_client,
    next_msg,
    open_session,
    send,
    show_form,
    wait_for,
)

pytestmark = pytest.mark.integration

PURCHASE = {"t": "purchase", "id": "buy-1", "order": "A1", "total": 89, "currency": "EUR"}


def test_no_ack_without_a_local_fsync(tmp_path: Path) -> None:
    """WAITAOF runs on the writer's own connection and its answer is checked: a server that never
    fsyncs (appendfsync no) gets no ack, only `unavailable`."""
    redis = Valkey(tmp_path / "r", "--appendfsync", "no").start()
    srv = Server(tmp_path / "app", FAST | {"redis": {"url": redis.url}}).start()
    try:
        ws, _ = open_session(srv)
        with ws:
            send(ws, PURCHASE)
            err = next_msg(ws, "error", timeout=10)
            assert err["code"] == "unavailable" and err["ref"] == "buy-1"
            redis.client().config_set("appendfsync", "always")
            send(ws, PURCHASE)  # the widget resends from its outbox: now it is fsynced, and applied once
            assert next_msg(ws, "ack") == {"t": "ack", "id": "buy-1"}
    finally:
        srv.stop()
        redis.stop()


def _purchases(r: Any) -> int:
    return int(r.zcard("lg:recz:purchase:demo"))


def test_a_full_server_refuses_writes_and_a_resent_id_is_applied_once(tmp_path: Path) -> None:
    """maxmemory reached: reads work, writes fail. Every try of one purchase gets `unavailable`;
    once the server has room the resend is acked, and the purchase, its revenue, its campaign
    count and its webhook delivery exist once."""
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 20, "events": ["purchase"]}
    srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 60_000}}, site={"webhooks": [hook]}).start()
    try:
        assert call(srv, "POST", "/api/v1/campaigns?site=demo", FORM_POPUP).status_code == 201
        r = embedded_client(srv)
        assert r.config_get("maxmemory")["maxmemory"] == str(1024 ** 3)  # redis.maxmemory = "1gb" by default
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        ws, ready = open_session(srv)
        with ws:
            show_form(srv, ws)
            r.config_set("maxmemory", 1)  # full
            for _ in range(3):
                send(ws, PURCHASE)
                err = next_msg(ws, "error")
                assert err["code"] == "unavailable" and err["ref"] == "buy-1"
            assert _purchases(r) == 0
            r.config_set("maxmemory", 0)
            send(ws, PURCHASE)
            assert next_msg(ws, "ack", timeout=10) == {"t": "ack", "id": "buy-1"}
            send(ws, PURCHASE)
            assert next_msg(ws, "ack") == {"t": "ack", "id": "buy-1"}
            s = srv.session(ready["sid"])
        assert s["purchases"] == 1 and s["revenue"] == 89
        assert _purchases(r) == 1
        stats = call(srv, "GET", "/api/v1/campaigns/signup/stats?site=demo").json()["totals"]
        assert stats["purchases"] == 1 and stats["revenue"] == 89 and stats["conversions"] == 1
        pending = call(srv, "GET", "/api/v1/webhooks/deliveries?site=demo").json()["pending"]
        assert len([d for d in pending if d["event"] == "purchase"]) == 1
    finally:
        srv.stop()


def test_a_read_only_server_gets_unavailable_not_double_effects(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r").start()
    srv = Server(tmp_path / "app", FAST | {"redis": {"url": redis.url}}).start()
    try:
        ws, ready = open_session(srv)
        with ws:
            redis.client().config_set("replica-read-only", "yes")
            redis.client().execute_command("REPLICAOF", "127.0.0.1", "1")  # an unreachable primary: read-only now
            for _ in range(2):
                send(ws, PURCHASE)
                assert next_msg(ws, "error")["code"] == "unavailable"
            redis.client().execute_command("REPLICAOF", "NO", "ONE")
            send(ws, PURCHASE)
            assert next_msg(ws, "ack", timeout=10) == {"t": "ack", "id": "buy-1"}
            assert srv.session(ready["sid"])["revenue"] == 89
        assert _purchases(redis.client()) == 1
    finally:
        srv.stop()
        redis.stop()


def test_the_embedded_server_is_restarted_and_health_recovers(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST).start()
    try:
        ws, ready = open_session(srv)
        with ws:
            send(ws, PURCHASE)
            assert next_msg(ws, "ack") == {"t": "ack", "id": "buy-1"}
        pid = int((tmp_path / "var" / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: httpx.get(f"{srv.url}/healthz").status_code == 503, timeout=5)
        health = wait_for(lambda: (h := httpx.get(f"{srv.url}/healthz")).status_code == 200 and h.json(), timeout=15)
        assert health["redis"] == "up"
        new_pid = int((tmp_path / "var" / "redis" / "redis.pid").read_text())
        assert new_pid != pid
        ws, again = open_session(srv, vid=ready["vid"], sid=ready["sid"])
        with ws:
            assert again["resumed"] is True
            send(ws, PURCHASE)  # what was acked survived the kill
            assert next_msg(ws, "ack") == {"t": "ack", "id": "buy-1"}
            assert srv.session(ready["sid"])["purchases"] == 1
        wait_for(lambda: "recovered" in srv.log.read_text())
        log = srv.log.read_text()
        assert log.count("is failing") <= 8, log[-3000:]  # one line per part and change, not one per try
        assert "recovered" in log
    finally:
        srv.stop()


def test_a_managed_redis_that_refuses_config_still_works(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r", "--rename-command", "CONFIG", "").start()
    srv = Server(tmp_path / "app", FAST | {"redis": {"url": redis.url}}).start()
    try:
        ws, _ = open_session(srv)
        with ws:
            send(ws, PURCHASE)
            assert next_msg(ws, "ack") == {"t": "ack", "id": "buy-1"}
        assert "cannot read appendonly" in srv.log.read_text()
    finally:
        srv.stop()
        redis.stop()


def test_the_redis_password_never_reaches_the_log(tmp_path: Path) -> None:
    redis = Valkey(tmp_path / "r", password="s3cret-pass-word").start()
    srv = Server(tmp_path / "app", FAST | {"redis": {"url": redis.url}, "server": {"log_level": "info"}}).start()
    try:
        ws, _ = open_session(srv)
        ws.close()
        redis.stop()  # errors now: they must not print the URL's password either
        wait_for(lambda: httpx.get(f"{srv.url}/healthz").status_code == 503)
        time.sleep(0.3)
    finally:
        srv.stop()
    log = srv.log.read_text()
    assert "s3cret-pass-word" not in log
    assert "redis://:***@127.0.0.1" in log
