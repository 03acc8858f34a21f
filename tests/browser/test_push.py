"""Web push in Chromium: the soft prompt leads to the browser's permission request (stubbed, since no
real push service is reachable here), a `push` frame with the subscription, and, once the shopper
leaves, a push at the stand-in; the real worker (the demo shop's one-line /linger-sw.js importing
/sw.js) shows a push delivered over the DevTools protocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import OUTBOX, decoded, ready, sent_frames
from tests.pushstand import PushStandIn, b64d
from tests.support import FAST, Server, call, wait_for

PROMPT = {"id": "ask", "name": "Ask", "kind": "push_prompt", "status": "live", "trigger": {"delay_s": 0},
          "target": {"cart_total_min": 1}, "frequency": {"per": "days", "days": 14},
          "variants": [{"id": "a", "layout": "slide", "content": {"headline": "Reminders?", "button": "Turn on",
                                                                   "later": "Not now"}}]}

# Stands in for the browser's permission prompt and push service, which headless Chromium here lacks.
STUB = """
(() => {
  let perm = window.__perm || "default";
  Object.defineProperty(Notification, "permission", {configurable: true, get: () => perm});
  Notification.requestPermission = () => { window.__asked = (window.__asked || 0) + 1; perm = "granted";
                                           return Promise.resolve("granted"); };
  const SUB = %s;
  let current = window.__old ? {endpoint: "https://old.example/x", options: {applicationServerKey: new Uint8Array(65)},
                                toJSON() { return {endpoint: "https://old.example/x", keys: SUB.keys}; },
                                unsubscribe() { window.__dropped = 1; current = null; return Promise.resolve(true); }}
                             : null;
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
  PushManager.prototype.subscribe = function (opts) {
    window.__key = Array.from(new Uint8Array(opts.applicationServerKey));
    current = {endpoint: SUB.endpoint, expirationTime: null, options: {applicationServerKey: opts.applicationServerKey},
               toJSON() { return {endpoint: SUB.endpoint, expirationTime: null, keys: SUB.keys}; },
               unsubscribe() { current = null; return Promise.resolve(true); }};
    return Promise.resolve(current);
  };
})();
"""


def pump_until(page: Any, pred: Any, timeout_ms: int = 10_000) -> Any:
    """Wait for a condition fed by Playwright events (they are only delivered while Playwright runs)."""
    for _ in range(timeout_ms // 50):
        value = pred()
        if value:
            return value
        page.wait_for_timeout(50)
    raise AssertionError(f"condition not met within {timeout_ms} ms")


def received_frames(page: Any) -> list[str]:
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
        payload if isinstance(payload, str) else payload.decode())))
    return frames


@pytest.fixture
def push_shop(tmp_path: Path, stand: PushStandIn) -> Iterator[Server]:
    srv = Server(tmp_path, FAST | {"push": {"allowed_hosts": [f"127.0.0.1:{stand.port}"],
                                            "vapid_sub": "mailto:ops@shop.example"}},
                 site={"popup_gap_s": 0, "followups": {"push_after_s": [0.2], "email_after_s": []}}).start()
    assert call(srv, "POST", "/api/v1/campaigns?site=demo", PROMPT).status_code == 201
    yield srv
    srv.stop()


def test_the_soft_prompt_asks_only_on_click_and_the_shopper_gets_a_push_after_leaving(
        browser: Any, push_shop: Server, stand: PushStandIn) -> None:
    ctx = browser.new_context()
    sub = stand.subscribe()
    ctx.add_init_script(STUB % json.dumps(sub))
    page = ctx.new_page()
    frames, got = sent_frames(page), received_frames(page)
    try:
        page.goto(f"{push_shop.url}/demo/p/1")
        ready(page)
        assert page.evaluate("window.__asked || 0") == 0  # never asked on load
        page.evaluate("linger('cart', {items: [{id: '1', name: 'Linen shirt', price: 49, qty: 1}], total: 49})")
        page.locator("linger-popup").get_by_role("button", name="Turn on").click()
        page.wait_for_function(f"localStorage.getItem('linger.push') && {OUTBOX} === 0")  # sent and acked
        assert page.evaluate("window.__asked") == 1
        (msg,) = decoded(frames, "push")
        assert msg["sub"]["endpoint"] == sub["endpoint"] and msg["sub"]["keys"] == sub["keys"]
        server_key = decoded(got, "ready")[0]["settings"]["vapid_key"]
        assert bytes(page.evaluate("window.__key")) == b64d(server_key)  # subscribed with the server's key
        page.close()  # the shopper leaves with a cart
        wait_for(lambda: stand.received, timeout=10)
        note = stand.received[0]["payload"]["notification"]
        assert "Linen shirt" in note["body"] and note["navigate"].startswith(f"{push_shop.url}/f/c/")
        assert stand.refused == []
    finally:
        ctx.close()


def test_the_real_worker_shows_a_push_delivered_over_devtools(browser: Any, push_shop: Server) -> None:
    ctx = browser.new_context(permissions=["notifications"])
    page = ctx.new_page()
    try:
        page.goto(f"{push_shop.url}/admin/login")  # a page of the origin without the widget (which would subscribe)
        cdp = ctx.new_cdp_session(page)
        versions: list[dict[str, Any]] = []
        worker_errors: list[Any] = []
        cdp.on("ServiceWorker.workerVersionUpdated", lambda e: versions.extend(e["versions"]))
        cdp.on("ServiceWorker.workerErrorReported", lambda e: worker_errors.append(e))
        cdp.send("ServiceWorker.enable")
        page.evaluate("""(async () => {  // registered, and active before anything is pushed to it
            const reg = await navigator.serviceWorker.register('/linger-sw.js', {scope: '/linger/'});
            const w = reg.installing || reg.waiting || reg.active;
            if (w.state !== 'activated') await new Promise(ok => w.addEventListener('statechange',
                () => w.state === 'activated' && ok()));
        })()""")
        rid = pump_until(page, lambda: next((v["registrationId"] for v in versions
                                             if v.get("status") == "activated"), None), timeout_ms=20_000)
        payload = {"web_push": 8030, "notification": {"title": "Your cart is waiting", "body": "Linen shirt",
                                                      "navigate": f"{push_shop.url}/demo/cart", "tag": "plan1"}}
        notes = """(async () => {
            const reg = await navigator.serviceWorker.getRegistration('/linger/');
            return (await reg.getNotifications()).map(n => [n.title, n.body, n.tag, n.data && n.data.navigate]);
        })()"""

        def deliver(data: str, shown: Any) -> Any:
            # DevTools sometimes drops a message sent while the worker is starting up (seen under load):
            # send it again; the worker shows one notification per message it gets (same tag: replaced)
            for _ in range(4):
                cdp.send("ServiceWorker.deliverPushMessage", {"origin": push_shop.url, "registrationId": rid,
                                                              "data": data})
                for _ in range(100):
                    value = shown(page.evaluate(notes))
                    if value:
                        return value
                    page.wait_for_timeout(50)
            raise AssertionError("the worker showed no notification for the push")

        got = deliver(json.dumps(payload), lambda ns: ns)
        assert got == [["Your cart is waiting", "Linen shirt", "plan1", f"{push_shop.url}/demo/cart"]]
        assert worker_errors == []
        # a payload that is not ours still shows a notification (never a silent push)
        got = deliver("hi", lambda ns: [n for n in ns if n[1] == "hi"])
        assert got[0][0] == "You have a message"
    finally:
        ctx.close()


def test_a_subscription_made_with_another_key_is_replaced_on_the_next_visit(browser: Any, push_shop: Server,
                                                                          stand: PushStandIn) -> None:
    ctx = browser.new_context()
    sub = stand.subscribe()
    ctx.add_init_script("window.__perm = 'granted'; window.__old = true;")  # granted earlier, under an old key
    ctx.add_init_script(STUB % json.dumps(sub))
    page = ctx.new_page()
    frames = sent_frames(page)
    try:
        page.goto(f"{push_shop.url}/demo")
        page.wait_for_function(f"localStorage.getItem('linger.push') && {OUTBOX} === 0")
        assert page.evaluate("window.__dropped") == 1 and page.evaluate("window.__asked || 0") == 0
        (msg,) = decoded(frames, "push")
        assert msg["sub"]["endpoint"] == sub["endpoint"]  # the new subscription, on the server's key
    finally:
        ctx.close()
