"""GDPR erasure follows indexes (never scans), finds every visitor an address was ever seen on,
takes any address; retention drops old records and unconsented leads; logs carry no addresses
and no query strings."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support import FAST, Server, call, embedded_client, next_msg, open_session, send, wait_for

pytestmark = pytest.mark.integration


def capture(srv: Server, address: str, consent: bool = True, **hello_kw: Any) -> dict[str, Any]:
    ws, ready = open_session(srv, **hello_kw)
    with ws:
        send(ws, {"t": "email", "id": "e1", "email": address, "source": "field", "field": "email", "consent": consent})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "e1"}
        send(ws, {"t": "purchase", "id": "p1", "order": "A", "total": 5})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "p1"}
    return ready


def test_erase_finds_every_visitor_of_an_address_past_the_leads_cap(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"limits": {"new_visitors_per_ip_per_min": 0}}, site={"capture": "live"}).start()
    try:
        vids = [capture(srv, "many@example.com")["vid"] for _ in range(60)]  # the lead shows the last 50
        r = call(srv, "DELETE", "/api/v1/leads?site=demo&email=many@example.com")
        assert r.status_code == 200 and r.json()["visitors"] == 60
        client = embedded_client(srv)
        assert not [v for v in vids if client.exists(f"lg:v:{v}") or client.exists(f"lg:vs:{v}")]
        assert client.zcard("lg:recz:purchase:demo") == 0
    finally:
        srv.stop()


@pytest.mark.parametrize("how", ["path", "query", "body"])
def test_any_address_can_be_erased(tmp_path: Path, how: str) -> None:
    srv = Server(tmp_path, FAST, site={"capture": "live"}).start()
    try:
        address = "a/b+c@example.com"
        capture(srv, address)
        if how == "path":
            r = call(srv, "DELETE", f"/api/v1/leads/{quote(address, safe='')}?site=demo")
        elif how == "query":
            r = call(srv, "DELETE", f"/api/v1/leads?site=demo&email={quote(address, safe='')}")
        else:
            r = call(srv, "DELETE", "/api/v1/leads?site=demo", {"email": address})
        assert r.status_code == 200, r.text
        assert r.json()["erased"] == address and r.json()["lead"] == 1
        assert call(srv, "GET", "/api/v1/leads?site=demo").json()["leads"] == []
        bad = call(srv, "DELETE", "/api/v1/leads?site=demo", {"mail": address})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "email"
    finally:
        srv.stop()


def _calls(client: Any) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in client.info("commandstats").items()}


def test_erase_follows_indexes_and_never_reads_whole_lists(tmp_path: Path) -> None:
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 20, "events": ["purchase"]}
    srv = Server(tmp_path, FAST | {"webhooks": {"poll_ms": 60_000}},
                 site={"capture": "live", "webhooks": [hook]}).start()
    try:
        client = embedded_client(srv)
        pipe = client.pipeline(transaction=False)
        for n in range(50_000):  # other shoppers' records and pending deliveries
            pipe.hset("lg:rec:purchase:demo", f"other{n}", b'{"vid":"someone-else"}')
            pipe.zadd("lg:recz:purchase:demo", {f"other{n}": time.time()})
            if n % 10 == 0:
                pipe.set(f"lg:wh:x-{n}", b'{"site":"demo","vid":"someone-else"}')
                pipe.zadd("lg:whq", {f"x-{n}": time.time() + 3600})
        pipe.execute()
        ready = capture(srv, "big@example.com")
        big = client.pipeline(transaction=False)
        for n in range(20_000):  # one visitor with a huge history of its own: read in pages, freed lazily
            big.sadd(f"lg:rv:{ready['vid']}", f"push|demo|mine{n}")
            big.sadd(f"lg:done:{ready['vid']}", f"id{n}")
        big.execute()
        before = _calls(client)
        r = call(srv, "DELETE", "/api/v1/leads?site=demo&email=big@example.com")
        assert r.status_code == 200 and r.json()["records"] == 20_001 and r.json()["deliveries"] == 1
        used = {k: v - before.get(k, 0) for k, v in _calls(client).items() if v - before.get(k, 0)}
        for whole in ("lrange", "scan", "keys", "hgetall", "hvals", "smembers", "del"):
            assert whole not in used, used  # pages (sscan) and lazy frees (unlink) only
        assert used["sscan"] > 20_000 // 200 and used["unlink"] >= 1
        assert used.get("zrange", 0) <= 1, used  # the list of instances, not the delivery queue
        assert used.get("get", 0) <= 4, used  # the lead, not every pending delivery
        assert client.zcard("lg:recz:purchase:demo") == 50_000 and client.zcard("lg:whq") == 5_000
        assert not client.exists(f"lg:v:{ready['vid']}")
    finally:
        srv.stop()


def test_retention_drops_old_records_and_unconsented_leads(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"retention": {"records_days": 1.5 / 86400, "leads_unconsented_days": 1.5 / 86400,
                                                 "sweep_s": 0.1}}, site={"capture": "live"}).start()
    try:
        kept = capture(srv, "kept@example.com", consent=True)
        gone = capture(srv, "gone@example.com", consent=False)
        client = embedded_client(srv)
        assert client.zcard("lg:recz:purchase:demo") == 2
        wait_for(lambda: client.zcard("lg:recz:purchase:demo") == 0 and client.hlen("lg:rec:purchase:demo") == 0,
                 timeout=8)
        wait_for(lambda: [x["email"] for x in call(srv, "GET", "/api/v1/leads?site=demo").json()["leads"]]
                 == ["kept@example.com"], timeout=8)
        wait_for(lambda: client.hget(f"lg:v:{gone['vid']}", "email") is None
                 and not client.exists("lg:ev:demo:gone@example.com"), timeout=8)
        assert client.hget(f"lg:v:{kept['vid']}", "email") == b"kept@example.com"
    finally:
        srv.stop()


def test_no_address_or_query_string_in_any_log_line(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"server": {"log_level": "debug"}}, site={"capture": "live"}).start()
    try:
        capture(srv, "private.person@example.com",
                url="https://shop.example/account/reset?token=sekrit&email=private.person%40example.com")
        call(srv, "GET", "/api/v1/leads?site=demo&temperature=hot")
        call(srv, "DELETE", "/api/v1/leads/private.person@example.com?site=demo")
        call(srv, "DELETE", "/api/v1/leads/nobody@example.com?site=demo")
        wait_for(lambda: srv.log.read_text().count('"DELETE <email>') >= 2)
    finally:
        srv.stop()
    log = srv.log.read_text()
    assert '"DELETE <email>' in log  # the access log is on, just cleaned (the path held an address)
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w+", log), "an email address in the log"
    assert "sekrit" not in log and "%40" not in log and "?site=" not in log
