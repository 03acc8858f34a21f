"""Frame parsing: every message type, and precise errors for bad ones."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from server.core import protocol as p

PAGE = {"url": "https://shop.example/p/42", "title": "Red shoe", "ref": "https://google.com/", "kind": "product"}


def frame(**kw: Any) -> str:
    return orjson.dumps(kw).decode()


GOOD = [
    (frame(t="hello", v=1, vid=None, sid=None, page=PAGE, screen={"w": 1280, "h": 800, "touch": False},
           lang="en", tz="Europe/Warsaw", gpc=False, push="default"), p.Hello),
    (frame(t="page", page={"url": "/relative/ok"}), p.PageMsg),
    (frame(t="cart", items=[{"id": "1", "name": "A", "price": 1.5, "qty": 2, "url": "", "image": ""}],
           total=3, currency="EUR"), p.Cart),
    (frame(t="act"), p.Act),
    (frame(t="act", depth=55), p.Act),
    (frame(t="vis", state="hidden"), p.Vis),
    (frame(t="exit", how="scroll"), p.Exit),
    (frame(t="email", id="e1", email="a@b.co", source="field", field="email", consent=True), p.Email),
    (frame(t="push", id="s1", sub={"endpoint": "https://push.example/x", "expirationTime": None,
                                   "keys": {"p256dh": "k", "auth": "a"}}), p.Push),
    (frame(t="push", id="s2", state="denied"), p.Push),
    (frame(t="popup", id="u1", cid="c1", var="a", ev="shown"), p.PopupEv),
    (frame(t="purchase", id="o1", order="A1", total=10, currency="USD"), p.Purchase),
]


@pytest.mark.parametrize(("raw", "cls"), GOOD, ids=[c.__name__ for _, c in GOOD])
def test_good_frames(raw: str, cls: type) -> None:
    assert isinstance(p.parse(raw), cls)


URL_ERR = "field 'url' must be an http(s) URL or a path starting with one '/' (no spaces or backslashes)"
BAD = [
    ("{", "frame is not valid JSON", None),
    ("[]", "frame must be a JSON object", None),
    (frame(x=1), "missing field 't'", None),
    (frame(t="fly"), "unknown message type", None),
    (frame(t="hello", v=2, page=PAGE), "unsupported protocol version: field 'v' must be 1", None),
    (frame(t="hello", v=1), "field 'page' must be an object", None),
    (frame(t="hello", v=1, page={"url": "ftp://x"}), URL_ERR, None),
    (frame(t="page", page={"url": "//evil.example/x"}), URL_ERR, None),
    (frame(t="page", page={"url": "/\\evil.example/x"}), URL_ERR, None),
    (frame(t="page", page={"url": "https://shop.example\\@evil.example/"}), URL_ERR, None),
    (frame(t="page", page={"url": "https://user:pw@shop.example/"}), URL_ERR, None),
    (frame(t="page", page={"url": "https://shop.example/a b"}), URL_ERR, None),
    (frame(t="page", page={"url": "https://shop.example/", "ref": "javascript:alert(1)"}),
     "field 'ref' must be an http(s) URL or a path starting with one '/' (no spaces or backslashes)", None),
    (frame(t="cart", items=[{"id": "1", "price": 1, "qty": 1, "url": "//evil.example"}], total=1),
     "items[0]: field 'url' must be an http(s) URL or a path starting with one '/' (no spaces or backslashes)", None),
    (frame(t="push", id="s2", sub={"endpoint": "https://fcm.googleapis.com/x", "expirationTime": {"a": [[[]]]},
                                   "keys": {"p256dh": "k", "auth": "a"}}), "field 'expirationTime' must be a number",
     "s2"),
    (frame(t="push", id="s3", sub={"endpoint": "/relative", "keys": {"p256dh": "k", "auth": "a"}}),
     "field 'endpoint' must be an absolute URL", "s3"),
    (frame(t="push", id="s4", sub={"endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "k!", "auth": "a"}}),
     "fields 'keys.p256dh' and 'keys.auth' must be base64url", "s4"),
    (frame(t="hello", v=1, page={**PAGE, "kind": "blog"}), "field 'kind' must be one of home, category, "
     "product, cart, checkout, thanks, other", None),
    (frame(t="hello", v=1, page=PAGE, screen=[1]), "field 'screen' must be an object", None),
    (frame(t="hello", v=1, page=PAGE, gpc="yes"), "field 'gpc' must be true or false", None),
    (frame(t="page", page={"url": "https://x/" + "a" * 3000}), "field 'url' is longer than 2048 characters", None),
    (frame(t="cart", items={}, total=1, currency="EUR"), "field 'items' must be a list", None),
    (frame(t="cart", items=[1], total=1, currency="EUR"), "items[0] must be an object", None),
    (frame(t="cart", items=[{"id": "1", "price": 1, "qty": 0}], total=1, currency="EUR"),
     "items[0]: field 'qty' must be between 1 and 10000", None),
    (frame(t="cart", items=[{"id": "1", "price": True, "qty": 1}], total=1, currency="EUR"),
     "items[0]: field 'price' must be a number", None),
    (frame(t="cart", items=[{"id": "1", "price": 1, "qty": 1}] * 101, total=1, currency="EUR"),
     "a cart holds at most 100 items", None),
    (frame(t="cart", items=[], total=1e12, currency="EUR"), "field 'total' must be between 0 and 1e+09", None),
    (frame(t="cart", items=[], total=1, currency="eur"),
     "field 'currency' must be a 3-letter ISO 4217 code like EUR", None),
    (frame(t="vis"), "missing field 'state'", None),
    (frame(t="act", depth=101), "field 'depth' must be between 0 and 100", None),
    (frame(t="exit", how=3), "field 'how' must be a string", None),
    (frame(t="purchase", order="A", total=1, currency="EUR"),
     "field 'id' must be 1-64 characters of A-Z a-z 0-9 _ -", None),
    (frame(t="purchase", id="ok1", total=1, currency="EUR"), "missing field 'order'", "ok1"),
    (frame(t="email", id="e1", email="a@b", source="shout"), "field 'source' must be one of field, popup", "e1"),
    (frame(t="push", id="s1", sub={"endpoint": "https://x", "keys": {"p256dh": "k"}}),
     "missing field 'auth'", "s1"),
    (frame(t="popup", id="u1", cid="c", var="a", ev="exploded"),
     "field 'ev' must be one of shown, closed, clicked, submitted", "u1"),
]


@pytest.mark.parametrize(("raw", "reason", "ref"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_frames(raw: str, reason: str, ref: str | None) -> None:
    with pytest.raises(p.BadMessage) as err:
        p.parse(raw)
    assert err.value.reason == reason
    assert err.value.ref == ref


def test_hello_ids_of_the_wrong_shape_are_dropped() -> None:
    h = p.parse(frame(t="hello", v=1, vid="bad id!", sid="x" * 65, page=PAGE))
    assert isinstance(h, p.Hello) and h.vid is None and h.sid is None
    h = p.parse(frame(t="hello", v=1, vid="good_id-1", sid=7, page=PAGE))
    assert isinstance(h, p.Hello) and h.vid == "good_id-1" and h.sid is None


def test_nan_and_infinity_are_rejected() -> None:
    for raw in ('{"t":"purchase","id":"a","order":"o","total":NaN,"currency":"EUR"}',
                '{"t":"purchase","id":"a","order":"o","total":1e999,"currency":"EUR"}'):
        with pytest.raises(p.BadMessage):
            p.parse(raw)


def test_numeric_item_ids_are_taken_as_strings() -> None:
    cart = p.parse(frame(t="cart", items=[{"id": 42, "name": "x", "price": 1, "qty": 1}], total=1))
    assert isinstance(cart, p.Cart) and cart.items[0].id == "42" and cart.currency == ""


def test_the_id_of_a_frame_that_is_not_parsed() -> None:
    assert p.frame_id('{"t":"purchase","id":"abc-1"}') == "abc-1"
    assert p.frame_id('{"t":"purchase","id":"has space"}') is None
    assert p.frame_id("[1]") is None and p.frame_id("nope") is None


@pytest.mark.parametrize("bad", ["abc\n", "abc\r\n", "\nabc"])
def test_ids_cannot_end_in_a_newline(bad: str) -> None:
    from server.core.campaigns import ID_RE as CAMPAIGN_ID
    from server.core.leads import normalize_email

    with pytest.raises(p.BadMessage):
        p.parse(orjson.dumps({"t": "purchase", "id": bad, "order": "A", "total": 1}))
    assert not CAMPAIGN_ID.match(bad)
    assert normalize_email(f"a{bad}@example.com") is None
