"""What is kept of the widget's URLs, and which links may travel on (core/urls.py, core/admit.py)."""

from __future__ import annotations

import pytest

from server.core import protocol as p
from server.core.admit import SitePolicy, admit, push_endpoint_allowed
from server.core.urls import clean_item_url, clean_page_url, is_url

PAGE_URLS = [
    # (raw, keep, cleaned)
    ("https://shop.example/account/reset?token=abc&utm_source=news#x", (),
     "https://shop.example/account/reset?utm_source=news"),
    ("https://shop.example/checkout/order-received/12?key=wc_order_abc", (),
     "https://shop.example/checkout/order-received/12"),
    ("https://shop.example/cb#access_token=secret&state=1", (), "https://shop.example/cb"),
    ("https://shop.example/p/1?variant=7&sessionid=x", ("variant",), "https://shop.example/p/1?variant=7"),
    ("https://Shop.Example:8443", (), "https://shop.example:8443/"),
    ("/relative/path?q=search#top", (), "/relative/path"),
    ("https://shop.example/a?utm_campaign=spring%20sale&utm_x=", (),
     "https://shop.example/a?utm_campaign=spring+sale&utm_x="),
    ("//evil.example/x", (), ""),
    ("/\\evil.example", (), ""),
    ("https://user:pw@shop.example/", (), ""),
    ("javascript:alert(1)", (), ""),
]


@pytest.mark.parametrize(("raw", "keep", "cleaned"), PAGE_URLS, ids=[r[0][:40] for r in PAGE_URLS])
def test_page_urls_keep_only_what_is_safe(raw: str, keep: tuple[str, ...], cleaned: str) -> None:
    assert clean_page_url(raw, keep) == cleaned


ORIGINS = ("https://shop.example", "http://127.0.0.1:8000")
ITEM_URLS = [
    ("https://shop.example/p/1#reviews", (), "https://shop.example/p/1"),
    ("https://shop.example/p/1?variant=3", (), "https://shop.example/p/1?variant=3"),
    ("http://127.0.0.1:8000/demo/p/42", (), "http://127.0.0.1:8000/demo/p/42"),
    ("/p/1", (), "/p/1"),
    ("https://evil.example/login", (), ""),
    ("https://shop.example.evil.example/", (), ""),
    ("http://shop.example/p/1", (), ""),  # another scheme is another origin
    ("https://cdn.example/i.png", ("cdn.example",), "https://cdn.example/i.png"),
    ("https://img.cdn.example/i.png", ("*.cdn.example",), "https://img.cdn.example/i.png"),
    ("https://cdn.example/i.png", ("*.cdn.example",), ""),
    ("//cdn.example/i.png", ("cdn.example",), ""),
    ("", (), ""),
]


@pytest.mark.parametrize(("raw", "hosts", "cleaned"), ITEM_URLS, ids=[r[0][:40] or "empty" for r in ITEM_URLS])
def test_item_links_are_on_the_sites_origins(raw: str, hosts: tuple[str, ...], cleaned: str) -> None:
    assert clean_item_url(raw, ORIGINS, hosts) == cleaned


@pytest.mark.parametrize(("url", "ok"), [
    ("https://shop.example/x", True), ("/x", True), ("/", True), ("//x", False), ("/\\x", False),
    ("https://a b/", False), ("https://x/\\y", False), ("https://x\\@y/", False), ("ftp://x/", False),
    ("https://x/\x00", False), ("data:text/html,hi", False), ("https:///x", False),
])
def test_what_counts_as_a_url(url: str, ok: bool) -> None:
    assert is_url(url) is ok


HOSTS = ("fcm.googleapis.com", "*.notify.windows.com", "127.0.0.1:9999", "web.push.apple.com")


