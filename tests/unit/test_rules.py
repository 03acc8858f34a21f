"""Campaign rules, table-style: every trigger, target, cap, the A/B split and arming."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from server.core import protocol as p
from server.core import wire
from server.core.actions import Count, Schedule, Send
from server.core.campaigns import CampaignError, Target, parse_campaign, parse_campaigns_toml
from server.core.rules import Nudge, SiteRules, decide, nudge_for, pick_variant, render_title, targets
from server.core.session import Connect, Disconnect, Session, Timer, Timing, feed, new_session
from server.core.stats import campaign_results, two_proportion_p

T = Timing(idle_after=60, leave_grace=30, session_timeout=1800)


def as_dict(msg: object) -> dict[str, Any]:
    """An outbound message as the widget receives it."""
    return orjson.loads(orjson.dumps(msg))  # type: ignore[no-any-return]


def camp(cid: str = "c1", kind: str = "custom", trigger: dict[str, Any] | None = None,
         target: dict[str, Any] | None = None, frequency: dict[str, Any] | None = None, **kw: Any) -> Any:
    return parse_campaign({
        "id": cid, "name": cid, "kind": kind, "status": kw.pop("status", "live"),
        "trigger": trigger or {"delay_s": 5}, "target": target or {}, "frequency": frequency or {},
        "variants": kw.pop("variants", [{"content": {"headline": f"hi {cid}"}}]), **kw,
    })


def hello(kind: str = "home", url: str = "https://s.example/", touch: bool = False, lang: str = "en-GB",
          ref: str = "") -> Connect:
    return Connect(p.Hello(vid=None, sid=None, page=p.Page(url=url, kind=kind, ref=ref),
                           screen_w=390 if touch else 1280, touch=touch, lang=lang))


def session(visit: int = 1, **hello_kw: Any) -> Session:
    s = new_session("sid", "vid-1", "demo", visit, 0.0)
    feed(s, "a", hello(**hello_kw), 0.0, T)
    return s


def run(rules: SiteRules, s: Session, ev: Any, now: float) -> list[Any]:
    return feed(s, "a", ev, now, T) + decide(rules, s, ev, now)


def popups(acts: list[Any]) -> list[str]:
    return [a.msg.cid for a in acts if isinstance(a, Send) and a.msg.t == "popup"]  # type: ignore[union-attr]


# ---------------------------------------------------------------- triggers

TRIGGERS = [
    # (name, trigger, session setup, event, now, shows)
    ("delay not yet", {"delay_s": 5}, {}, Timer("camp"), 4.9, False),
    ("delay reached", {"delay_s": 5}, {}, Timer("camp"), 5.0, True),
    ("idle on checkout", {"idle_s": 30}, {"kind": "checkout"}, Timer("camp"), 30, True),
    ("idle too early", {"idle_s": 30}, {"kind": "checkout"}, Timer("camp"), 29, False),
    ("idle not on product", {"idle_s": 30}, {"kind": "product"}, Timer("camp"), 100, False),
    ("pages reached", {"pages_min": 1}, {}, p.Act(), 1, True),
    ("pages not reached", {"pages_min": 2}, {}, p.Act(), 1, False),
    ("tab return after long hide", {"tab_return_s": 10}, {"hidden": 20}, p.Vis(False), 21, True),
    ("tab return after short hide", {"tab_return_s": 10}, {"hidden": 5}, p.Vis(False), 21, False),
    ("tab return needs the return", {"tab_return_s": 10}, {"hidden": 20}, p.Act(), 21, False),
    ("time on site reached", {"time_on_site_s": 5}, {}, Timer("camp"), 5, True),
    ("time on site not yet", {"time_on_site_s": 5}, {}, Timer("camp"), 4, False),
    ("scrolled far enough", {"scroll_pct": 50}, {}, p.Act(depth=60), 1, True),
    ("not scrolled far enough", {"scroll_pct": 50}, {}, p.Act(depth=40), 1, False),
    ("exit-only never shows by itself", {"exit": ["mouse"]}, {}, Timer("camp"), 100, False),
    ("all triggers must hold", {"delay_s": 5, "pages_min": 3}, {}, Timer("camp"), 100, False),
]


@pytest.mark.parametrize(("name", "trigger", "setup", "ev", "now", "shows"), TRIGGERS, ids=[t[0] for t in TRIGGERS])
def test_triggers(name: str, trigger: dict[str, Any], setup: dict[str, Any], ev: Any, now: float,
                  shows: bool) -> None:
    rules = SiteRules(campaigns=(camp(trigger=trigger),), min_gap=0)
    s = session(kind=setup.get("kind", "home"))
    if "hidden" in setup:
        feed(s, "a", p.Vis(True), 1.0, T)
        feed(s, "a", p.Vis(False), 1.0 + setup["hidden"], T)
        feed(s, "a", p.Vis(True), 1.0 + setup["hidden"], T)
        s.hidden_since = now - setup["hidden"]
    assert popups(run(rules, s, ev, now)) == (["c1"] if shows else [])


# ---------------------------------------------------------------- targeting

TARGETS: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("no target", {}, {}, True),
    ("url include", {"url_include": ["/p/"]}, {"url": "https://s.example/p/42"}, True),
    ("url include misses", {"url_include": ["/p/"]}, {"url": "https://s.example/c/x"}, False),
    ("url exclude", {"url_exclude": ["/checkout"]}, {"url": "https://s.example/checkout"}, False),
    ("page kind", {"page_kinds": ["product"]}, {"kind": "product"}, True),
    ("page kind misses", {"page_kinds": ["product"]}, {"kind": "home"}, False),
    ("new visitor", {"visitor": "new"}, {"visit": 1}, True),
    ("new visitor, returning", {"visitor": "new"}, {"visit": 3}, False),
    ("returning visitor", {"visitor": "returning"}, {"visit": 2}, True),
    ("returning visitor, new", {"visitor": "returning"}, {"visit": 1}, False),
    ("visits min", {"visits_min": 3}, {"visit": 2}, False),
    ("visits max", {"visits_max": 3}, {"visit": 4}, False),
    ("visits in range", {"visits_min": 2, "visits_max": 3}, {"visit": 3}, True),
    ("mobile", {"device": "mobile"}, {"touch": True}, True),
    ("mobile on desktop", {"device": "mobile"}, {}, False),
    ("desktop", {"device": "desktop"}, {}, True),
    ("referrer", {"referrer_contains": "google."}, {"ref": "https://www.google.com/"}, True),
    ("referrer misses", {"referrer_contains": "google."}, {"ref": "https://bing.com/"}, False),
    ("utm source", {"utm_source": "newsletter"}, {"url": "https://s.example/?utm_source=newsletter"}, True),
    ("utm medium misses", {"utm_medium": "email"}, {"url": "https://s.example/?utm_medium=cpc"}, False),
    ("utm campaign", {"utm_campaign": "bf"}, {"url": "https://s.example/?utm_campaign=bf&x=1"}, True),
    ("language", {"lang": ["en"]}, {"lang": "en-GB"}, True),
    ("language misses", {"lang": ["pl"]}, {"lang": "en-GB"}, False),
    ("cart total min", {"cart_total_min": 50}, {"cart": 60}, True),
    ("cart total min misses", {"cart_total_min": 50}, {"cart": 40}, False),
    ("cart total max", {"cart_total_max": 50}, {"cart": 60}, False),
    ("cart count min", {"cart_count_min": 2}, {"cart": 10}, False),
    ("cart count max", {"cart_count_max": 0}, {"cart": 10}, False),
    ("temperature hot", {"temperature": ["hot"]}, {"cart": 10}, True),
    ("temperature misses", {"temperature": ["hot"]}, {}, False),
    ("has email", {"has_email": True}, {"email": True}, True),
    ("has no email", {"has_email": False}, {"email": True}, False),
]


@pytest.mark.parametrize(("name", "target", "setup", "match"), TARGETS, ids=[t[0] for t in TARGETS])
def test_targeting(name: str, target: dict[str, Any], setup: dict[str, Any], match: bool) -> None:
    hello_kw = {k: setup[k] for k in ("url", "kind", "touch", "lang", "ref") if k in setup}
    s = session(visit=setup.get("visit", 1), **hello_kw)
    if "cart" in setup:
        feed(s, "a", p.Cart(items=(p.Item(id="1", name="x", price=setup["cart"], qty=1),), total=setup["cart"],
                            currency="EUR"), 1, T)
    if setup.get("email"):
        s.has_email = True  # set by a capture (core/leads.py) or a popup form submission
    assert targets(camp(target=target).target, s) is match


# ---------------------------------------------------------------- frequency and site-wide caps


def show(rules: SiteRules, s: Session, now: float) -> list[str]:
    return popups(decide(rules, s, Timer("camp"), now))


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


# ---------------------------------------------------------------- timers


def test_camp_timer_is_scheduled_lazily() -> None:
    rules = SiteRules(campaigns=(camp(trigger={"delay_s": 5}), camp("i1", trigger={"idle_s": 20})), min_gap=0)
    s = new_session("sid", "vid-1", "demo", 1, 0.0)
    acts = run(rules, s, hello("checkout"), 0)
    assert [a for a in acts if isinstance(a, Schedule) and a.kind == "camp"] == [Schedule("camp", 5.0)]
    assert [a for a in run(rules, s, p.Act(), 1) if isinstance(a, Schedule) and a.kind == "camp"] == []
    acts = run(rules, s, Timer("camp"), 5)
    assert popups(acts) == ["c1"] and Schedule("camp", 21.0) in acts


# ---------------------------------------------------------------- A/B split


def test_variant_is_sticky_and_split_by_weight() -> None:
    c = camp(variants=[{"id": "a", "weight": 30, "content": {"headline": "A"}},
                       {"id": "b", "weight": 70, "content": {"headline": "B"}},
                       {"id": "z", "weight": 0, "content": {"headline": "never"}}])
    assert pick_variant(c, "visitor-1") == pick_variant(c, "visitor-1")
    n = 20_000
    picks = [pick_variant(c, f"v{i}").id for i in range(n)]
    share_a = picks.count("a") / n
    # binomial: sd = sqrt(.3*.7/n) ~ 0.0032; 5 sd either way
    assert abs(share_a - 0.3) < 5 * math.sqrt(0.3 * 0.7 / n)
    assert "z" not in picks


def test_attribution_last_touch_within_window() -> None:
    rules = SiteRules(campaigns=(camp("a1", frequency={"per": "page"}), camp("b1", frequency={"per": "page"})),
                      min_gap=0, attribution_days=1)
    s = session()
    show(rules, s, 10)  # a1
    run(rules, s, p.PageMsg(p.Page(url="https://s.example/2")), 11)
    s.popup = ""
    show(rules, s, 12)
    acts = run(rules, s, p.Purchase("o1", "A1", 99.5, "EUR"), 20)
    stat = [a for a in acts if isinstance(a, Count)]
    assert stat == [Count("a1", "a", {"purchase": 1, "revenue": 99.5, "conversion": 1})]  # shown again at 12
    s2 = session()
    show(rules, s2, 10)
    assert [a for a in run(rules, s2, p.Purchase("o2", "A2", 5.0, "EUR"), 10 + 2 * 86_400)
            if isinstance(a, Count)] == []


# ---------------------------------------------------------------- validation and stats

INVALID = [
    ({"name": "x", "kind": "exit", "trigger": {"exit": ["mouse"]}, "variants": [{"content": {"headline": "h"}}]},
     "id"),
    ({"id": "x", "name": "x", "kind": "banner", "trigger": {"delay_s": 1}, "variants": []}, "kind"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"exit": ["keyboard"]}}, "trigger.exit[0]"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": -1}}, "trigger.delay_s"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1}, "target": {"device": "tv"}},
     "target.device"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1}, "target": {"colour": 1}}, "target.colour"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1}, "variants": [{"layout": "fullscreen"}]},
     "variants[0].layout"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1},
      "variants": [{"content": {"headline": "h", "cta": {"label": "go", "url": "javascript:alert(1)"}}}]},
     "variants[0].content.cta.url"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1},
      "variants": [{"content": {"headline": "h"}, "style": {"bg": "red"}}]}, "variants[0].style.bg"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1},
      "variants": [{"content": {"headline": "h"}, "weight": 0}]}, "variants"),
    ({"id": "x", "name": "x", "kind": "exit", "trigger": {"delay_s": 1}, "start": 10, "end": 5,
      "variants": [{"content": {"headline": "h"}}]}, "end"),
    ({"id": "bad id", "name": "x", "kind": "exit", "trigger": {"delay_s": 1},
      "variants": [{"content": {"headline": "h"}}]}, "id"),
    ([1], "campaign"),
]


@pytest.mark.parametrize(("obj", "field"), INVALID, ids=[i[1] for i in INVALID])
def test_invalid_campaigns_name_the_field(obj: Any, field: str) -> None:
    with pytest.raises(CampaignError) as err:
        parse_campaign(obj)
    assert err.value.field == field


def test_round_trip_and_toml_file() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    camps = parse_campaigns_toml((root / "server" / "demo_campaigns.toml").read_text())
    assert {c.kind for c in camps} >= {"welcome", "exit", "idle", "hint"}
    for c in camps:
        assert parse_campaign(c.to_dict()) == c
    with pytest.raises(CampaignError, match="campaigns\\[0\\].kind"):
        parse_campaigns_toml('[[campaigns]]\nid="a"\nname="a"\nkind="nope"\ntrigger={delay_s=1}\n')


def test_results_and_significance() -> None:
    assert two_proportion_p(0, 0, 1, 10) is None
    assert two_proportion_p(50, 1000, 50, 1000) == pytest.approx(1.0)
    assert two_proportion_p(100, 1000, 50, 1000) < 0.001  # 10% vs 5%: clearly different
    res = campaign_results(["a", "b"], {"a:shown": 1000, "a:purchase": 50, "b:shown": 1000, "b:purchase": 100,
                                        "b:revenue": 1234.5, "a:clicked": 10, "b:submitted": 3})
    a, b = res["variants"]
    assert a["impressions"] == 1000 and a["conversion_rate"] == 0.05 and a["clicks"] == 10
    assert b["emails"] == 3 and b["revenue"] == 1234.5 and b["vs_first"]["significant"] is True
    assert res["totals"]["purchases"] == 150


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
