"""The session state machine, table-style: (setup events, event, now) -> state, temperature, actions."""

from __future__ import annotations

from typing import Any

import pytest

from server.core import protocol as p
from server.core.actions import Cancel, End, Publish, Record, Schedule
from server.core.session import Connect, Disconnect, InstanceGone, Session, Timer, feed, new_session
from tests.unit.builders import T


def page(kind: str, url: str | None = None) -> p.Page:
    return p.Page(url=url or f"https://s.example/{kind}", kind=kind)


def hello(kind: str = "home", url: str | None = None, touch: bool = False, w: int = 1280) -> Connect:
    return Connect(p.Hello(vid=None, sid=None, page=page(kind, url), screen_w=w, touch=touch))


def cart(*qtys: int) -> p.Cart:
    items = tuple(p.Item(id=str(n), name="x", price=10.0, qty=q) for n, q in enumerate(qtys))
    return p.Cart(items=items, total=10.0 * sum(qtys), currency="EUR")


def run(steps: list[tuple[str, Any, float]]) -> tuple[Session, list[Any]]:
    s = new_session("sid", "vid", "demo", 1, 0.0)
    acts: list[Any] = []
    for conn, ev, now in steps:
        acts = feed(s, conn, ev, now, T)
    return s, acts


STATE_TABLE = [
    # (name, steps, state, temperature)
    ("connected on home", [("a", hello(), 0)], "active", "cold"),
    ("viewed a product", [("a", hello("product"), 0)], "active", "warm"),
    ("has a cart", [("a", hello("product"), 0), ("a", cart(2), 1)], "active", "hot"),
    ("emptied cart after product", [("a", hello("product"), 0), ("a", cart(1), 1), ("a", cart(), 2)],
     "active", "warm"),
    ("tab hidden", [("a", hello(), 0), ("a", p.Vis(hidden=True), 1)], "hidden", "cold"),
    ("one of two tabs hidden", [("a", hello(), 0), ("b", hello(), 0), ("a", p.Vis(hidden=True), 1)],
     "active", "cold"),
    ("both tabs hidden", [("a", hello(), 0), ("b", hello(), 0), ("a", p.Vis(True), 1), ("b", p.Vis(True), 1)],
     "hidden", "cold"),
    ("hidden then visible", [("a", hello(), 0), ("a", p.Vis(True), 1), ("a", p.Vis(False), 2)], "active", "cold"),
    ("socket closed", [("a", hello(), 0), ("a", Disconnect(), 5)], "away", "cold"),
    ("one of two sockets closed", [("a", hello(), 0), ("b", hello(), 0), ("a", Disconnect(), 5)], "active", "cold"),
    ("left after grace", [("a", hello(), 0), ("a", Disconnect(), 5), ("", Timer("leave"), 35)], "left", "cold"),
    ("leave timer early is rescheduled", [("a", hello(), 0), ("a", Disconnect(), 5), ("", Timer("leave"), 20)],
     "away", "cold"),
    ("back before leave timer", [("a", hello(), 0), ("a", Disconnect(), 5), ("b", hello(), 6),
                                 ("", Timer("leave"), 35)], "active", "cold"),
    ("idle at checkout", [("a", hello("checkout"), 0), ("", Timer("idle"), 60)], "idle", "cold"),
    ("idle at cart", [("a", hello("cart"), 0), ("a", cart(1), 0), ("", Timer("idle"), 61)], "idle", "hot"),
    ("act resets idle", [("a", hello("checkout"), 0), ("", Timer("idle"), 60), ("a", p.Act(), 70)],
     "active", "cold"),
    ("late act defers idle", [("a", hello("checkout"), 0), ("a", p.Act(), 30), ("", Timer("idle"), 60)],
     "active", "cold"),
    ("no idle on product pages", [("a", hello("product"), 0), ("", Timer("idle"), 600)], "active", "warm"),
    ("idle timer after leaving checkout", [("a", hello("checkout"), 0), ("a", p.PageMsg(page("home")), 10),
                                           ("", Timer("idle"), 70)], "active", "cold"),
    ("purchase converts", [("a", hello("checkout"), 0), ("a", p.Purchase("i", "o", 50.0, "EUR"), 3)],
     "converted", "cold"),
    ("converted and hidden stays converted",
     [("a", hello(), 0), ("a", p.Purchase("i", "o", 5.0, "EUR"), 1), ("a", p.Vis(True), 2)], "converted", "cold"),
    ("converted then left", [("a", hello(), 0), ("a", p.Purchase("i", "o", 5.0, "EUR"), 1),
                             ("a", Disconnect(), 2), ("", Timer("leave"), 40)], "left", "cold"),
    ("instance holding the only socket died", [("i1.1", hello(), 0), ("", InstanceGone("i1"), 5)], "away", "cold"),
    ("instance holding one of two sockets died", [("i1.1", hello(), 0), ("i2.1", hello(), 0),
                                                 ("", InstanceGone("i1"), 5)], "active", "cold"),
    ("idle then hidden", [("a", hello("checkout"), 0), ("", Timer("idle"), 60), ("a", p.Vis(True), 61)],
     "hidden", "cold"),
]


