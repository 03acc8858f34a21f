"""Campaigns at the protocol level: welcome timing and targeting, caps across reconnects and a
restart, arming, edits reaching connected sessions on every instance, the API's validation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.embedded import EmbeddedRedis
from tests.support import FAST, TOKEN, Server, call, next_msg, open_session, recv, send

pytestmark = pytest.mark.integration

WELCOME = {"id": "welcome", "name": "Welcome", "kind": "welcome", "status": "live",
           "trigger": {"delay_s": 0.5}, "target": {"visitor": "new"}, "frequency": {"per": "days", "days": 30},
           "variants": [{"content": {"headline": "Welcome! 15% off", "code": "WELCOME15"}}]}
EXIT = {"id": "exit50", "name": "Exit", "kind": "exit", "status": "live", "trigger": {"exit": ["mouse"]},
        "target": {"cart_total_min": 50}, "variants": [{"content": {"headline": "Wait!"}}]}


api = call  # the shared builders of tests/support.py


def no_msg(ws: Any, t: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            msg = recv(ws, timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            return
        assert msg["t"] != t, msg


def campaign_server(tmp: Path, extra: dict[str, Any] | None = None) -> Server:
    return Server(tmp, FAST | (extra or {}), site={"popup_gap_s": 0})


@pytest.fixture(scope="module")
def csrv(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = campaign_server(tmp_path_factory.mktemp("camps")).start()
    assert api(srv, "POST", "/api/v1/campaigns?site=demo", WELCOME).status_code == 201
    assert api(srv, "POST", "/api/v1/campaigns?site=demo", EXIT).status_code == 201
    yield srv
    srv.stop()


def test_new_visitor_gets_the_welcome_after_its_delay(csrv: Server) -> None:
    ws, ready = open_session(csrv)
    with ws:
        t0 = time.monotonic()
        popup = next_msg(ws, "popup")
        waited = time.monotonic() - t0
        assert 0.3 < waited < 2.0, waited  # delay_s 0.5, timer tick 20 ms
        assert popup["cid"] == "welcome" and popup["kind"] == "welcome" and popup["var"] == "a"
        assert popup["content"]["code"] == "WELCOME15" and popup["layout"] == "modal"
        send(ws, {"t": "popup", "id": "p1", "cid": "welcome", "var": "a", "ev": "shown"})
        assert next_msg(ws, "ack") == {"t": "ack", "id": "p1"}


def test_returning_visitor_does_not_get_the_welcome(csrv: Server) -> None:
    ws, first = open_session(csrv)
    ws.close()
    ws, again = open_session(csrv, vid=first["vid"])  # no sid: a new session of a returning visitor
    with ws:
        assert csrv.session(again["sid"])["returning"] is True
        no_msg(ws, "popup", 1.0)


def test_caps_hold_across_reconnects(csrv: Server) -> None:
    ws, ready = open_session(csrv)
    next_msg(ws, "popup")
    ws.close()
    # navigation: a new socket of the same session; the welcome (once per 30 days) does not come back
    ws, again = open_session(csrv, vid=ready["vid"], sid=ready["sid"], url="https://shop.example/c/x",
                             kind="category")
    with ws:
        assert again["resumed"]
        no_msg(ws, "popup", 1.0)


def test_exit_popup_is_armed_in_ready_and_follows_the_cart(csrv: Server) -> None:
    ws, ready = open_session(csrv)
    with ws:
        assert ready["armed"] == []
        send(ws, {"t": "cart", "items": [{"id": "1", "name": "Boot", "price": 60, "qty": 1}], "total": 60,
                  "currency": "EUR"})
        arm = next_msg(ws, "arm")
        assert arm["on"] == "exit" and arm["how"] == ["mouse"] and arm["popup"]["cid"] == "exit50"
    ws, again = open_session(csrv, vid=ready["vid"], sid=ready["sid"])
    with ws:
        assert [a["popup"]["cid"] for a in again["armed"]] == ["exit50"]  # armed from the first frame
        send(ws, {"t": "cart", "items": [], "total": 0, "currency": "EUR"})
        assert next_msg(ws, "disarm") == {"t": "disarm", "cid": "exit50"}


def test_campaign_api_validates_and_round_trips(csrv: Server) -> None:
    r = api(csrv, "POST", "/api/v1/campaigns?site=demo", {**WELCOME, "id": "bad", "kind": "banner"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"
    r = api(csrv, "POST", "/api/v1/campaigns?site=demo", {**WELCOME, "id": "x", "variants": [
        {"content": {"headline": "h", "cta": {"label": "go", "url": "javascript:alert(1)"}}}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "variants[0].content.cta.url"
    assert api(csrv, "POST", "/api/v1/campaigns?site=demo", WELCOME).status_code == 409
    assert api(csrv, "POST", "/api/v1/campaigns?site=nope", WELCOME).status_code == 400
    assert api(csrv, "GET", "/api/v1/campaigns?site=demo", token="x" * 20).status_code == 401
    r = httpx.post(f"{csrv.url}/api/v1/campaigns?site=demo", content=b"{not json",
                   headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    listed = api(csrv, "GET", "/api/v1/campaigns?site=demo").json()
    assert {c["id"] for c in listed["campaigns"]} >= {"welcome", "exit50"}
    one = api(csrv, "GET", "/api/v1/campaigns/welcome?site=demo").json()
    assert one["trigger"]["delay_s"] == 0.5 and one["status"] == "live"
    assert api(csrv, "PUT", "/api/v1/campaigns/welcome?site=demo", {**WELCOME, "id": "other"}).status_code == 422
    assert api(csrv, "GET", "/api/v1/campaigns/nope?site=demo").status_code == 404
    stats = api(csrv, "GET", "/api/v1/campaigns/welcome/stats?site=demo").json()
    assert stats["variants"][0]["variant"] == "a" and stats["totals"]["impressions"] >= 1


def test_an_edit_reaches_connected_sessions_on_every_instance(tmp_path: Path) -> None:
    """Two instances sharing one Redis: a PUT on one re-arms a shopper connected to the other."""
    redis = EmbeddedRedis(tmp_path / "shared")
    url = redis.start()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = campaign_server(tmp_path / "a", {"redis": {"url": url}}).start()
    b = campaign_server(tmp_path / "b", {"redis": {"url": url}}).start()
    try:
        r = api(a, "POST", "/api/v1/campaigns?site=demo", {**EXIT, "target": {"cart_total_min": 500}})
        assert r.status_code == 201
        ws, ready = open_session(b)
        with ws:
            send(ws, {"t": "cart", "items": [{"id": "1", "name": "Boot", "price": 60, "qty": 1}], "total": 60,
                      "currency": "EUR"})
            no_msg(ws, "arm", 0.3)  # 60 < 500: not armed
            t0 = time.monotonic()
            r = api(a, "PUT", "/api/v1/campaigns/exit50?site=demo", {**EXIT, "target": {"cart_total_min": 50}})
            assert r.status_code == 200
            arm = next_msg(ws, "arm", timeout=2)
            assert arm["popup"]["cid"] == "exit50" and time.monotonic() - t0 < 1.0
            assert api(a, "DELETE", "/api/v1/campaigns/exit50?site=demo").status_code == 200
            assert next_msg(ws, "disarm", timeout=2) == {"t": "disarm", "cid": "exit50"}
    finally:
        a.stop()
        b.stop()
        redis.stop()


def test_caps_hold_across_a_restart(tmp_path: Path) -> None:
    srv = campaign_server(tmp_path, {"timing": {**FAST["timing"], "session_timeout_s": 60}}).start()
    try:
        assert api(srv, "POST", "/api/v1/campaigns?site=demo", WELCOME).status_code == 201
        ws, ready = open_session(srv)
        with ws:
            next_msg(ws, "popup")
        srv.stop()
        srv.start()
        ws, again = open_session(srv, vid=ready["vid"], sid=ready["sid"])
        with ws:
            assert again["resumed"]
            no_msg(ws, "popup", 1.0)
        ws, other = open_session(srv)  # a brand-new visitor still gets it: campaigns survived too
        with ws:
            assert next_msg(ws, "popup")["cid"] == "welcome"
    finally:
        srv.stop()


def test_demo_seed_campaigns_load_once(tmp_path: Path) -> None:
    from tests.support import ROOT

    srv = Server(tmp_path, FAST, site={"seed_campaigns": str(ROOT / "server" / "demo_campaigns.toml")}).start()
    try:
        ids = {c["id"] for c in api(srv, "GET", "/api/v1/campaigns?site=demo").json()["campaigns"]}
        assert ids == {"welcome15", "exit-cart50", "checkout-help", "product-hint", "welcome-back",
                       "push-prompt"}
        assert api(srv, "DELETE", "/api/v1/campaigns/welcome15?site=demo").status_code == 200
        srv.stop()
        srv.start()
        ids = {c["id"] for c in api(srv, "GET", "/api/v1/campaigns?site=demo").json()["campaigns"]}
        assert "welcome15" not in ids and len(ids) == 5  # not seeded again
    finally:
        srv.stop()


def test_export_import_round_trip_as_toml(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support import ROOT

    srv = campaign_server(tmp_path).start()
    try:
        assert api(srv, "POST", "/api/v1/campaigns?site=demo", WELCOME).status_code == 201
        assert api(srv, "POST", "/api/v1/campaigns?site=demo", EXIT).status_code == 201
        before = api(srv, "GET", "/api/v1/campaigns?site=demo").json()["campaigns"]

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "server", "campaigns", *args, "--config", str(srv.config)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=60)

        out = tmp_path / "camps.toml"
        r = cli("export", str(out))
        assert r.returncode == 0 and "exported 2 campaign(s)" in r.stdout
        assert api(srv, "DELETE", "/api/v1/campaigns/welcome?site=demo").status_code == 200
        out.write_text(out.read_text().replace("Wait!", "Wait, come back!"))
        r = cli("import", str(out))
        assert r.returncode == 0 and "1 new, 1 updated" in r.stdout, r.stderr
        after = api(srv, "GET", "/api/v1/campaigns?site=demo").json()["campaigns"]
        assert [c["id"] for c in after] == [c["id"] for c in before]
        assert after[0]["variants"][0]["content"]["headline"] == "Wait, come back!"  # sorted by id at equal priority
        bad = tmp_path / "bad.toml"
        bad.write_text('[[campaigns]]\nid = "x"\nname = "x"\nkind = "exit"\ntrigger = { exit = ["nose"] }\n')
        r = cli("import", str(bad))
        assert r.returncode == 2 and "campaigns[0].trigger.exit[0]" in r.stderr and "nothing was imported" in r.stderr
    finally:
        srv.stop()


def test_repeat_buyers_convert_once_per_impression_and_stats_stay_defined(tmp_path: Path) -> None:
    """One shopper sees the popup once and buys three times: one conversion (rate 1.0, not 3.0),
    three purchases and their revenue; with two variants in that state /stats still answers."""
    srv = campaign_server(tmp_path).start()
    try:
        ab = {**WELCOME, "id": "ab", "target": {}, "variants": [{"id": "a", "content": {"headline": "A"}},
                                                               {"id": "b", "content": {"headline": "B"}}]}
        assert api(srv, "POST", "/api/v1/campaigns?site=demo", ab).status_code == 201
        seen: dict[str, int] = {}
        for _ in range(40):
            ws, _ = open_session(srv)
            with ws:
                popup = next_msg(ws, "popup")
                var = popup["var"]
                if var in seen:
                    continue
                seen[var] = 1
                send(ws, {"t": "popup", "id": "s1", "cid": "ab", "var": var, "ev": "shown"})
                assert next_msg(ws, "ack")["id"] == "s1"
                buys = 3 if var == "a" else 0
                for n in range(buys):
                    send(ws, {"t": "purchase", "id": f"o{n}", "order": f"A{n}", "total": 10, "currency": "EUR"})
                    assert next_msg(ws, "ack")["id"] == f"o{n}"
            if len(seen) == 2:
                break
        r = api(srv, "GET", "/api/v1/campaigns/ab/stats?site=demo")
        assert r.status_code == 200, r.text
        a, b = r.json()["variants"]
        assert (a["impressions"], a["conversions"], a["purchases"], a["revenue"]) == (1, 1, 3, 30.0)
        assert a["conversion_rate"] == 1.0 and b["conversion_rate"] == 0.0
        assert 0.0 <= b["vs_first"]["p_value"] <= 1.0
    finally:
        srv.stop()
