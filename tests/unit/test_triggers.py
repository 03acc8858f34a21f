"""Campaign triggers and targeting, table-style."""


from __future__ import annotations

from typing import Any

import pytest

from server.core import protocol as p
from server.core.rules import SiteRules, targets
from server.core.session import Timer, feed
from tests.unit.builders import T, camp, popups, run, session

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
