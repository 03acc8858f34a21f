"""The widget in a real Chromium on the demo store: connect, page views, cart, exit intent, hidden tab."""

from __future__ import annotations

from typing import Any

from tests.browser.helpers import OUTBOX
from tests.support import FAST, Server


def ready(page: Any) -> dict[str, Any]:
    page.wait_for_function("window.linger && window.linger.loaded && window.linger.state.connected")
    return page.evaluate("({vid: linger.state.vid, sid: linger.state.sid})")  # type: ignore[no-any-return]


def test_widget_connects_and_reports_pages_and_cart(page: Any, shop: Server) -> None:
    page.goto(f"{shop.url}/demo")
    ids = ready(page)
    s = shop.wait_session(ids["sid"], lambda s: s["connected"] == 1)
    assert s["page"]["kind"] == "home" and s["state"] == "active"

    page.click("a[href='/demo/p/42']")
    page.wait_for_url("**/demo/p/42")
    again = ready(page)
    assert again == ids  # the same visit, resumed across navigation
    page.click("#add")
    s = shop.wait_session(ids["sid"], lambda s: s["cart"]["count"] == 1)
    assert s["page"]["kind"] == "product" and s["pages"] == 2 and s["temperature"] == "hot"
    assert s["cart"]["total"] == 89 and s["cart"]["currency"] == "EUR"
    assert page.console_errors == []


def test_spa_navigation_is_reported(page: Any, shop: Server) -> None:
    page.goto(f"{shop.url}/demo")
    ids = ready(page)
    page.evaluate("history.pushState({}, '', '/demo/c/shoes')")
    s = shop.wait_session(ids["sid"], lambda s: s["page"]["url"].endswith("/demo/c/shoes"))
    assert s["page"]["kind"] == "category" and s["pages"] == 2


def test_exit_intent_and_hidden_tab_reach_the_session(page: Any, shop: Server) -> None:
    page.goto(f"{shop.url}/demo/c/shoes")
    ids = ready(page)
    page.wait_for_timeout(250)  # min_dwell_ms is 200 in the test config
    page.mouse.move(300, 300)
    page.mouse.move(300, 5)
    page.mouse.move(300, -20)
    s = shop.wait_session(ids["sid"], lambda s: s["exits"] >= 1)
    assert s["last_exit"] == "mouse"

    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    shop.wait_session(ids["sid"], lambda s: s["state"] == "hidden")
    page.evaluate("""() => {
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    shop.wait_session(ids["sid"], lambda s: s["state"] == "active")
    assert page.console_errors == []


def test_queued_calls_before_load_are_not_lost(page: Any, shop: Server) -> None:
    # the demo shop reports its cart from a deferred script that may run before the widget loads
    page.goto(f"{shop.url}/demo")
    page.evaluate("localStorage.setItem('demo.cart', JSON.stringify([{id:'61',name:'Wool beanie',price:24,qty:3}]))")
    page.goto(f"{shop.url}/demo/cart")
    ids = ready(page)
    s = shop.wait_session(ids["sid"], lambda s: s["cart"]["count"] == 3)
    assert s["cart"]["total"] == 72 and s["page"]["kind"] == "cart"


def test_checkout_purchase_survives_navigation_via_the_outbox(page: Any, shop: Server) -> None:
    page.goto(f"{shop.url}/demo/p/43")
    ids = ready(page)
    page.click("#add")
    page.goto(f"{shop.url}/demo/checkout")
    ready(page)
    page.fill("#email", "shopper@example.com")
    page.fill("#name", "Ada Shopper")
    page.fill("#address", "1 Long Walk")
    page.fill("#city", "Kraków")
    page.click("#place-order")
    page.wait_for_url("**/demo/thanks**")
    ready(page)
    page.wait_for_function(f"{OUTBOX} === 0")
    s = shop.wait_session(ids["sid"], lambda s: s["purchases"] == 1)
    assert s["converted"] and s["revenue"] == 139 and s["page"]["kind"] == "thanks"
    assert page.console_errors == []


def test_widget_never_throws_into_the_host_page(page: Any, shop: Server) -> None:
    page.goto(f"{shop.url}/demo")
    ready(page)
    page.evaluate("linger('no-such-command', 1); linger('cart', null); linger('cart', {items: 'garbage'})")
    page.wait_for_timeout(100)
    assert page.console_errors == []


def test_mobile_exit_intent_scroll_blur_and_back(browser: Any, shop: Server) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 700}, has_touch=True, is_mobile=True)
    page = ctx.new_page()
    try:
        page.goto(f"{shop.url}/demo/c/shoes")
        ids = ready(page)
        page.wait_for_timeout(300)  # past min_dwell_ms (200): the back-button trap is in place
        page.evaluate("window.scrollTo(0, 600)")
        page.wait_for_timeout(50)
        page.evaluate("window.scrollTo(0, 10)")  # 590 px in one frame: a fast flick up
        s = shop.wait_session(ids["sid"], lambda s: s["last_exit"] == "scroll")
        assert s["device"] == "mobile"
        page.evaluate("window.dispatchEvent(new Event('blur'))")
        shop.wait_session(ids["sid"], lambda s: s["last_exit"] == "blur")
        page.go_back()  # pops the trap entry: still on the page, exit reported
        s = shop.wait_session(ids["sid"], lambda s: s["last_exit"] == "back")
        assert s["exits"] == 3 and page.url.endswith("/demo/c/shoes")
    finally:
        ctx.close()


def test_desktop_exit_is_cancelled_by_re_entry_within_the_delay(browser: Any, tmp_path: Any) -> None:
    srv = Server(tmp_path, FAST | {"exit": {"min_dwell_ms": 0, "delay_ms": 400}}).start()
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{srv.url}/demo")
        ids = ready(page)
        page.mouse.move(300, 300)
        page.mouse.move(300, -20)  # leaves through the top...
        page.mouse.move(300, 200)  # ...and comes back within delay_ms
        page.wait_for_timeout(600)
        assert srv.session(ids["sid"])["exits"] == 0
        page.mouse.move(300, -20)
        srv.wait_session(ids["sid"], lambda s: s["exits"] == 1)
    finally:
        ctx.close()
        srv.stop()


def test_widget_reconnects_and_resumes_after_a_server_restart(browser: Any, tmp_path: Any) -> None:
    srv = Server(tmp_path, FAST | {"timing": {**FAST["timing"], "session_timeout_s": 60}}).start()
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        page.goto(f"{srv.url}/demo/p/42")
        ids = ready(page)
        srv.stop()  # drain: the socket is closed with 1012
        page.wait_for_function("!linger.state.connected")
        srv.start()
        page.wait_for_function("linger.state.connected", timeout=15000)
        assert page.evaluate("linger.state.sid") == ids["sid"]
        page.click("#add")
        s = srv.wait_session(ids["sid"], lambda s: s["cart"]["count"] == 1)
        assert s["connected"] == 1 and s["pages"] == 1
    finally:
        ctx.close()
        srv.stop()
