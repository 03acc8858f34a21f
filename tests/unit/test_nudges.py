"""Tab nudges: title templates, which tab, when not."""


from __future__ import annotations

import pytest

from server.core import protocol as p
from server.core.campaigns import Target
from server.core.rules import Nudge, nudge_for, render_title
from server.core.session import Session, feed, new_session
from tests.unit.builders import T, as_dict, hello, session

# ---------------------------------------------------------------- tab nudges



def carted(total: float = 89.0, qty: int = 2) -> Session:
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    feed(s, "a", hello(), 0, T)
    feed(s, "b", hello(), 0, T)
    feed(s, "a", p.Cart(items=(p.Item(id="1", name="x", price=total / qty, qty=qty),), total=total,
                        currency="EUR"), 1, T)
    return s


@pytest.mark.parametrize(("template", "title"), [
    ("({count}) Your cart is waiting", "(2) Your cart is waiting"),
    ("{total} {currency} left", "89.00 EUR left"),
    ("{unknown} stays", "{unknown} stays"),
    ("x" * 200, "x" * 120),
])
def test_title_templates(template: str, title: str) -> None:
    assert render_title(template, carted()) == title


def test_nudge_goes_to_the_tab_that_left_none_visible() -> None:
    n = Nudge(alt_title="{total} left", sound=True)
    s = carted()
    feed(s, "a", p.Vis(True), 2, T)
    assert nudge_for(n, s, p.Vis(True), "a") is None  # tab b still visible
    feed(s, "b", p.Vis(True), 3, T)
    send = nudge_for(n, s, p.Vis(True), "b")
    assert send is not None and send.to == "b"
    assert as_dict(send.msg) == {"t": "nudge", "title": "(2) Your cart is waiting", "alt": "89.00 left",
                        "favicon": {"badge": "2"}, "sound": True}


@pytest.mark.parametrize(("nudge", "total", "qty", "why"), [
    (None, 89.0, 2, "no nudge configured"),
    (Nudge(min_total=100), 89.0, 2, "below the minimum"),
    (Nudge(target=Target(device="mobile")), 89.0, 2, "not targeted"),
    (Nudge(), 0.0, 0, "empty cart"),
])
def test_no_nudge(nudge: Nudge | None, total: float, qty: int, why: str) -> None:
    s = carted(total, qty) if qty else session()
    for conn in list(s.sockets):
        feed(s, conn, p.Vis(True), 2, T)
    assert nudge_for(nudge, s, p.Vis(True), list(s.sockets)[-1]) is None, why


def test_badge_caps_at_99_plus() -> None:
    s = carted(500.0, 150)
    for conn in ("a", "b"):
        feed(s, conn, p.Vis(True), 2, T)
    send = nudge_for(Nudge(), s, p.Vis(True), "b")
    assert send is not None and as_dict(send.msg)["favicon"] == {"badge": "99+"}
