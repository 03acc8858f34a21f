"""Accessibility with axe-core (installed from npm: widget/package.json) in Chromium: the demo shop,
its popups and every admin page, at 1280 and 375 px, have no serious or critical violations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.helpers import ready
from tests.support import FAST, ROOT, Server, call

AXE = ROOT / "widget" / "node_modules" / "axe-core" / "axe.min.js"
RUN = """axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))"""


@pytest.fixture(scope="module")
def axe() -> str:
    if not AXE.exists():
        reason = f"{AXE} is missing (make test installs it with npm ci in widget/)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true the accessibility tests must run: {reason}")
        pytest.skip(f"ACCESSIBILITY TESTS SKIPPED: {reason}")
    return AXE.read_text()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("a11y"), FAST,
                 site={"popup_gap_s": 0, "seed_campaigns": str(ROOT / "server" / "demo_campaigns.toml")}).start()
    yield srv
    srv.stop()


def violations(page: Any, axe: str) -> list[str]:
    page.evaluate(axe)
    return page.evaluate(RUN)  # type: ignore[no-any-return]


@pytest.mark.parametrize("width", [1280, 375])
def test_the_demo_shop_and_its_popups(browser: Any, shop: Server, axe: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
    try:
        page = ctx.new_page()
        for path in ("/demo", "/demo/p/1", "/demo/cart", "/demo/checkout"):
            page.goto(f"{shop.url}{path}")
            ready(page)
            assert violations(page, axe) == [], path
        # each popup variant of the demo campaigns, shown for real (delays set to 0 through the API)
        for cid in ("welcome15", "exit-cart50", "push-prompt", "checkout-help", "product-hint"):
            camp = call(shop, "GET", f"/api/v1/campaigns/{cid}?site=demo").json()
            for n in range(len(camp["variants"])):
                only = {**camp, "trigger": {**camp["trigger"], "delay_s": 0, "exit": [], "idle_s": None},
                        "target": {}, "frequency": {"per": "page", "stop_after_close": False},
                        "variants": [{**v, "weight": 1 if i == n else 0} for i, v in enumerate(camp["variants"])]}
                r = call(shop, "PUT", "/api/v1/campaigns/a11y?site=demo", {**only, "id": "a11y", "priority": 1000})
                assert r.status_code in (200, 201), r.text
                fresh = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
                try:
                    p = fresh.new_page()
                    p.goto(f"{shop.url}/demo/p/1")
                    p.locator("linger-popup").wait_for(state="attached", timeout=5000)
                    p.wait_for_timeout(300)  # the opening transition
                    assert violations(p, axe) == [], (cid, n)
                finally:
                    fresh.close()
        call(shop, "DELETE", "/api/v1/campaigns/a11y?site=demo")
    finally:
        ctx.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_every_admin_page(browser: Any, shop: Server, axe: str, width: int) -> None:
    ctx = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    try:
        page = ctx.new_page()
        page.goto(f"{shop.url}/admin/login")
        assert violations(page, axe) == [], "login"
        page.get_by_label("Email").fill("merchant@demo.example")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        assert violations(page, axe) == [], "login with an error"
        page.get_by_label("Password").fill("demo-password-change-me")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/admin/campaigns?site=demo")
        for path in ("/admin/campaigns?site=demo", "/admin/campaigns/welcome15/edit?site=demo",
                     "/admin/campaigns/new?site=demo&template=exit", "/admin/campaigns/welcome15/results?site=demo",
                     "/admin/campaigns/welcome15/history?site=demo", "/admin/audit?site=demo",
                     "/admin/funnel?site=demo", "/admin/settings?site=demo", "/admin/tokens?site=demo",
                     "/admin/campaigns/nope/edit?site=demo"):
            page.goto(f"{shop.url}{path}")
            assert violations(page, axe) == [], path
    finally:
        ctx.close()
