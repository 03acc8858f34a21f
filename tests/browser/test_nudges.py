"""Tab nudges in Chromium: hiding the tab with a cart swaps the title and every favicon link; showing
it restores them byte for byte; several open tabs nudge once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import FAST, Server

HIDE = """() => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = HIDE.replace("'hidden'", "'visible'").replace("=> true", "=> false")
HEAD_LINKS = "Array.from(document.head.querySelectorAll('link')).map(l => l.outerHTML).join('\\n')"
EXTRA_ICONS = """() => {
    const add = (html) => document.head.insertAdjacentHTML('beforeend', html);
    add('<link rel="shortcut icon" href="/favicon.ico">');
    add('<link rel="icon" sizes="16x16" href="/static/demo/favicon.svg?s=16" type="image/svg+xml">');
    add('<link rel="apple-touch-icon" href="/static/demo/favicon.svg?touch">');
    add('<link rel="icon" sizes="192x192" href="/static/demo/favicon.svg?s=192">');
}"""


@pytest.fixture(scope="module")
def nshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("nudge"), FAST,
                 site={"nudge_title": "({count}) Your cart is waiting", "nudge_alt_title": "{total} {currency} left"})
    srv.start()
    yield srv
    srv.stop()


def ready(page: Any) -> None:
    page.wait_for_function("window.linger && window.linger.loaded && window.linger.state.connected")


def test_hidden_tab_swaps_title_and_every_favicon_and_restores_them(page: Any, nshop: Server) -> None:
    page.goto(f"{nshop.url}/demo/p/42")
    ready(page)
    page.evaluate(EXTRA_ICONS)
    page.click("#add")
    page.wait_for_function("linger.state.events.length > 0")
    title, links = page.title(), page.evaluate(HEAD_LINKS)
    page.wait_for_timeout(300)  # the cart has reached the server
    page.evaluate(HIDE)
    page.wait_for_function("document.title.startsWith('(1) Your cart is waiting')")
    icons = page.evaluate("Array.from(document.querySelectorAll('link[rel~=icon i]')).map(l => [l.rel, l.href])")
    assert len(icons) == 1 and icons[0][0] == "icon" and icons[0][1].startswith("data:image/png;base64,")
    assert page.locator("link[rel=apple-touch-icon]").count() == 1  # not a tab icon: left alone
    page.wait_for_function("document.title === '89.00 EUR left'", timeout=3000)  # alternates every second
    page.evaluate(SHOW)
    assert page.title() == title
    assert page.evaluate(HEAD_LINKS) == links  # the same elements, in the same places, byte for byte
    assert page.console_errors == []


def test_no_nudge_without_a_cart(page: Any, nshop: Server) -> None:
    page.goto(f"{nshop.url}/demo")
    ready(page)
    page.evaluate("localStorage.setItem('demo.cart', '[]')")
    title = page.title()
    page.evaluate(HIDE)
    page.wait_for_timeout(500)
    assert page.title() == title and page.locator("link[data-linger]").count() == 0


def test_several_open_tabs_nudge_once(browser: Any, nshop: Server) -> None:
    ctx = browser.new_context()
    try:
        a = ctx.new_page()
        a.goto(f"{nshop.url}/demo/p/43")
        ready(a)
        a.click("#add")
        b = ctx.new_page()  # the same visit in a second tab (ids are shared through localStorage)
        b.goto(f"{nshop.url}/demo/cart")
        ready(b)
        assert a.evaluate("linger.state.sid") == b.evaluate("linger.state.sid")
        a.wait_for_timeout(300)
        a.evaluate(HIDE)  # tab b is still visible: no nudge anywhere
        a.wait_for_timeout(400)
        assert a.locator("link[data-linger]").count() == 0
        b.evaluate(HIDE)  # now no tab is visible: the tab left last is nudged, only it
        b.wait_for_function("document.title.startsWith('(1) Your cart is waiting')")
        a.wait_for_timeout(300)
        assert a.locator("link[data-linger]").count() == 0 and not a.title().startswith("(1)")
    finally:
        ctx.close()