@pytest.mark.parametrize(("endpoint", "ok"), [
    ("https://fcm.googleapis.com/fcm/send/abc", True),
    ("http://fcm.googleapis.com/fcm/send/abc", False),
    ("https://fcm.googleapis.com:8443/x", False),
    ("https://fcm.googleapis.com.evil.example/x", False),
    ("https://wns2-by3p.notify.windows.com/w/?token=1", True),
    ("https://notify.windows.com/w", False),
    ("http://127.0.0.1:9999/push/1", True),
    ("https://127.0.0.1:9999/push/1", True),
    ("http://127.0.0.1:9998/push/1", False),
    ("http://127.0.0.1/push/1", False),
    ("https://evil.example/push", False),
    ("/relative", False),
])
def test_push_endpoints_are_on_allowed_push_services(endpoint: str, ok: bool) -> None:
    assert push_endpoint_allowed(endpoint, HOSTS) is ok


POLICY = SitePolicy(origins=ORIGINS, currency="PLN", image_hosts=("cdn.example",), keep_params=("variant",),
                    push_hosts=HOSTS)


def test_admit_trims_pages_drops_foreign_links_and_fills_the_currency() -> None:
    h = admit(p.Hello(vid=None, sid=None, page=p.Page(url="https://shop.example/r?token=1&variant=2#f",
                                                      ref="https://google.example/search?q=secret")), POLICY)
    assert isinstance(h, p.Hello)
    assert h.page.url == "https://shop.example/r?variant=2" and h.page.ref == "https://google.example/search"
    cart = admit(p.Cart(items=(p.Item("1", "x", 1.0, 1, url="https://evil.example/", image="https://cdn.example/a"),),
                        total=1.0, currency=""), POLICY)
    assert isinstance(cart, p.Cart) and cart.currency == "PLN"
    assert (cart.items[0].url, cart.items[0].image) == ("", "https://cdn.example/a")
    buy = admit(p.Purchase("o1", "A1", 5.0, ""), POLICY)
    assert isinstance(buy, p.Purchase) and buy.currency == "PLN"
    assert admit(p.Purchase("o1", "A1", 5.0, "USD"), POLICY) == p.Purchase("o1", "A1", 5.0, "USD")


def test_admit_refuses_push_endpoints_off_the_list() -> None:
    sub = {"endpoint": "https://evil.example/p", "expirationTime": None, "keys": {"p256dh": "k", "auth": "a"}}
    with pytest.raises(p.BadMessage) as err:
        admit(p.Push("s1", sub), POLICY)
    assert err.value.ref == "s1" and "push.allowed_hosts" in err.value.reason
    assert admit(p.Push("s2", denied=True), POLICY) == p.Push("s2", denied=True)


def test_hosts_may_have_underscores_and_campaign_links_follow_the_same_rule() -> None:
    from server.core.campaigns import CampaignError, parse_campaign

    assert is_url("https://my_shop.internal/p/1")
    base = {"id": "c", "name": "c", "kind": "hint", "trigger": {"delay_s": 1}}
    for bad in ("//evil.example/x.png", "/\\evil.example/x.png", "/a b.png"):
        with pytest.raises(CampaignError) as err:
            parse_campaign({**base, "variants": [{"content": {"headline": "h", "image": bad}}]})
        assert err.value.field == "variants[0].content.image"
    parse_campaign({**base, "variants": [{"content": {"headline": "h", "image": "/img/a.png",
                                                      "cta": {"label": "Go", "url": "https://shop.example/sale"}}}]})


def test_page_urls_on_other_hosts_keep_only_their_path() -> None:
    h = admit(p.Hello(vid=None, sid=None, page=p.Page(url="https://evil.example/checkout",
                                                      ref="https://evil.example/")), POLICY)
    assert isinstance(h, p.Hello) and h.page.url == "/checkout" and h.page.ref == "https://evil.example/"
    page = admit(p.PageMsg(p.Page(url="/relative/page")), POLICY)
    assert isinstance(page, p.PageMsg) and page.page.url == "/relative/page"


def test_a_foreign_page_url_cannot_become_a_protocol_relative_link() -> None:
    page = admit(p.PageMsg(p.Page(url="https://attacker.example//evil.example/login")), POLICY)
    assert isinstance(page, p.PageMsg) and page.page.url == "/evil.example/login" and is_url(page.page.url)
