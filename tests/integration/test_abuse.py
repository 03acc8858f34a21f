"""A hostile client: forged popup events, floods of sockets and visitors, foreign links in carts,
secrets in URLs, junk in API parameters. Each gets a precise error and changes nothing, and
nothing it sends creates a key without a bound or an expiry."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support import (
    FAST,
    FORM_POPUP,
    Server,
    call,
    embedded_client,
    hello,
    next_msg,
    open_session,
    recv,
    send,
    show_form,
)

pytestmark = pytest.mark.integration
SITE = {"image_hosts": ["cdn.example"], "keep_query_params": ["variant"]}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("abuse"), FAST | {"limits": {"sockets_per_ip": 0,
                                                                     "new_visitors_per_ip_per_min": 0,
                                                                     "messages_per_ip_per_min": 0}},
               site=SITE).start()
    assert call(s, "POST", "/api/v1/campaigns?site=demo", FORM_POPUP).status_code == 201
    yield s
    s.stop()


def test_forged_popup_events_are_refused_and_create_no_keys(srv: Server) -> None:
    r = embedded_client(srv)
    ws, ready = open_session(srv)
    with ws:
        popup = show_form(srv, ws)
    before = r.dbsize()
    for n in range(300):
        if n % 19 == 0:  # limits.max_bad_frames is 20: a fresh socket now and then
            ws.close()
            ws, _ = open_session(srv, vid=ready["vid"], sid=ready["sid"])
        if n % 2:
            frame, why = {"cid": "signup", "var": f"v{n}", "ev": "clicked"}, f"variant 'v{n}' of campaign"
        else:
            frame, why = {"cid": f"x{n}", "var": "a", "ev": "shown"}, f"no campaign 'x{n}' on this site"
        send(ws, {"t": "popup", "id": f"f{n}", **frame})
        err = next_msg(ws, "error")
        assert err["code"] == "bad_message" and err["ref"] == f"f{n}" and err["msg"].startswith(why), err
    ws.close()
    s = srv.session(ready["sid"])
    assert r.dbsize() <= before + 2  # the session's own keys may appear; nothing per forged cid
    assert not [k for k in r.scan_iter("lg:cstat:*") if b"signup" not in k]
    assert set(s["shown"]) == {popup["cid"]}


def test_popup_events_count_once_per_impression(srv: Server) -> None:
    ws, _ = open_session(srv)
    with ws:
        popup = show_form(srv, ws, "s1")
        for n in range(5):  # a client repeating "clicked" with fresh ids
            send(ws, {"t": "popup", "id": f"c{n}", "cid": popup["cid"], "var": popup["var"], "ev": "clicked"})
            assert next_msg(ws, "ack")["id"] == f"c{n}"
    stats = call(srv, "GET", "/api/v1/campaigns/signup/stats?site=demo").json()
    assert stats["totals"]["clicks"] <= stats["totals"]["impressions"]


def test_only_the_popup_on_screen_may_be_reported_shown(srv: Server) -> None:
    ws, _ = open_session(srv)
    with ws:
        popup = next_msg(ws, "popup")
        send(ws, {"t": "popup", "id": "c1", "cid": popup["cid"], "var": popup["var"], "ev": "closed"})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "c1"}  # shown by the server: it may be closed
        send(ws, {"t": "popup", "id": "c2", "cid": popup["cid"], "var": popup["var"], "ev": "shown"})
        err = next_msg(ws, "error")  # closed: no longer on screen, and not armed
        assert err["ref"] == "c2" and "neither on screen nor armed" in err["msg"]


def test_a_visitor_who_only_says_hello_expires_with_the_session(srv: Server) -> None:
    r = embedded_client(srv)
    ws, ready = open_session(srv)
    ws.close()
    ttl = r.ttl(f"lg:v:{ready['vid']}")
    assert 0 < ttl <= 3 + 3600  # session_timeout (3 s in tests) + an hour
    ws, ready = open_session(srv)
    with ws:
        send(ws, {"t": "act"})
        send(ws, {"t": "purchase", "id": "p1", "order": "A", "total": 1})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "p1"}
    assert r.ttl(f"lg:v:{ready['vid']}") > 300 * 86400  # did something: kept for retention.visitors_days


def test_purchase_without_currency_uses_the_sites(srv: Server) -> None:
    ws, ready = open_session(srv)
    with ws:
        send(ws, {"t": "purchase", "id": "nc1", "order": "A1", "total": 12})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "nc1"}
        send(ws, {"t": "purchase", "id": "nc2", "order": "A2", "total": 12, "currency": ""})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "nc2"}
        send(ws, {"t": "cart", "items": [], "total": 0})
        assert srv.wait_session(ready["sid"], lambda s: s["cart"]["currency"] == "EUR")


def test_foreign_item_links_are_dropped(srv: Server) -> None:
    ws, ready = open_session(srv)
    with ws:
        items = [
            {"id": "1", "name": "ok", "price": 1, "qty": 1, "url": f"{srv.origin}/demo/p/42",
             "image": "https://cdn.example/a.png"},
            {"id": "2", "name": "relative", "price": 1, "qty": 1, "url": "/demo/p/43#reviews", "image": "/i.png"},
            {"id": "3", "name": "phish", "price": 1, "qty": 1, "url": "https://evil.example/login",
             "image": "https://evil.example/x.png"},
        ]
        send(ws, {"t": "cart", "items": items, "total": 3, "currency": "EUR"})
        s = srv.wait_session(ready["sid"], lambda s: s["cart"]["count"] == 3)
    got = {i["id"]: (i["url"], i["image"]) for i in s["cart"]["items"]}
    assert got == {"1": (f"{srv.origin}/demo/p/42", "https://cdn.example/a.png"), "2": ("/demo/p/43", "/i.png"),
                   "3": ("", "")}


def test_secrets_in_page_urls_are_never_stored(srv: Server) -> None:
    url = "https://shop.example/account/reset?token=SECRET1&utm_source=news&variant=7&code=SECRET2#access_token=FRAGSECRET3"
    ws, ready = open_session(srv, url=url, ref="https://login.example/cb?code=SECRET4")
    with ws:
        send(ws, {"t": "page", "page": {"url": "https://shop.example/checkout/order-received/12?key=wc_order_S5",
                                        "kind": "thanks"}})
        s = srv.wait_session(ready["sid"], lambda s: s["pages"] == 2)
    assert s["landing"] == "https://shop.example/account/reset?utm_source=news&variant=7"
    assert s["referrer"] == "https://login.example/cb"
    assert s["page"]["url"] == "https://shop.example/checkout/order-received/12"
    dump = str(list(embedded_client(srv).scan_iter("*"))) + str(s)
    assert "SECRET" not in dump, [x for x in dump.split(",") if "SECRET" in x]
    assert "FRAGSECRET3" not in str(s) and "wc_order" not in str(s)  # ids are random: no 2-letter needles


@pytest.mark.parametrize("url", ["//evil.example/x", "/\\evil.example/x", "https://shop.example\\@evil.example/",
                                 "https://user:pw@shop.example/"])
def test_paths_that_are_other_hosts_are_refused(srv: Server, url: str) -> None:
    ws, _ = open_session(srv)
    with ws:
        send(ws, {"t": "page", "page": {"url": url}})
        err = next_msg(ws, "error")
        assert err["code"] == "bad_message" and "url" in err["msg"]


def test_push_endpoints_must_be_on_an_allowed_push_service(srv: Server) -> None:
    ws, _ = open_session(srv)
    keys = {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
            "auth": "tBHItJI5svbpez7KI4CCXg"}
    with ws:
        for n, endpoint in enumerate(["https://evil.example/push", "http://fcm.googleapis.com/fcm/send/x",
                                      "https://fcm.googleapis.com.evil.example/x"]):
            send(ws, {"t": "push", "id": f"s{n}", "sub": {"endpoint": endpoint, "expirationTime": None, "keys": keys}})
            err = next_msg(ws, "error")
            assert err["code"] == "bad_message" and err["ref"] == f"s{n}" and "push.allowed_hosts" in err["msg"]
        send(ws, {"t": "push", "id": "ok", "sub": {"endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                                                   "expirationTime": 1767225600000, "keys": keys}})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "ok"}
        send(ws, {"t": "push", "id": "deep", "sub": {"endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                                                     "expirationTime": [[[[[[1]]]]]], "keys": keys}})
        assert next_msg(ws, "error")["msg"] == "field 'expirationTime' must be a number"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize("cursor", [
    "nonsense", "%%%", "é", _b64(b"[]"), _b64(b"[1]"), _b64(b'["a","b"]'), _b64(b"[1e999,\"a\"]"),
    _b64(b'[null,"a"]'), _b64(b'[true,"a"]'), _b64(b'{"a":1}'), _b64(b"[1,2]"), _b64(b"\xff\xfe"), "A" * 5000,
    _b64(b'[1,"' + b"a" * 300 + b'"]'),
])
def test_a_bad_cursor_is_a_400(srv: Server, cursor: str) -> None:
    r = call(srv, "GET", f"/api/v1/leads?site=demo&cursor={cursor}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_cursor", r.text


@pytest.mark.parametrize("cid", ["has space", "a" * 65, "x%2Fy", "ünï"])
def test_campaign_ids_in_the_path_are_checked(srv: Server, cid: str) -> None:
    camp: dict[str, Any] = {**FORM_POPUP}
    camp.pop("id")
    r = call(srv, "PUT", f"/api/v1/campaigns/{cid}?site=demo", camp)
    assert r.status_code in (400, 404) and "error" in r.json(), r.text
    assert all(c["id"] != cid for c in call(srv, "GET", "/api/v1/campaigns?site=demo").json()["campaigns"])


def test_sockets_per_address_are_limited(tmp_path: Path) -> None:
    s = Server(tmp_path, FAST | {"limits": {"sockets_per_ip": 3}}).start()
    try:
        held = [s.ws() for _ in range(3)]
        with pytest.raises(InvalidStatus) as err:
            s.ws()
        assert err.value.response.status_code == 429
        held.pop().close()
        ws = _retry_ws(s)  # the slot is free once the server has seen the close
        ws.close()
        for w in held:
            w.close()
    finally:
        s.stop()


def _retry_ws(s: Server) -> Any:
    for _ in range(100):
        try:
            return s.ws()
        except InvalidStatus:
            import time

            time.sleep(0.02)
    raise AssertionError("the freed socket slot never came back")


def test_new_visitors_per_address_are_limited(tmp_path: Path) -> None:
    s = Server(tmp_path, FAST | {"limits": {"new_visitors_per_ip_per_min": 2}}).start()
    try:
        ws, first = open_session(s)
        ws.close()
        ws, _ = open_session(s)
        ws.close()
        ws = s.ws()
        send(ws, hello())
        err = recv(ws)
        assert err["t"] == "error" and err["code"] == "rate_limited"
        with pytest.raises(ConnectionClosed) as closed:
            recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        ws, again = open_session(s, vid=first["vid"])  # a known visitor is not new
        ws.close()
        assert again["vid"] == first["vid"]
    finally:
        s.stop()
