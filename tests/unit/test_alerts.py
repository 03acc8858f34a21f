"""Alerts and webhook events, table-style; signatures; retry backoff."""

from __future__ import annotations

from typing import Any

import pytest

from server.core import protocol as p
from server.core.alerts import make_delivery, next_attempt, outbound, sign, verify
from server.core.session import Connect, Disconnect, Timer, feed, new_session
from tests.unit.builders import T


def sess(kind: str = "checkout", total: float = 300.0, converted: bool = False) -> Any:
    s = new_session("sid", "vid", "demo", 1, 0.0)
    feed(s, "a", Connect(p.Hello(vid=None, sid=None, page=p.Page(url="https://s/x", kind=kind))), 0, T)
    if total:
        feed(s, "a", p.Cart(items=(p.Item(id="1", name="x", price=total, qty=1),), total=total, currency="EUR"), 1, T)
    if converted:
        feed(s, "a", p.Purchase("o", "A", total, "EUR"), 2, T)
    return s


TABLE = [
    ("idle at checkout, big cart", "idle", sess(), ["alert.raised"]),
    ("idle at checkout, small cart", "idle", sess(total=100), []),
    ("idle on the cart page", "idle", sess(kind="cart"), []),
    ("left with a big cart", "left", sess(kind="product"), ["cart.abandoned", "alert.raised"]),
    ("left with a small cart", "left", sess(kind="product", total=20), ["cart.abandoned"]),
    ("left with no cart", "left", sess(total=0), []),
    ("left after buying", "left", sess(converted=True), []),
    ("purchase", "purchase", sess(), ["purchase"]),
    ("lead", "lead.captured", sess(), ["lead.captured"]),
    ("exit intent is not an event", "exit", sess(), []),
]


@pytest.mark.parametrize(("name", "event", "s", "names"), TABLE, ids=[t[0] for t in TABLE])
def test_outbound(name: str, event: str, s: Any, names: list[str]) -> None:
    out = outbound(event, {"order": "A", "total": 1, "currency": "EUR", "email": "a@b.co", "source": "field"},
                   s, 250.0, 10.0)
    assert [n for n, _ in out] == names
    for _, payload in out:
        assert payload["sid"] == "sid" and payload["site"] == "demo" and payload["at"] == 10.0


def test_left_event_comes_from_the_leave_timer() -> None:
    s = sess(kind="product")
    feed(s, "a", Disconnect(), 3, T)
    acts = feed(s, "", Timer("leave"), 40, T)
    assert [a.event for a in acts] == ["left"]


def test_signature_round_trip_and_tampering() -> None:
    body = make_delivery("d1", "demo", "https://x/h", "purchase", {"total": 5}, 1.0)["body"].encode()
    header = sign("s" * 16, 1000, body)
    assert header.startswith("t=1000,v1=") and len(header) == len("t=1000,v1=") + 64
    assert verify("s" * 16, header, body, now=1100)
    assert not verify("s" * 16, header, body + b" ", now=1100)  # body changed
    assert not verify("t" * 16, header, body, now=1100)  # wrong secret
    assert not verify("s" * 16, header, body, now=2000)  # too old: replay
    assert not verify("s" * 16, "garbage", body, now=1000)


def test_backoff_doubles_and_caps() -> None:
    assert [next_attempt(n, 2, 60) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
