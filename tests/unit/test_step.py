"""The one entry into the core, for what it decides beyond the session and the campaigns: leads,
alerts and webhook deliveries, each with an id derived from its cause."""

from __future__ import annotations

from server.core import protocol as p
from server.core.actions import Alert, Capture, Deliver, Publish, Tally
from server.core.alerts import delivery_id
from server.core.rules import SiteRules
from server.core.session import Connect, Disconnect, LeadEmail, Timer, new_session
from server.core.step import step
from tests.unit.builders import T

HOOK = "https://crm.example/in"
RULES = SiteRules(capture="live", alert_total=100.0,
                  hooks=((HOOK, ("lead.captured", "cart.abandoned", "alert.raised")),))
EMAIL = p.Email("e1", "Ada@Example.com", "field", "email", True)


def session() -> object:
    s = new_session("sid", "vid", "demo", 1, 0.0)
    step(s, "a", Connect(p.Hello(vid=None, sid=None, page=p.Page(url="https://s.example/"))), 0.0, T, RULES)
    return s


def kinds(acts: list[object]) -> list[str]:
    return [type(a).__name__ for a in acts]


def test_a_lead_is_captured_published_and_delivered_with_a_derived_id() -> None:
    s = session()
    acts = step(s, "a", LeadEmail(EMAIL), 1.0, T, RULES, cause="e1")
    assert kinds(acts) == ["Capture", "Publish", "Deliver", "Engage"]
    cap = next(a for a in acts if isinstance(a, Capture))
    assert cap.lead["email"] == "ada@example.com" and cap.lead["consent"]["given"] is True
    d = next(a for a in acts if isinstance(a, Deliver)).delivery
    assert d["id"] == delivery_id(HOOK, "demo", "vid", "e1", "lead.captured")
    assert s.email == "ada@example.com" and s.email_consent  # type: ignore[attr-defined]


def test_a_limited_address_captures_nothing() -> None:
    s = session()
    acts = step(s, "a", LeadEmail(EMAIL, limited=True), 1.0, T, RULES, cause="e1")
    assert [a for a in acts if isinstance(a, (Capture, Publish, Deliver))] == []
    assert Tally("emails_refused", "too many leads from this address") in acts


def test_a_big_cart_that_leaves_raises_an_alert_and_two_deliveries() -> None:
    s = session()
    step(s, "a", p.Cart(items=(p.Item("1", "x", 150.0, 1),), total=150.0, currency="EUR"), 1.0, T, RULES)
    step(s, "a", Disconnect(), 2.0, T, RULES)
    acts = step(s, "", Timer("leave"), 40.0, T, RULES, cause="timer.leave.2.0")
    assert kinds(acts) == ["Publish", "Deliver", "Tally", "Alert", "Deliver"]
    alert = next(a for a in acts if isinstance(a, Alert))
    assert alert.rid == "vid.timer.leave.2.0.alert" and alert.payload["reason"] == "left_with_cart"
    ids = [a.delivery["id"] for a in acts if isinstance(a, Deliver)]
    assert ids == [delivery_id(HOOK, "demo", "vid", "timer.leave.2.0", e) for e in ("cart.abandoned", "alert.raised")]
