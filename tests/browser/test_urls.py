"""What the widget reports about URLs, in a real Chromium: page URLs and referrers without secrets
(only scheme, host, path, utm_* and the site's keep_params leave the browser), and cart item links
that point elsewhere left out instead of getting the whole cart refused."""

from __future__ import annotations

from typing import Any

from tests.browser.helpers import decoded, ready, sent_frames
from tests.support import FAST, Server


def test_secrets_in_the_page_url_never_leave_the_browser(page: Any, shop: Server) -> None:
    frames = sent_frames(page)
    page.goto(f"{shop.url}/demo?token=secret&utm_source=x#frag")
    ids = ready(page)
    s = shop.wait_session(ids["sid"], lambda s: s["connected"] == 1)
    assert s["page"]["url"] == f"{shop.url}/demo?utm_source=x"
    assert decoded(frames, "hello")[0]["page"]["url"] == f"{shop.url}/demo?utm_source=x"
    page.evaluate("history.pushState({}, '', '/demo/c/shoes?session=secret2&utm_medium=y#frag2')")
    s = shop.wait_session(ids["sid"], lambda s: s["page"]["kind"] == "category")
    assert s["page"]["url"] == f"{shop.url}/demo/c/shoes?utm_medium=y"
    page.click("a[href='/demo/p/42']")  # this page's referrer is the full URL of the last one
    page.wait_for_url("**/demo/p/42")
    ready(page)
    assert page.evaluate("document.referrer").endswith("session=secret2&utm_medium=y")
    hello = decoded(frames, "hello")[-1]
    assert hello["page"]["ref"] == f"{shop.url}/demo/c/shoes?utm_medium=y"
    assert not [f for f in frames if "secret" in f or "frag" in f]


def test_the_sites_keep_params_are_kept_from_the_next_page_on(browser: Any, tmp_path: Any) -> None:
    srv = Server(tmp_path, FAST, site={"keep_query_params": ["variant"]}).start()
    ctx = browser.new_context()
    page = ctx.new_page()
    frames = sent_frames(page)
    try:
        page.goto(f"{srv.url}/demo/p/42?variant=red&sessionid=s1")
        ids = ready(page)
        # the first hello cannot know them yet; ready tells, and they are remembered
        assert decoded(frames, "hello")[0]["page"]["url"] == f"{srv.url}/demo/p/42"
        assert page.evaluate("JSON.parse(localStorage.getItem('linger.keep'))") == ["variant"]
        page.evaluate("history.replaceState({}, '', '/demo/p/42?variant=green&sessionid=s1')")
        srv.wait_session(ids["sid"], lambda s: s["page"]["url"] == f"{srv.url}/demo/p/42?variant=green")
        page.goto(f"{srv.url}/demo/p/43?sessionid=s2&variant=blue&utm_campaign=z")
        ready(page)
        assert decoded(frames, "hello")[-1]["page"]["url"] == f"{srv.url}/demo/p/43?variant=blue&utm_campaign=z"
        assert not [f for f in frames if "sessionid" in f]
    finally:
        ctx.close()
        srv.stop()


def test_cart_item_links_to_other_hosts_are_left_out_not_the_cart(page: Any, shop: Server) -> None:
    frames = sent_frames(page)
    page.goto(f"{shop.url}/demo")
    ids = ready(page)
    page.evaluate(r"""linger('cart', {total: 6, currency: 'EUR', items: [
        {id: '1', name: 'a', price: 1, qty: 1, url: '//evil.example/p', image: '/\\evil.example/i.png'},
        {id: '2', name: 'b', price: 2, qty: 1, url: '/demo/p/42', image: 'javascript:alert(1)'},
        {id: '3', name: 'c', price: 3, qty: 1, url: '/demo/p/4 3', image: '/demo/img/43.svg'},
        {id: '4', name: 'd', price: 0, qty: 1, url: 'https://user:pw@127.0.0.1/x', image: ' https://x.example/i.png'}]})""")
    s = shop.wait_session(ids["sid"], lambda s: s["cart"]["count"] == 4)
    assert [(i["id"], i["url"], i["image"]) for i in s["cart"]["items"]] == [
        ("1", "", ""), ("2", "/demo/p/42", ""), ("3", "", "/demo/img/43.svg"), ("4", "", "")]
    sent = decoded(frames, "cart")[-1]["items"]
    assert sent[0] == {"id": "1", "name": "a", "price": 1, "qty": 1}  # the fields are left out, not ""
    assert "evil" not in "".join(frames)
    assert "error" not in page.evaluate("linger.state.events")
