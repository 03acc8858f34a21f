"""The widget's outbox and reconnects in a real Chromium against the real server: messages without a
currency, messages the server refuses for good, two tabs writing at once, and the backoff when the
server hangs up right after `ready`."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.browser.helpers import OUTBOX, decoded, ready, sent_frames
from tests.support import Server

WS = re.compile(r"/ws\?site=")


def test_purchase_and_cart_without_currency_are_accepted(page: Any, shop: Server) -> None:
    frames = sent_frames(page)
    page.goto(f"{shop.url}/demo")
    ids = ready(page)
    page.evaluate("linger('cart', {items: [{id: '42', name: 'Red runner', price: 89, qty: 1}], total: 89})")
    page.evaluate("linger('purchase', {order: 'NOCUR-1', total: 89})")
    page.wait_for_function(f"{OUTBOX} === 0")  # acked
    s = shop.wait_session(ids["sid"], lambda s: s["purchases"] == 1 and s["cart"]["count"] == 1)
    assert s["revenue"] == 89 and s["cart"]["currency"] == "EUR"  # the site's currency, filled in by the server
    (purchase,) = decoded(frames, "purchase")
    assert "currency" not in purchase  # left out, not ""
    assert "currency" not in decoded(frames, "cart")[-1]
    assert "error" not in page.evaluate("linger.state.events")
    assert page.console_errors == []


def test_messages_refused_for_good_leave_the_outbox_and_do_not_loop(page: Any, shop: Server) -> None:
    # What an older widget may have left behind: 20 messages the server refuses as bad_message
    # (enough for it to hang up with 1008 right after ready), then one good purchase.
    bad = [{"t": "purchase", "id": f"bad-{i}", "order": "X", "total": 1, "currency": "eur"} for i in range(10)]
    bad += [{"t": "popup", "id": f"forged-{i}", "cid": "nope", "var": "a", "ev": "clicked"} for i in range(10)]
    good = {"t": "purchase", "id": "good-1", "order": "G-1", "total": 5}
    page.goto(f"{shop.url}/healthz")  # same origin, no widget: seed the outbox before it loads
    page.evaluate("box => localStorage.setItem('linger.outbox', JSON.stringify(box))", bad + [good])
    page.goto(f"{shop.url}/demo")
    page.wait_for_function(f"linger.state.connected && {OUTBOX} === 0", timeout=10000)
    ids = ready(page)
    s = shop.wait_session(ids["sid"], lambda s: s["purchases"] == 1)
    assert s["revenue"] == 5
    events = page.evaluate("linger.state.events")
    assert events.count("error") == 20 and events.count("_closed") == 1  # hung up once, after the 20th refusal
    # and the second socket stays: what the page reports arrives on it, nothing reconnected meanwhile
    page.evaluate("linger('cart', {items: [{id: '61', name: 'Wool beanie', price: 24, qty: 2}], total: 48})")
    s = shop.wait_session(ids["sid"], lambda s: s["cart"]["count"] == 2)
    assert s["connected"] == 1 and s["purchases"] == 1
    events = page.evaluate("linger.state.events")
    assert events.count("_closed") == 1 and events.count("ready") == 2


BURST = """([tag, at]) => {
  window.__done = false;
  setTimeout(async () => {
    for (let i = 0; i < 20; i++) {
      linger('purchase', {order: tag + i, total: 1});
      await new Promise((r) => setTimeout(r, 0));
    }
    window.__done = true;
  }, Math.max(0, at - Date.now()));
}"""


def test_two_tabs_writing_the_outbox_at_once_lose_no_purchase(browser: Any, shop: Server) -> None:
    ctx = browser.new_context()
    offline = [False]

    def route(ws: Any) -> None:
        if not offline[0]:
            ws.connect_to_server()
        # else the page gets a socket that opens and never answers: no ready, purchases stay in the outbox

    ctx.route_web_socket(WS, route)
    try:
        a = ctx.new_page()
        a.goto(f"{shop.url}/demo")
        ready(a)
        offline[0] = True
        a.reload()
        b = ctx.new_page()
        b.goto(f"{shop.url}/demo/c/shoes")
        for p in (a, b):
            p.wait_for_function("window.linger && window.linger.loaded")
            assert not p.evaluate("linger.state.connected")
        at = int(time.time() * 1000) + 300  # both tabs start together, each in its own renderer
        a.evaluate(BURST, ["A-", at])
        b.evaluate(BURST, ["B-", at])
        for p in (a, b):
            p.wait_for_function("window.__done")
        for p in (a, b):  # every purchase is there, whichever tab looks
            p.wait_for_function(f"{OUTBOX} === 40", timeout=5000)
        b.close()
        offline[0] = False
        a.reload()
        ids = ready(a)
        a.wait_for_function(f"{OUTBOX} === 0")
        s = shop.wait_session(ids["sid"], lambda s: s["purchases"] == 40)
        assert s["revenue"] == 40
    finally:
        ctx.close()


def test_a_socket_closed_right_after_ready_keeps_backing_off(browser: Any, shop: Server) -> None:
    ctx = browser.new_context()
    opened: list[float] = []

    def route(ws: Any) -> None:  # the real server, but the socket is cut as soon as ready went through
        opened.append(time.monotonic())
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            ws.send(message)
            if isinstance(message, str) and json.loads(message).get("t") == "ready":
                ws.close()
                server.close()

        server.on_message(to_page)

    ctx.route_web_socket(WS, route)
    try:
        page = ctx.new_page()
        page.goto(f"{shop.url}/demo")
        # five sockets, each cut right after its ready: 0.25-0.5 + 0.5-1 + 1-2 + 2-4 s of waiting between them
        page.wait_for_function("linger.state.events.filter(e => e === 'ready').length >= 5", timeout=20000)
        assert page.evaluate("linger.state.attempt") >= 4
        gaps = [b - a for a, b in zip(opened, opened[1:], strict=False)]
        # 0.5 s doubling, jittered down to half: at least 0.25, 0.5, 1, 2 s (reset on ready: all under 0.5 s)
        assert gaps[2] >= 0.95 and gaps[3] >= 1.95, gaps
        assert page.evaluate("linger.state.events").count("_closed") >= 4
    finally:
        ctx.close()
