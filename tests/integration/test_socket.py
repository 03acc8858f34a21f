"""Protocol-level tests against the real server and its embedded Redis."""

from __future__ import annotations

import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support import Server, hello, open_session, recv, send

pytestmark = pytest.mark.integration


def test_hello_ready_and_session_api(server: Server) -> None:
    ws, ready = open_session(server)
    with ws:
        assert ready["resumed"] is False
        assert len(ready["vid"]) >= 16 and len(ready["sid"]) >= 16
        assert ready["settings"]["act_every_ms"] == 100
        assert ready["settings"]["idle_after_ms"] == 400
        s = server.wait_session(ready["sid"], lambda s: s["connected"] == 1)
        assert s["state"] == "active" and s["temperature"] == "warm"
        assert s["page"] == {"url": "https://shop.example/p/42", "title": "Red shoe", "kind": "product"}
        assert s["pages"] == 1 and s["returning"] is False and s["site"] == "demo"
        listed = server.api("/api/v1/sessions?site=demo").json()
        assert ready["sid"] in [x["sid"] for x in listed["sessions"]]


def test_page_cart_vis_exit_reach_the_session(server: Server) -> None:
    ws, ready = open_session(server, url="https://shop.example/", kind="home")
    with ws:
        send(ws, {"t": "page", "page": {"url": "https://shop.example/c/shoes", "kind": "category"}})
        send(ws, {"t": "cart", "items": [{"id": "42", "name": "Red", "price": 89.5, "qty": 2}],
                  "total": 179, "currency": "EUR"})
        send(ws, {"t": "exit", "how": "mouse"})
        send(ws, {"t": "vis", "state": "hidden"})
        s = server.wait_session(ready["sid"], lambda s: s["state"] == "hidden")
        assert s["pages"] == 2 and s["page"]["kind"] == "category"
        assert s["cart"]["total"] == 179 and s["cart"]["count"] == 2 and s["cart"]["currency"] == "EUR"
        assert s["temperature"] == "hot" and s["exits"] == 1 and s["last_exit"] == "mouse"
        send(ws, {"t": "vis", "state": "visible"})
        server.wait_session(ready["sid"], lambda s: s["state"] == "active")


def test_wrong_origin_unknown_site_and_version_are_refused_with_403(server: Server) -> None:
    for kwargs in ({"origin": "http://evil.example"}, {"site": "nope"}):
        with pytest.raises(InvalidStatus) as err:
            server.ws(**kwargs)
        assert err.value.response.status_code == 403


def test_bad_frames_get_errors_and_leave_state_untouched(server: Server) -> None:
    ws, ready = open_session(server)
    with ws:
        before = server.session(ready["sid"])
        bad = [
            ("not json", None),
            ('{"t":"teleport"}', None),
            ('[1,2]', None),
            ('{"t":"cart","items":"x","total":1,"currency":"EUR"}', None),
            ('{"t":"cart","items":[],"total":-5,"currency":"EUR"}', None),
            ('{"t":"cart","items":[],"total":5,"currency":"euro"}', None),
            ('{"t":"vis","state":"sideways"}', None),
            ('{"t":"purchase","id":"p-1","order":"o","total":"lots","currency":"EUR"}', "p-1"),
            ('{"t":"purchase","id":"has space","order":"o","total":1,"currency":"EUR"}', "has space"),
            ('{"t":"page","page":{"url":"javascript:alert(1)"}}', None),
        ]
        for frame, ref in bad:
            send(ws, frame)
            err = recv(ws)
            assert err["t"] == "error" and err["code"] == "bad_message" and err["ref"] == ref, (frame, err)
            assert err["msg"] and "Traceback" not in err["msg"]
        after = server.session(ready["sid"])
        for key in ("page", "pages", "cart", "exits", "purchases", "state"):
            assert after[key] == before[key]
        send(ws, {"t": "act"})  # the socket still works
        assert server.api("/healthz").status_code == 200


def test_binary_frame_is_a_bad_message(server: Server) -> None:
    ws, _ = open_session(server)
    with ws:
        ws.send(b"\x00\x01")
        assert recv(ws)["code"] == "bad_message"


def test_frame_over_8_kib_closes_with_1009(server: Server) -> None:
    ws, _ = open_session(server)
    with ws:
        ws.send('{"t":"act","pad":"' + "x" * 9000 + '"}')
        with pytest.raises(ConnectionClosed) as err:
            ws.recv(timeout=5)
        assert err.value.rcvd is not None and err.value.rcvd.code == 1009


def test_rate_limit_and_abuse_close_with_1008(server: Server) -> None:
    ws, _ = open_session(server)
    with ws:
        codes = []
        try:
            for _ in range(200):  # burst is 60 and 20 bad frames close: the server closes before the end
                send(ws, {"t": "act"})
        except ConnectionClosed:
            pass
        with pytest.raises(ConnectionClosed) as err:
            while True:  # what was sent before the close is still delivered
                codes.append(recv(ws)["code"])
        assert codes == ["rate_limited"] * 20
        assert err.value.rcvd is not None and err.value.rcvd.code == 1008


