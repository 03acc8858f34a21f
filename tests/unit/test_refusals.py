"""What a session may claim happened on screen (core/step.refusal), what popup events count, and
how conversions are counted. Table-style, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from server.core import protocol as p
from server.core.actions import Count, Engage, Send
from server.core.rules import MAX_HIST, SiteRules, decide, pick_variant
from server.core.session import Connect, Session, Timer, new_session
from server.core.step import refusal, step
from tests.unit.builders import T, camp, hello

FORM = [{"id": "a", "content": {"headline": "Join", "form": {"email": True}}}]
SIGNUP = camp("signup", trigger={"delay_s": 0}, frequency={"per": "page", "stop_after_conversion": False},
              variants=FORM)
EXIT = camp("exit1", trigger={"exit": ["mouse"]}, variants=[{"id": "a", "content": {"headline": "Wait"}}])
RULES = SiteRules(campaigns=(SIGNUP, EXIT), min_gap=0)


def go(s: Session, ev: Any, now: float, rules: SiteRules = RULES) -> list[Any]:
    return step(s, "a", ev, now, T, rules)


def fresh() -> Session:
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    go(s, hello(), 0.0)
    return s


def ev(cid: str, what: str, var: str = "a", mid: str = "m1") -> p.PopupEv:
    return p.PopupEv(mid, cid, var, what)


REFUSALS = [
    # (name, setup events, message, refused because)
    ("unknown campaign", [], ev("made-up", "shown"), "no campaign 'made-up' on this site"),
    ("wrong variant", [], ev("signup", "shown", var="b"), "variant 'b' of campaign 'signup' is not the one"),
    ("shown while on screen", [], ev("signup", "shown"), None),
    ("exit popup shown while armed", [ev("signup", "closed")], ev("exit1", "shown"), None),
    ("exit popup shown while another is on screen", [], ev("exit1", "shown"),
     "campaign 'exit1' is neither on screen nor armed"),
    ("clicked after shown", [], ev("signup", "clicked"), None),
    ("closed before any impression", [ev("signup", "closed")], ev("exit1", "closed"),
     "campaign 'exit1' was not shown in this session"),
    ("shown again after closing", [ev("signup", "closed")], ev("signup", "shown"),
     "campaign 'signup' is neither on screen nor armed for this session"),
    ("popup email with the form on screen", [],
     p.Email("e1", "a@b.co", "popup", "popup:signup", False, True), None),
    ("popup email naming another campaign", [],
     p.Email("e1", "a@b.co", "popup", "popup:exit1", False, True), "no popup form is open for this session"),
    ("popup email after the form was closed", [ev("signup", "closed")],
     p.Email("e1", "a@b.co", "popup", "popup:signup", False, True), "no popup form is open for this session"),
    ("typed email is not a popup claim", [ev("signup", "closed")],
     p.Email("e1", "a@b.co", "field", "email", False, False), None),
]


@pytest.mark.parametrize(("name", "setup", "msg", "why"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(name: str, setup: list[Any], msg: Any, why: str | None) -> None:
    s = fresh()
    for e in setup:
        go(s, e, 1.0)
    got = refusal(RULES, s, msg, 2.0)
    assert (got is None) if why is None else (got is not None and got.startswith(why)), got


def test_each_popup_event_counts_once_per_impression() -> None:
    s = fresh()
    counted = [a for e in [ev("signup", "shown", mid=f"s{n}") for n in range(3)]
               + [ev("signup", "clicked", mid=f"c{n}") for n in range(3)] for a in go(s, e, 1.0)
               if isinstance(a, Count)]
    assert counted == [Count("signup", "a", {"shown": 1}), Count("signup", "a", {"clicked": 1})]
    go(s, p.PageMsg(p.Page(url="https://s.example/2")), 2.0)  # per page: a new impression
    again = [a for a in go(s, ev("signup", "clicked", mid="c9"), 3.0) if isinstance(a, Count)]
    assert again == [Count("signup", "a", {"clicked": 1})]


def test_conversions_count_once_per_impression_window() -> None:
    s = fresh()
    go(s, ev("signup", "shown"), 1.0)
    counts = [a.counts for n in range(3) for a in go(s, p.Purchase(f"o{n}", "A", 10.0, "EUR"), 2.0 + n)
              if isinstance(a, Count)]
    assert counts == [{"purchase": 1, "revenue": 10.0, "conversion": 1}, {"purchase": 1, "revenue": 10.0},
                      {"purchase": 1, "revenue": 10.0}]
    go(s, p.PageMsg(p.Page(url="https://s.example/2")), 10.0)  # shown again: a new window
    counts = [a.counts for a in go(s, p.Purchase("o9", "A", 5.0, "EUR"), 11.0) if isinstance(a, Count)]
    assert counts == [{"purchase": 1, "revenue": 5.0, "conversion": 1}]


def test_the_visitors_campaign_history_is_capped() -> None:
    many = tuple(camp(f"c{n}", trigger={"delay_s": 0}, frequency={"per": "page"}) for n in range(MAX_HIST + 20))
    rules = SiteRules(campaigns=many, min_gap=0)
    s = fresh()
    for n in range(MAX_HIST + 20):
        go(s, p.PageMsg(p.Page(url=f"https://s.example/{n}")), float(n), rules)
        s.popup = ""
        decide(rules, s, Timer("camp"), float(n) + 0.5)
    assert 0 < len(s.hist) <= MAX_HIST


def test_a_form_popup_opens_one_submission() -> None:
    s = fresh()
    assert s.form == "signup"
    sent = [a.msg for a in go(s, Connect(p.Hello(vid=None, sid=None, page=p.Page(url="https://s.example/"))), 1.0)
            if isinstance(a, Send)]
    assert s.form == "signup" and not [m for m in sent if m.t == "popup" and m.cid != "signup"]  # type: ignore
    assert pick_variant(SIGNUP, s.vid).id == "a"


ENGAGING = [
    # (name, events after hello, engaged)
    ("only hello", [], False),
    ("a bot moving the mouse", [p.Act(), p.Vis(True), p.Vis(False), p.Exit("mouse")], False),
    ("the same page again", [p.PageMsg(p.Page(url="https://s.example/"))], False),
    ("a second page", [p.PageMsg(p.Page(url="https://s.example/2"))], True),
    ("a cart", [p.Cart(items=(), total=0.0, currency="EUR")], True),
    ("a purchase", [p.Purchase("o1", "A", 1.0, "EUR")], True),
    ("an email", [p.Email("e1", "a@b.co", "field", "email", False)], True),
]


@pytest.mark.parametrize(("name", "events", "engaged"), ENGAGING, ids=[r[0] for r in ENGAGING])
def test_the_visitor_is_kept_once_they_do_what_shoppers_do(name: str, events: list[Any], engaged: bool) -> None:
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    acts = go(s, hello(), 0.0) + go(s, Timer("camp"), 1.0)
    for n, e in enumerate(events):
        acts += go(s, e, 2.0 + n)
    assert acts.count(Engage()) == int(engaged) and s.engaged is engaged
    assert Engage() not in go(s, p.Cart(items=(), total=0.0, currency="EUR"), 9.0) or not engaged
