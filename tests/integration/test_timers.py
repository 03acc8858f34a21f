"""Timers under a backlog: thousands of shoppers' leave timers come due at once (say after a
restart); a live shopper's own welcome popup still arrives on time, and the backlog is worked off
in bounded steps. A timer whose instance died before finishing it fires again elsewhere."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from tests.support import FAST, Server, call, embedded_client, next_msg, open_session, wait_for

pytestmark = pytest.mark.integration
WELCOME = {"id": "welcome", "name": "Welcome", "kind": "welcome", "status": "live", "trigger": {"delay_s": 0.5},
           "variants": [{"content": {"headline": "Hi"}}]}


def test_a_timer_backlog_does_not_delay_a_live_shoppers_popup(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"timing": {**FAST["timing"], "session_timeout_s": 600}},
                 site={"popup_gap_s": 0}).start()
    try:
        assert call(srv, "POST", "/api/v1/campaigns?site=demo", WELCOME).status_code == 201
        r = embedded_client(srv)
        now = time.time()
        pipe = r.pipeline(transaction=False)
        for n in range(30_000):  # shoppers who left while the server was down: all due now
            sid = f"gone{n}"
            pipe.set(f"lg:s:{sid}", orjson.dumps({"sid": sid, "vid": f"v{n}", "site": "demo", "started": now - 100,
                                                  "away_since": now - 60, "sockets": {}}), ex=3600)
            pipe.zadd("lg:timers", {f"leave|{sid}": now - 30})
        pipe.execute()
        ws, _ = open_session(srv)
        with ws:
            t0 = time.monotonic()
            popup = next_msg(ws, "popup", timeout=10)
            waited = time.monotonic() - t0
        assert popup["cid"] == "welcome"
        assert waited < 1.5, f"welcome due at 0.5 s arrived at {waited:.2f} s behind the backlog"
        wait_for(lambda: r.zcount("lg:timers", "-inf", time.time()) == 0, timeout=60, every=0.2)
        left = orjson.loads(r.get("lg:s:gone123"))
        assert left["left"] is True  # every one of them was handled, in bounded steps
    finally:
        srv.stop()


def test_a_leased_timer_of_a_dead_instance_fires_again(tmp_path: Path) -> None:
    """A timer is leased, not popped: one taken by an instance that died before storing its effects
    comes due again after the lease and fires."""
    srv = Server(tmp_path, FAST).start()
    try:
        r = embedded_client(srv)
        now = time.time()
        r.set("lg:s:orphan", orjson.dumps({"sid": "orphan", "vid": "vo", "site": "demo", "started": now - 100,
                                           "away_since": now - 60, "sockets": {}}), ex=3600)
        r.zadd("lg:timers", {"leave|orphan": now + 0.3})  # as a dead instance's lease leaves it: due again soon
        wait_for(lambda: orjson.loads(r.get("lg:s:orphan")).get("left") is True, timeout=5)
        wait_for(lambda: r.zscore("lg:timers", "leave|orphan") is None, timeout=5)  # removed with its effects
    finally:
        srv.stop()
