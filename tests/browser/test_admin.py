"""The merchant admin in Chromium: sign in, change the welcome offer in the editor, watch a shopper
already on the demo store get it within a second, read its results; and the pages at 1280 and 375 px."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import ready
from tests.support import FAST, ROOT, Server

PASSWORD = "demo-password-change-me"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("admin-shop"), FAST,
                 site={"popup_gap_s": 0, "seed_campaigns": str(ROOT / "server" / "demo_campaigns.toml")}).start()
    yield srv
    srv.stop()


def sign_in(page: Any, srv: Server, email: str = "merchant@demo.example") -> None:
    page.goto(f"{srv.url}/admin")
    assert page.url.startswith(f"{srv.url}/admin/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/campaigns?site=demo")


def test_a_merchant_changes_the_welcome_offer_and_a_shopper_sees_it_within_a_second(browser: Any,
                                                                                      store: Server) -> None:
    merchant = browser.new_context(viewport={"width": 1280, "height": 900})
    shopper = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        shop = shopper.new_page()
        shop.goto(f"{store.url}/demo")  # a new visitor on the home page, before the change
        ready(shop)
        admin = merchant.new_page()
        sign_in(admin, store)
        admin.get_by_role("link", name="Welcome: 15% off the first order", exact=True).click()
        headline = admin.locator('[name="variants.0.content.headline"]')
        assert headline.input_value() == "Welcome! Take 15% off your first order"  # shows what is edited
        admin.locator('[name="trigger.delay_s"]').fill("0")
        headline.fill("Hello from the editor")
        for title in ("Preview on a desktop screen", "Preview on a 375 px phone screen"):  # drawn as typed
            frame = admin.frame_locator(f'iframe[title="{title}"]')
            frame.locator("linger-popup h2").filter(has_text="Hello from the editor").wait_for(
                state="attached", timeout=3000)
        assert admin.evaluate("document.activeElement.name") == "variants.0.content.headline"  # focus stays put
        admin.locator('[name="variants.1.weight"]').fill("0")  # everyone gets variant a
        t0 = time.monotonic()
        admin.get_by_role("button", name="Save").click()
        admin.wait_for_url("**/admin/campaigns?site=demo&changed=welcome15")
        shop.locator("linger-popup").get_by_text("Hello from the editor").wait_for(timeout=3000)
        assert time.monotonic() - t0 < 1.5  # saved and on the shopper's screen within about a second
        admin.goto(f"{store.url}/admin/campaigns/welcome15/results?site=demo")
        for _ in range(40):  # the impression is stored once the widget reports it shown
            if admin.locator("tbody tr").first.locator("td").first.inner_text() == "1":
                break
            admin.wait_for_timeout(50)
            admin.reload()
        assert admin.locator("tbody tr").first.locator("td").first.inner_text() == "1"
    finally:
        merchant.close()
        shopper.close()


def test_a_field_error_is_shown_next_to_the_field(browser: Any, store: Server) -> None:
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        sign_in(page, store)
        page.goto(f"{store.url}/admin/campaigns/exit-cart50/edit?site=demo")
        page.locator('[name="variants.0.style.bg"]').fill("red")
        page.get_by_role("button", name="Save").click()
        error = page.locator("#f-variants-0-style-bg-error")
        assert "has the wrong form" in error.inner_text() or "must" in error.inner_text()
        assert page.locator('[name="variants.0.style.bg"]').get_attribute("aria-invalid") == "true"
        assert page.locator('[name="variants.0.style.bg"]').input_value() == "red"  # what was typed stays
    finally:
        ctx.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_screenshots_of_the_main_pages(browser: Any, store: Server, width: int, tmp_path: Path) -> None:
    """Each main page renders without console errors (CSP violations included) and without sideways
    scrolling of the page itself; the screenshots are kept for a person to look at."""
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    errors: list[str] = []
    try:
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        sign_in(page, store)
        out = Path(ROOT / "tests" / "browser" / "screenshots")
        out.mkdir(exist_ok=True)
        for name, path in (("campaigns", "/admin/campaigns?site=demo"),
                           ("editor", "/admin/campaigns/welcome15/edit?site=demo"),
                           ("results", "/admin/campaigns/welcome15/results?site=demo"),
                           ("audit", "/admin/audit?site=demo"), ("funnel", "/admin/funnel?site=demo"),
                           ("settings", "/admin/settings?site=demo")):
            page.goto(f"{store.url}{path}")
            page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
            wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap')
                && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className)""")
            assert wide == [], (name, wide)
        assert errors == []
    finally:
        ctx.close()


def test_preview_on_my_store_shows_the_draft_to_that_browser_only(browser: Any, store: Server) -> None:
    from tests.support import call

    merchant, shopper = browser.new_context(), browser.new_context()
    try:
        admin = merchant.new_page()
        sign_in(admin, store)
        admin.goto(f"{store.url}/admin/campaigns/product-hint/edit?site=demo")
        admin.locator('[name="variants.0.content.headline"]').fill("A draft nobody else sees")
        admin.get_by_role("button", name="Preview on my store").click()
        link = admin.get_by_role("link", name="open your store with it")
        url = link.get_attribute("href")
        assert url and "linger_preview=" in url
        assert admin.locator('[name="variants.0.content.headline"]').input_value() == "A draft nobody else sees"
        mine = merchant.new_page()
        mine.goto(url)
        mine.locator("linger-popup h2").filter(has_text="A draft nobody else sees").wait_for(state="attached",
                                                                                          timeout=5000)
        other = shopper.new_page()
        other.goto(f"{store.url}/demo/p/1")
        ready(other)
        other.wait_for_timeout(300)
        assert "A draft nobody else sees" not in other.content()
        stored = call(store, "GET", "/api/v1/campaigns/product-hint?site=demo").json()
        assert stored["variants"][0]["content"]["headline"] != "A draft nobody else sees"  # nothing was published
    finally:
        merchant.close()
        shopper.close()