@pytest.mark.parametrize(("name", "steps", "state", "temp"), STATE_TABLE, ids=[r[0] for r in STATE_TABLE])
def test_state_and_temperature(name: str, steps: list[Any], state: str, temp: str) -> None:
    s, _ = run(steps)
    assert (s.state, s.temperature) == (state, temp)


ACTION_TABLE = [
    ("connect on checkout arms idle", [("a", hello("checkout"), 0)], [Cancel("leave"), Cancel("end"),
                                                                      Schedule("idle", 60)]),
    ("connect on home arms nothing", [("a", hello(), 0)], [Cancel("leave"), Cancel("end")]),
    ("second socket changes no timers", [("a", hello("checkout"), 0), ("b", hello("checkout"), 1)], []),
    ("act on checkout with a timer armed writes nothing", [("a", hello("checkout"), 0), ("a", p.Act(), 5)], []),
    ("moving to cart re-arms after idle fired", [("a", hello("checkout"), 0), ("", Timer("idle"), 60),
                                                 ("a", p.PageMsg(page("cart")), 70)], [Schedule("idle", 130)]),
    ("page to checkout arms idle", [("a", hello(), 0), ("a", p.PageMsg(page("checkout")), 5)],
     [Schedule("idle", 65)]),
    ("last socket closing schedules leave and end", [("a", hello(), 0), ("a", Disconnect(), 5)],
     [Cancel("idle"), Schedule("leave", 35), Schedule("end", 1805)]),
    ("not the last socket", [("a", hello(), 0), ("b", hello(), 0), ("a", Disconnect(), 5)], []),
    ("dead instance's socket closed", [("i1.1", hello(), 0), ("", InstanceGone("i1"), 5)],
     [Cancel("idle"), Schedule("leave", 35), Schedule("end", 1805)]),
    ("dead instance held nothing", [("a", hello(), 0), ("", InstanceGone("zz"), 5)], []),
    ("early leave timer reschedules", [("a", hello(), 0), ("a", Disconnect(), 5), ("", Timer("leave"), 10)],
     [Schedule("leave", 35)]),
    ("leave publishes", [("a", hello(), 0), ("a", cart(2), 1), ("a", Disconnect(), 5), ("", Timer("leave"), 35)],
     [Publish("left", {"cart_total": 20.0, "cart_count": 2})]),
    ("leave twice publishes once", [("a", hello(), 0), ("a", Disconnect(), 5), ("", Timer("leave"), 35),
                                    ("", Timer("leave"), 36)], []),
    ("end after timeout", [("a", hello(), 0), ("a", Disconnect(), 5), ("", Timer("end"), 1805)], [End()]),
    ("early end reschedules", [("a", hello(), 0), ("a", Disconnect(), 5), ("", Timer("end"), 100)],
     [Schedule("end", 1805)]),
    ("end while connected does nothing", [("a", hello(), 0), ("", Timer("end"), 5000)], []),
    ("idle publishes", [("a", hello("checkout"), 0), ("", Timer("idle"), 60)],
     [Publish("idle", {"page_kind": "checkout", "cart_total": 0.0})]),
    ("early idle timer reschedules", [("a", hello("checkout"), 0), ("a", p.Act(), 30), ("", Timer("idle"), 60)],
     [Schedule("idle", 90)]),
    ("idle while already idle", [("a", hello("checkout"), 0), ("", Timer("idle"), 60), ("", Timer("idle"), 61)], []),
    ("idle with no socket", [("a", hello("checkout"), 0), ("a", Disconnect(), 1), ("", Timer("idle"), 61)], []),
    ("unknown timer", [("a", hello(), 0), ("a", Disconnect(), 1), ("", Timer("bogus"), 61)], []),
    ("returning after left publishes", [("a", hello(), 0), ("a", Disconnect(), 1), ("", Timer("leave"), 31),
                                        ("b", hello(), 40)],
     [Publish("returned"), Cancel("leave"), Cancel("end")]),
    ("exit publishes", [("a", hello(), 0), ("a", p.Exit("mouse"), 1)], [Publish("exit", {"how": "mouse"})]),
    ("hidden does not touch", [("a", hello("checkout"), 0), ("a", p.Vis(True), 1)], []),
    ("visible after idle re-arms", [("a", hello("checkout"), 0), ("", Timer("idle"), 60), ("a", p.Vis(True), 61),
                                    ("a", p.Vis(False), 62)], [Schedule("idle", 122)]),
    ("second hello on a socket is ignored", [("a", hello(), 0), ("a", hello().hello, 1)], []),
]


