"""Live email capture on the demo checkout in Chromium: `live` captures while typing, before submit;
`consent` waits for the consent box; inputs added later and in same-origin iframes are watched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import FAST, TOKEN, Server


def leads(srv: Server) -> list[dict[str, Any]]:
    r = httpx.get(f"{srv.url}/api/v1/leads?site=demo", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5)
    return r.json()["leads"]  # type: ignore[no-any-return]


def wait_lead(srv: Server, page: Any, address: str) -> dict[str, Any]:
    for _ in range(100):
        found = [x for x in leads(srv) if x["email"] == address]
        if found:
            return found[0]
        page.wait_for_timeout(50)
    raise AssertionError(f"no lead {address}")


def ready(page: Any) -> None:
    page.wait_for_function("window.linger && window.linger.loaded && window.linger.state.connected")


@pytest.fixture(scope="module")
def live_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("live"), FAST, site={"capture": "live"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def consent_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("consent"), FAST, site={"capture": "consent"}).start()
    yield srv
    srv.stop()


def test_live_mode_captures_while_typing_before_submit(page: Any, live_shop: Server) -> None:
    page.goto(f"{live_shop.url}/demo/checkout")
    ready(page)
    page.locator("#email").press_sequentially("typed.live@example.com", delay=10)
    lead = wait_lead(live_shop, page, "typed.live@example.com")  # nothing was submitted
    assert lead["source"] == "field" and lead["field"] == "email" and lead["consent"]["given"] is False
    assert page.evaluate("location.pathname") == "/demo/checkout"
    assert page.console_errors == []


def test_consent_mode_waits_for_the_consent_box(page: Any, consent_shop: Server) -> None:
    page.goto(f"{consent_shop.url}/demo/checkout")
    ready(page)
    page.fill("#email", "careful@example.com")
    page.locator("#name").focus()  # blur: a valid address, but no consent yet
    page.wait_for_timeout(1000)
    assert [x for x in leads(consent_shop) if x["email"] == "careful@example.com"] == []
    page.check("#consent")
    lead = wait_lead(consent_shop, page, "careful@example.com")
    assert lead["consent"]["given"] is True
    assert lead["consent"]["text"] == "Email me offers and news (you can unsubscribe any time)"


def test_inputs_added_later_and_in_iframes_are_watched(page: Any, live_shop: Server) -> None:
    page.goto(f"{live_shop.url}/demo")
    ready(page)
    page.evaluate("""() => {
        const f = document.createElement('form');
        f.innerHTML = '<input name="newsletter" autocomplete="email">';
        document.querySelector('main').appendChild(f);
        const frame = document.createElement('iframe');
        frame.srcdoc = '<input type="email" name="inner">';
        document.body.appendChild(frame);
    }""")
    page.fill("input[name=newsletter]", "late@example.com")
    page.locator("a.brand").focus()
    assert wait_lead(live_shop, page, "late@example.com")["field"] == "newsletter"
    inner = page.frame_locator("iframe").locator("input[name=inner]")
    inner.fill("framed@example.com")
    inner.blur()
    assert wait_lead(live_shop, page, "framed@example.com")["field"] == "inner"
