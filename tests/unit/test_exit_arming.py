"""Exit campaigns armed in the widget: on connect, following the cart, disarmed on edits."""


from __future__ import annotations

from typing import Any

from server.core import protocol as p
from server.core import wire
from server.core.actions import Count, Send
from server.core.rules import SiteRules, decide
from server.core.session import Disconnect, Timer, feed, new_session
from tests.unit.builders import T, as_dict, camp, hello, run, session

# ---------------------------------------------------------------- exit arming


def exit_camp(**target: Any) -> Any:
    return camp("x1", kind="exit", trigger={"exit": ["mouse", "back"]}, target=target)


def sends(acts: list[Any]) -> list[tuple[str, str]]:
    return [(a.msg.t, a.msg.popup.cid if isinstance(a.msg, wire.Arm) else a.msg.cid)  # type: ignore[union-attr]
            for a in acts if isinstance(a, Send)]


def test_exit_popup_is_armed_on_connect_and_follows_the_cart() -> None:
    rules = SiteRules(campaigns=(exit_camp(cart_total_min=50),), min_gap=0)
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    assert sends(run(rules, s, hello(), 0)) == []
    cart60 = p.Cart(items=(p.Item(id="1", name="x", price=60.0, qty=1),), total=60.0, currency="EUR")
    acts = run(rules, s, cart60, 1)
    assert sends(acts) == [("arm", "x1")]
    arm = as_dict(next(a.msg for a in acts if isinstance(a, Send)))
    assert arm["on"] == "exit" and arm["how"] == ["mouse", "back"] and arm["popup"]["t"] == "popup"
    assert sends(run(rules, s, p.Act(), 2)) == []  # nothing changed: nothing sent
    assert sends(run(rules, s, p.Cart(items=(), total=0.0, currency="EUR"), 3)) == [("disarm", "x1")]
    run(rules, s, cart60, 4)
    assert sends(run(rules, s, hello(), 5)) == [("arm", "x1")]  # a new tab gets the armed popup too


def test_armed_exit_shown_by_the_widget_is_booked_and_not_rearmed() -> None:
    rules = SiteRules(campaigns=(exit_camp(),), min_gap=0)
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    assert sends(run(rules, s, hello(), 0)) == [("arm", "x1")]
    run(rules, s, p.Exit("mouse"), 3)
    acts = run(rules, s, p.PopupEv("u1", "x1", "a", "shown"), 3)
    assert s.shown == {"x1": 1} and s.popup == "x1" and s.hist["x1"][0] == 1
    rev = s.hist_rev
    assert rev > 0  # the I/O layer stores the visitor's history when this moves
    assert Count("x1", "a", {"shown": 1}) in acts
    assert sends(run(rules, s, p.PopupEv("u2", "x1", "a", "closed"), 4)) == []  # once per session: not re-armed
    assert s.hist_rev == rev + 1 and s.hist["x1"][2] == 1
    run(rules, s, p.Act(), 5)
    assert s.hist_rev == rev + 1  # nothing changed: nothing to store


def test_edit_disarms() -> None:
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    run(SiteRules(campaigns=(exit_camp(),)), s, hello(), 0)
    assert sends(decide(SiteRules(campaigns=()), s, Timer("camp"), 1)) == [("disarm", "x1")]


def test_nothing_decided_without_a_socket() -> None:
    rules = SiteRules(campaigns=(camp(),), min_gap=0)
    s = session()
    feed(s, "a", Disconnect(), 1, T)
    assert decide(rules, s, Timer("camp"), 10) == []