def test_first_frame_must_be_hello(server: Server) -> None:
    ws = server.ws()
    with ws:
        send(ws, {"t": "act"})
        assert recv(ws)["code"] == "bad_message"
        send(ws, hello())
        assert recv(ws)["t"] == "ready"


def test_purchase_is_acked_once_stored_and_applied_once(server: Server) -> None:
    ws, ready = open_session(server)
    with ws:
        msg = {"t": "purchase", "id": "ord-77", "order": "A77", "total": 120.5, "currency": "EUR"}
        for _ in range(3):
            send(ws, msg)
            assert recv(ws) == {"t": "ack", "id": "ord-77"}
    # resent after a reconnect, on a new socket: acked, not applied again
    ws2, again = open_session(server, vid=ready["vid"], sid=ready["sid"])
    with ws2:
        assert again["resumed"] is True and again["sid"] == ready["sid"]
        send(ws2, msg)
        assert recv(ws2) == {"t": "ack", "id": "ord-77"}
        s = server.session(ready["sid"])
        assert s["purchases"] == 1 and s["revenue"] == 120.5 and s["state"] == "converted"


def test_unknown_or_malformed_ids_get_fresh_ones(server: Server) -> None:
    for vid, sid in (("does-not-exist", "nor-this"), ("bad id!", "x" * 200), (None, "orphan-sid")):
        ws, ready = open_session(server, vid=vid, sid=sid)
        with ws:
            assert ready["vid"] != vid and ready["sid"] != sid and ready["resumed"] is False


def test_idle_on_checkout_is_detected_by_the_server(server: Server) -> None:
    ws, ready = open_session(server, url="https://shop.example/checkout", kind="checkout")
    with ws:
        s = server.wait_session(ready["sid"], lambda s: s["state"] == "idle", timeout=3)
        assert s["page"]["kind"] == "checkout"
        send(ws, {"t": "act"})
        server.wait_session(ready["sid"], lambda s: s["state"] == "active")


def test_leave_after_grace_and_navigation_does_not_count(server: Server) -> None:
    ws, ready = open_session(server)
    ws.close()
    # a quick reconnect (page navigation) within leave_grace: never "left"
    ws, again = open_session(server, vid=ready["vid"], sid=ready["sid"], url="https://shop.example/cart",
                             kind="cart")
    assert again["resumed"]
    time.sleep(0.1)
    ws.close()
    s = server.wait_session(ready["sid"], lambda s: s["connected"] == 0)
    assert s["state"] == "away"
    s = server.wait_session(ready["sid"], lambda s: s["state"] == "left", timeout=3)
    assert s["pages"] == 2


def test_api_needs_a_token_and_validates_input(server: Server) -> None:
    assert server.api("/api/v1/sessions?site=demo", token="wrong-token-wrong-token").status_code == 401
    assert httpx.get(f"{server.url}/api/v1/sessions?site=demo").status_code == 401
    r = server.api("/api/v1/sessions?site=nope")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_site"
    assert server.api("/api/v1/sessions?site=demo&limit=abc").status_code == 400
    assert server.api("/api/v1/sessions/unknown-sid?site=demo").status_code == 404


def test_metrics_are_prometheus_text(server: Server) -> None:
    ws, _ = open_session(server)
    with ws:
        send(ws, "not json")
        assert recv(ws)["t"] == "error"
        body = httpx.get(f"{server.url}/metrics").text
        assert "linger_connections " in body and 'linger_sessions{state="active"}' in body
        assert 'linger_frames_in_total{t="hello"}' in body
        assert 'linger_errors_total{code="bad_message"}' in body
        assert "# HELP linger_gc_pause_seconds" in body


def test_the_same_id_on_two_sockets_at_once_is_applied_once(server: Server) -> None:
    ws1, ready = open_session(server)
    ws2, _ = open_session(server, vid=ready["vid"], sid=ready["sid"])  # a second tab of the visit
    with ws1, ws2:
        msg = {"t": "purchase", "id": "twin-1", "order": "T1", "total": 10, "currency": "EUR"}
        for _ in range(5):
            send(ws1, msg)
            send(ws2, msg)
        for ws in (ws1, ws2):
            assert [recv(ws) for _ in range(5)] == [{"t": "ack", "id": "twin-1"}] * 5
        s = server.session(ready["sid"])
        assert s["purchases"] == 1 and s["revenue"] == 10


def test_a_rate_limited_message_is_named_in_its_error(server: Server) -> None:
    ws, _ = open_session(server)
    with ws:
        for n in range(75):  # frame_burst 60 (+20/s): the last ten or so are over the limit, under max_bad_frames
            send(ws, {"t": "purchase", "id": f"rl{n}", "order": "A", "total": 1, "currency": "EUR"})
        refs = set()
        for _ in range(75):
            msg = recv(ws)
            if msg["t"] == "error":
                assert msg["code"] == "rate_limited"
                refs.add(msg["ref"])
        assert refs and all(r and r.startswith("rl") for r in refs)
