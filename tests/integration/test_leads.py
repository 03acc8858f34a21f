"""Live email capture into leads: consent modes against forged frames, dedupe, the lead API,
CSV export, and GDPR erasure that leaves nothing behind in the keyspace."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.support import FAST, FORM_POPUP, Server, call, next_msg, open_session, recv, send, show_form

pytestmark = pytest.mark.integration


def email(ws: Any, mid: str, address: str, **kw: Any) -> None:
    send(ws, {"t": "email", "id": mid, "email": address, "source": kw.pop("source", "field"),
              "field": kw.pop("field", "email"), "consent": kw.pop("consent", False), **kw})
    assert recv(ws) == {"t": "ack", "id": mid}  # acked whether or not it became a lead: applied once


def leads(srv: Server, query: str = "") -> list[dict[str, Any]]:
    r = call(srv, "GET", f"/api/v1/leads?site=demo{query}")
    assert r.status_code == 200, r.text
    return r.json()["leads"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    out = {mode: Server(tmp_path_factory.mktemp(mode), FAST, site={"capture": mode}).start()
           for mode in ("off", "consent", "live")}
    yield out
    for srv in out.values():
        srv.stop()


CASES = [
    # (mode, frame fields, gpc, captured)
    ("live", {}, False, True),
    ("live", {}, True, False),  # GPC: typed is not enough
    ("live", {"submitted": True}, True, True),
    ("consent", {}, False, False),
    ("consent", {"consent": True}, False, True),
    ("consent", {"submitted": True}, False, True),
    ("consent", {"consent": True}, True, False),
    ("off", {"consent": True}, False, False),
    ("off", {"submitted": True}, False, False),
]


@pytest.mark.parametrize(("mode", "fields", "gpc", "captured"), CASES)
def test_capture_modes_are_enforced_by_the_server(servers: dict[str, Server], mode: str, fields: dict[str, Any],
                                                  gpc: bool, captured: bool) -> None:
    srv = servers[mode]
    address = f"case-{len(leads(srv))}-{abs(hash(str(fields) + str(gpc)))}@Example.COM"
    ws, ready = open_session(srv, gpc=gpc)
    with ws:
        email(ws, "m1", address, **fields)
        s = srv.session(ready["sid"])
    found = [x for x in leads(srv) if x["email"] == address.lower()]
    assert bool(found) is captured
    assert s["has_email"] is captured


@pytest.mark.parametrize("gpc", [False, True])
def test_a_popup_form_is_a_signup_in_every_mode_but_only_once_per_form_shown(servers: dict[str, Server],
                                                                             gpc: bool) -> None:
    srv = servers["off"]
    first, second = f"signup-{gpc}@example.com".lower(), f"second-{gpc}@example.com".lower()
    assert call(srv, "PUT", "/api/v1/campaigns/signup?site=demo", FORM_POPUP).status_code in (200, 201)
    try:
        ws, ready = open_session(srv, gpc=gpc)
        with ws:
            show_form(srv, ws)
            email(ws, "m1", first, source="popup", field="popup:signup", submitted=True, consent=True)
            send(ws, {"t": "email", "id": "m2", "email": second, "source": "popup", "field": "popup:signup",
                      "submitted": True, "consent": False})  # the form gave its address already
            err = next_msg(ws, "error")
            assert err["code"] == "bad_message" and err["ref"] == "m2" and "no popup form" in err["msg"]
            s = srv.session(ready["sid"])
    finally:
        call(srv, "DELETE", "/api/v1/campaigns/signup?site=demo")
    found = {x["email"] for x in leads(srv)}
    assert first in found and second not in found
    assert s["has_email"] and s["email"] == first


def test_a_forged_popup_email_is_refused_and_stores_nothing(servers: dict[str, Server]) -> None:
    for mode, srv in servers.items():
        ws, ready = open_session(srv, gpc=True)
        with ws:
            send(ws, {"t": "email", "id": "f1", "email": f"forged-{mode}@example.com", "source": "popup",
                      "field": "popup:welcome", "consent": True, "submitted": True})
            err = next_msg(ws, "error")
            assert err == {"t": "error", "code": "bad_message", "ref": "f1",
                           "msg": "no popup form is open for this session"}
            assert srv.session(ready["sid"])["has_email"] is False
        assert not [x for x in leads(srv) if x["email"] == f"forged-{mode}@example.com"]


def test_invalid_addresses_never_become_leads(servers: dict[str, Server]) -> None:
    srv = servers["live"]
    ws, _ = open_session(srv)
    with ws:
        for n, bad in enumerate(["a@b", "two@@x.com", "sp ace@x.com", "x@-bad-.com", "a@b.c"]):
            email(ws, f"bad{n}", bad)
    assert not [x for x in leads(srv) if x["email"].startswith(("a@b", "two@@", "sp ace", "x@-"))]


def test_dedupe_by_email_across_visitors_and_identification(servers: dict[str, Server]) -> None:
    srv = servers["live"]
    ws, first = open_session(srv)
    with ws:
        send(ws, {"t": "cart", "items": [{"id": "1", "name": "Boot", "price": 139, "qty": 1}], "total": 139,
                  "currency": "EUR"})
        email(ws, "e1", "  Ada@Example.com ", consent=True, consent_text="Send me offers")
        email(ws, "e1", "Ada@Example.com", consent=True)  # resent after a reconnect: applied once
    ws, second = open_session(srv)  # another device
    with ws:
        email(ws, "e1", "ada@example.COM")
    lead = next(x for x in leads(srv) if x["email"] == "ada@example.com")
    assert sorted(lead["vids"]) == sorted([first["vid"], second["vid"]]) and lead["captures"] == 2
    assert lead["consent"]["given"] is True and lead["consent"]["text"] == "Send me offers"
    assert lead["temperature"] == "warm" and lead["cart"]["total"] == 0  # the latest snapshot (second device)
    assert lead["source"] == "field" and lead["field"] == "email"
    # the first visitor is identified on their next visit
    ws, again = open_session(srv, vid=first["vid"])
    with ws:
        assert srv.session(again["sid"])["email"] == "ada@example.com"


def test_lead_api_filters_pages_and_csv(servers: dict[str, Server]) -> None:
    srv = servers["consent"]
    ws, _ = open_session(srv)
    with ws:
        for n in range(7):
            email(ws, f"p{n}", f"page{n}@example.com", consent=n % 2 == 0)
        email(ws, "evil", "=cmd@example.com", consent=True)
    seen, cursor = [], None
    while True:
        r = call(srv, "GET", "/api/v1/leads?site=demo&limit=3" + (f"&cursor={cursor}" if cursor else ""))
        body = r.json()
        seen += [x["email"] for x in body["leads"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and {f"page{n}@example.com" for n in range(0, 7, 2)} <= set(seen)
    assert all(x["consent"]["given"] for x in leads(srv, "&consent=yes"))
    assert call(srv, "GET", "/api/v1/leads?site=demo&consent=maybe").status_code == 400
    assert call(srv, "GET", "/api/v1/leads?site=demo&cursor=nonsense").status_code == 400
    assert call(srv, "GET", "/api/v1/leads?site=nope").status_code == 400
    assert httpx.get(f"{srv.url}/api/v1/leads?site=demo").status_code == 401
    r = call(srv, "GET", "/api/v1/leads.csv?site=demo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "email" and len(rows) == len(seen) + 1
    assert ["'=cmd@example.com"] == [row[0] for row in rows if "cmd@" in row[0]]  # formula-safe


def test_gdpr_erase_leaves_nothing_behind(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST, site={"capture": "live"}).start()
    try:
        assert call(srv, "POST", "/api/v1/campaigns?site=demo", FORM_POPUP).status_code == 201
        ws, ready = open_session(srv)
        with ws:
            show_form(srv, ws, "u1")
            send(ws, {"t": "cart", "items": [{"id": "1", "name": "Boot", "price": 139, "qty": 1}], "total": 139,
                      "currency": "EUR"})
            email(ws, "e1", "erase.me@example.com", consent=True)
            send(ws, {"t": "purchase", "id": "o1", "order": "A1", "total": 139, "currency": "EUR"})
            assert next_msg(ws, "ack") == {"t": "ack", "id": "o1"}
        ws, other = open_session(srv, vid=ready["vid"], sid=ready["sid"])  # still connected while erased
        r = call(srv, "DELETE", "/api/v1/leads/Erase.Me@example.com?site=demo")
        assert r.status_code == 200, r.text
        assert r.json()["visitors"] == 1 and r.json()["lead"] == 1
        with pytest.raises(Exception):  # noqa: B017 - the erased visitor's socket is closed
            for _ in range(5):
                recv(ws, timeout=2)
        ws.close()
        needles = [b"erase.me@example.com", ready["vid"].encode(), ready["sid"].encode()]

        def scan() -> list[str]:  # the sync client: Playwright's loop may be running in this thread
            r = redis.Redis.from_url(f"unix://{tmp_path / 'var' / 'redis' / 'redis.sock'}")
            hits = []
            for key in r.scan_iter(count=1000):
                kind = r.type(key).decode()
                if kind == "string":
                    vals = [r.get(key)]
                elif kind == "hash":
                    vals = [k + b"=" + v for k, v in r.hgetall(key).items()]
                elif kind == "list":
                    vals = r.lrange(key, 0, -1)
                elif kind == "set":
                    vals = list(r.smembers(key))
                elif kind == "zset":
                    vals = r.zrange(key, 0, -1)
                else:
                    vals = []
                for v in [key, *vals]:
                    if v and any(n in v for n in needles):
                        hits.append(key.decode())
            r.close()
            return hits

        assert scan() == []
        assert call(srv, "DELETE", "/api/v1/leads/erase.me@example.com?site=demo").status_code == 404
        assert srv.api(f"/api/v1/sessions/{ready['sid']}?site=demo").status_code == 404
    finally:
        srv.stop()