@pytest.mark.parametrize(("name", "steps", "expected"), ACTION_TABLE, ids=[r[0] for r in ACTION_TABLE])
def test_actions(name: str, steps: list[Any], expected: list[Any]) -> None:
    _, acts = run(steps)
    assert acts == expected


def test_purchase_records_and_counts() -> None:
    s, acts = run([("a", hello(), 0), ("a", p.Purchase("p1", "A1", 19.99, "EUR"), 2),
                   ("a", p.Purchase("p2", "A2", 0.01, "EUR"), 3)])
    assert s.purchases == 2 and s.revenue == 20.0 and s.converted
    assert isinstance(acts[0], Record) and acts[0].kind == "purchase" and acts[0].data["order"] == "A2"


def test_email_is_left_to_the_lead_rules() -> None:
    s, acts = run([("a", hello(), 0), ("a", p.Email("e1", "a@b.co", "field", "email", True), 1)])
    assert acts == [] and not s.has_email


@pytest.mark.parametrize("ev,kind", [
    (p.Push("x1", denied=True), "push"),
    (p.PopupEv("y1", "c1", "a", "shown"), "popupev"),
])
def test_id_messages_are_recorded(ev: Any, kind: str) -> None:
    _, acts = run([("a", hello(), 0), ("a", ev, 1)])
    assert len(acts) == 1 and isinstance(acts[0], Record) and acts[0].kind == kind
    assert acts[0].data["sid"] == "sid" and acts[0].data["id"] == ev.id


def test_page_count_landing_and_device() -> None:
    s, _ = run([("a", hello("home", "https://s.example/?utm_source=x", touch=True, w=390), 0),
                ("a", p.PageMsg(page("category")), 1), ("a", p.PageMsg(page("category")), 2),
                ("a", Disconnect(), 3), ("b", hello("product"), 4)])
    assert s.pages == 3 and s.landing == "https://s.example/?utm_source=x" and s.device == "desktop"
    s2, _ = run([("a", hello(touch=True, w=390), 0)])
    assert s2.device == "mobile"


def test_round_trip_through_dict() -> None:
    s, _ = run([("a", hello("product"), 0), ("a", cart(1, 2), 1), ("a", p.Vis(True), 2)])
    again = Session.from_dict({**s.to_dict(), "field_from_the_future": 1})
    assert again == s and again.view() == s.view()
    assert s.view()["cart"] == {"total": 30.0, "count": 3, "currency": "EUR", "items": s.cart_items}


def test_returning_visitor() -> None:
    assert not new_session("s", "v", "demo", 1, 0).returning
    assert new_session("s", "v", "demo", 2, 0).returning


def test_the_first_page_starts_its_clock_even_without_a_url() -> None:
    s, _ = run([("a", Connect(p.Hello(vid=None, sid=None, page=p.Page(url=""))), 7.0)])
    assert s.pages == 1 and s.page_at == 7.0  # a delay counts from arriving, not from the epoch
