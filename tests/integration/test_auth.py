"""API tokens are scoped to sites: another shop's sessions, leads, campaigns, alerts and deliveries
answer 403 or 404, never data; without [api] there is no token at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import FAST, Server, call, open_session, recv, send

pytestmark = pytest.mark.integration

SHOP_A = "token-for-shop-a-0123456789"
ADMIN = "token-for-everything-0123456789"
OTHER = {"key": "other", "name": "Other shop", "origins": ["https://other.example"]}


@pytest.fixture(scope="module")
def two_shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("auth"), FAST | {"server": {"log_level": "info"}, "api": {"tokens": [
        {"token": SHOP_A, "sites": ["demo"], "name": "shop-a-crm"}, {"token": ADMIN, "sites": ["*"]}]}},
        more_sites=[OTHER]).start()
    yield srv
    srv.stop()


def other_session(srv: Server) -> str:
    """A session (with an email) on the other shop, opened through its own origin."""
    ws = srv.ws(origin="https://other.example", site="other")
    with ws:
        send(ws, {"t": "hello", "v": 1, "vid": None, "sid": None, "page": {"url": "https://other.example/"}})
        ready = recv(ws)
        send(ws, {"t": "purchase", "id": "p1", "order": "X1", "total": 10, "currency": "EUR"})
        assert recv(ws) == {"t": "ack", "id": "p1"}
        return str(ready["sid"])


@pytest.mark.parametrize("path", [
    "/api/v1/sessions?site=other", "/api/v1/sessions/{sid}?site=other", "/api/v1/leads?site=other",
    "/api/v1/leads.csv?site=other", "/api/v1/alerts?site=other", "/api/v1/webhooks/deliveries?site=other",
    "/api/v1/campaigns?site=other", "/api/v1/campaigns/welcome?site=other",
    "/api/v1/campaigns/welcome/stats?site=other",
])
def test_a_token_cannot_read_another_site(two_shops: Server, path: str) -> None:
    sid = other_session(two_shops)
    r = call(two_shops, "GET", path.format(sid=sid), token=SHOP_A)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden" and sid not in r.text
    assert call(two_shops, "GET", path.format(sid=sid), token=ADMIN).status_code in (200, 404)


def test_writes_to_another_site_are_refused(two_shops: Server) -> None:
    camp = {"id": "x", "name": "x", "kind": "hint", "trigger": {"delay_s": 1},
            "variants": [{"content": {"headline": "x"}}]}
    for method, path, body in (("POST", "/api/v1/campaigns?site=other", camp),
                               ("PUT", "/api/v1/campaigns/x?site=other", camp),
                               ("DELETE", "/api/v1/campaigns/x?site=other", None),
                               ("DELETE", "/api/v1/leads?site=other&email=a@b.co", None)):
        assert call(two_shops, method, path, body, token=SHOP_A).status_code == 403
    assert call(two_shops, "GET", "/api/v1/campaigns/x?site=other", token=ADMIN).status_code == 404


def test_another_sites_session_is_not_found_through_ones_own_site(two_shops: Server) -> None:
    sid = other_session(two_shops)
    r = call(two_shops, "GET", f"/api/v1/sessions/{sid}?site=demo", token=SHOP_A)
    assert r.status_code == 404 and sid not in r.text
    assert call(two_shops, "GET", f"/api/v1/sessions/{sid}", token=SHOP_A).status_code == 400  # no site: no guess
    assert call(two_shops, "GET", f"/api/v1/sessions/{sid}?site=other", token=ADMIN).json()["sid"] == sid


def test_own_site_works_and_strangers_get_401(two_shops: Server) -> None:
    ws, ready = open_session(two_shops)
    with ws:
        r = call(two_shops, "GET", f"/api/v1/sessions/{ready['sid']}?site=demo", token=SHOP_A)
        assert r.status_code == 200 and r.json()["sid"] == ready["sid"]
    for token in ("nope", SHOP_A + "x", "demo-token-change-me", SHOP_A[:-1]):
        r = httpx.get(f"{two_shops.url}/api/v1/sessions?site=demo", headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_changes_are_logged_with_the_token_name(two_shops: Server) -> None:
    call(two_shops, "DELETE", "/api/v1/campaigns/none?site=demo", token=SHOP_A)
    assert "api: shop-a-crm DELETE /api/v1/campaigns/none" in two_shops.log.read_text()


def test_without_api_tokens_the_demo_token_opens_nothing(tmp_path: Path) -> None:
    srv = Server(tmp_path, FAST | {"api": {"tokens": []}}).start()
    try:
        r = httpx.get(f"{srv.url}/api/v1/sessions?site=demo", headers={"authorization": "Bearer demo-token-change-me"})
        assert r.status_code == 401
    finally:
        srv.stop()
