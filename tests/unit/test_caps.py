"""Frequency caps, site-wide caps and lazily scheduled campaign timers."""


from __future__ import annotations

from server.core import protocol as p
from server.core.actions import Schedule
from server.core.rules import SiteRules
from server.core.session import Timer, feed, new_session
from tests.unit.builders import T, camp, hello, popups, run, session, show

# ---------------------------------------------------------------- frequency and site-wide caps


def test_delay_counts_from_arrival_on_the_page_and_time_on_site_from_the_start() -> None:
    rules = SiteRules(campaigns=(camp(trigger={"delay_s": 5}),), min_gap=0)
    s = session()
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 4)
    assert show(rules, s, 6) == []
    assert show(rules, s, 9) == ["c1"]
    rules = SiteRules(campaigns=(camp(trigger={"time_on_site_s": 5}),), min_gap=0)
    s = session()
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 4)
    assert show(rules, s, 5) == ["c1"]


def test_scroll_depth_is_kept_per_page() -> None:
    s = session()
    feed(s, "a", p.Act(depth=70), 1, T)
    feed(s, "a", p.Act(depth=20), 2, T)
    assert s.scroll_depth == 70
    feed(s, "a", p.PageMsg(p.Page(url="https://s.example/2")), 3, T)
    assert s.scroll_depth == 0


def test_once_per_session_survives_close_and_new_page() -> None:
    rules = SiteRules(campaigns=(camp(frequency={"per": "session", "stop_after_close": False}),), min_gap=0)
    s = session()
    assert show(rules, s, 10) == ["c1"]
    run(rules, s, p.PopupEv("u1", "c1", "a", "closed"), 11)
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 12)
    assert show(rules, s, 20) == []


def test_every_page() -> None:
    rules = SiteRules(campaigns=(camp(frequency={"per": "page", "stop_after_close": False}),), min_gap=0)
    s = session()
    assert show(rules, s, 10) == ["c1"]
    run(rules, s, p.PopupEv("u1", "c1", "a", "closed"), 11)
    assert show(rules, s, 12) == []
    assert popups(run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 13)) == []  # delay counts per page
    assert show(rules, s, 18) == ["c1"]


def test_once_per_days_per_visitor_across_sessions() -> None:
    rules = SiteRules(campaigns=(camp(frequency={"per": "days", "days": 2, "stop_after_close": False}),), min_gap=0)
    s = session()
    assert show(rules, s, 10) == ["c1"]
    later = new_session("sid2", "vid-1", "demo", 2, 86_400.0)
    later.hist = s.hist  # the visitor's history follows them (stored on the visitor)
    feed(later, "a", hello(), 86_400.0, T)
    assert show(rules, later, 86_410) == []
    assert show(rules, later, 2 * 86_400 + 11) == ["c1"]


def test_max_impressions_and_stop_after_close() -> None:
    rules = SiteRules(campaigns=(camp(frequency={"per": "page", "max_impressions": 2}),), min_gap=0)
    s = session()
    assert show(rules, s, 10) == ["c1"]
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 11)
    assert show(rules, s, 16) == ["c1"]
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/3")), 17)
    assert show(rules, s, 22) == []  # two impressions used up
    rules = SiteRules(campaigns=(camp(frequency={"per": "page"}),), min_gap=0)
    s = session()
    assert show(rules, s, 10) == ["c1"]
    run(rules, s, p.PopupEv("u1", "c1", "a", "closed"), 11)
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 12)
    assert show(rules, s, 13) == []  # closed: stop


def test_stop_after_conversion() -> None:
    rules = SiteRules(campaigns=(camp(),), min_gap=0)
    s = session()
    run(rules, s, p.Purchase("o1", "A1", 10.0, "EUR"), 1)
    assert show(rules, s, 10) == []


def test_one_on_screen_and_min_gap() -> None:
    rules = SiteRules(campaigns=(camp("a1", priority=2, frequency={"per": "session"}),
                                 camp("b1", priority=1, frequency={"per": "session"})), min_gap=30)
    s = session()
    assert show(rules, s, 10) == ["a1"]  # higher priority first
    assert show(rules, s, 11) == []  # a1 still on screen
    run(rules, s, p.PopupEv("u1", "a1", "a", "shown"), 11)
    run(rules, s, p.PopupEv("u2", "a1", "a", "closed"), 12)
    assert show(rules, s, 20) == []  # within min_gap of the last popup
    assert show(rules, s, 40) == ["b1"]


def test_a_popup_never_reported_shown_stops_blocking() -> None:
    rules = SiteRules(campaigns=(camp("a1", frequency={"per": "page"}), camp("b1")), min_gap=0)
    s = session()
    assert show(rules, s, 10) == ["a1"]
    assert show(rules, s, 15) == []
    assert show(rules, s, 21) == ["b1"]


def test_draft_paused_and_schedule_window() -> None:
    for c in (camp(status="draft"), camp(status="paused"), camp(start=100.0), camp(end=5.5)):
        assert show(SiteRules(campaigns=(c,), min_gap=0), session(), 10) == []
    assert show(SiteRules(campaigns=(camp(start=5.0, end=50.0),), min_gap=0), session(), 10) == ["c1"]


# ---------------------------------------------------------------- timers


def test_camp_timer_is_scheduled_lazily() -> None:
    rules = SiteRules(campaigns=(camp(trigger={"delay_s": 5}), camp("i1", trigger={"idle_s": 20})), min_gap=0)
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    acts = run(rules, s, hello("checkout"), 0)
    assert [a for a in acts if isinstance(a, Schedule) and a.kind == "camp"] == [Schedule("camp", 5.0)]
    assert [a for a in run(rules, s, p.Act(), 1) if isinstance(a, Schedule) and a.kind == "camp"] == []
    acts = run(rules, s, Timer("camp"), 5)
    assert popups(acts) == ["c1"] and Schedule("camp", 21.0) in acts
