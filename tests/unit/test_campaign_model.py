"""The campaign model: the A/B split, attribution, validation with field-precise errors, results."""


from __future__ import annotations

import math
from typing import Any

import pytest

from server.core import protocol as p
from server.core.actions import Count
from server.core.campaigns import CampaignError, parse_campaign, parse_campaigns_toml
from server.core.rules import SiteRules, pick_variant
from server.core.stats import campaign_results, two_proportion_p
from tests.unit.builders import camp, run, session, show

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


# (name, sessions per step, the step named as losing the most, words in the summary)
FUNNELS = [
    ("empty", {}, None, "No sessions in this period yet."),
    ("checkout loses most", {"home": 100, "category": 80, "product": 70, "cart": 30, "checkout": 25, "thanks": 5},
     "cart", "between a product page and the cart: 40 of 70 sessions (57%)"),
    ("landing on products", {"product": 50, "cart": 10}, "cart", "40 of 50 sessions"),
    ("nobody lost", {"home": 3, "category": 3, "product": 3, "cart": 3, "checkout": 3, "thanks": 3}, None,
     "No step loses shoppers"),
]


@pytest.mark.parametrize("name,reached,worst,words", FUNNELS, ids=[f[0] for f in FUNNELS])
def test_funnel_report(name: str, reached: dict[str, int], worst: str | None, words: str) -> None:
    from server.core.stats import funnel_report

    r = funnel_report(reached)
    assert r["worst"] == worst and words in r["summary"]
    assert all(s["lost"] >= 0 for s in r["steps"])
