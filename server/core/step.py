"""The one entry into the decision core: (session, event, now, timing, site rules, cause) -> actions.
Pure.

The glue calls `refusal` first for a client message (a refused one changes nothing and gets an
`error`), then `step`, and carries out every action in order. `cause` names what caused the event
(the client message's id, or the timer and its moment), so that the alerts and webhook deliveries
it makes get ids that a repeated write cannot duplicate.
"""

from __future__ import annotations

from . import protocol as p
from .actions import (
    Action,
    Alert,
    Capture,
    Deliver,
    FollowUp,
    FollowUpCount,
    Publish,
    Reached,
    StopFollowUps,
    Subscribe,
    Tally,
)
from .alerts import delivery_id, make_delivery, outbound
from .events import Connect, LeadEmail
from .followups import plan
from .leads import FORM_WINDOW_S, capture_from, identify, merge_lead
from .rules import SiteRules, decide, popup_refusal
from .session import Event, Session, Timing, engage, feed


def refusal(rules: SiteRules, s: Session, msg: p.Message, now: float) -> str | None:
    """Why this client message must not be applied to this session, or None. Messages that claim
    something happened on screen must match what this session was shown."""
    if isinstance(msg, p.PopupEv):
        return popup_refusal(rules, s, msg)
    if isinstance(msg, p.Email) and msg.source == "popup":
        if not s.form or msg.field != f"popup:{s.form}" or now - s.form_at > FORM_WINDOW_S:
            return "no popup form is open for this session"
    return None


def capture(rules: SiteRules, s: Session, ev: LeadEmail, now: float) -> list[Action]:
    """An email typed or submitted: a lead if the site's consent mode allows it and the client's
    address may create one now."""
    cap, why = capture_from(s.site, rules.capture, s, ev.email, now)
    if cap is not None and ev.limited:
        cap, why = None, "too many leads from this address"
    if cap is None:
        return [Tally("emails_refused", why)]
    lead = merge_lead(ev.lead, cap)
    identify(s, lead, ev.email.source)
    return [Capture(lead), Publish("lead.captured", {"email": lead["email"], "source": ev.email.source,
                                                     "consent": {"given": lead["consent"]["given"]}})]


def fan_out(rules: SiteRules, s: Session, published: Publish, now: float, cause: str) -> list[Action]:
    """The alerts and webhook deliveries a notable event makes, with ids derived from its cause."""
    out: list[Action] = []
    for name, payload in outbound(published.event, published.data, s, rules.alert_total, now):
        if name == "alert.raised":
            out += [Tally("events", "alert.raised"), Alert(payload, f"{s.vid}.{cause}.alert")]
        for url, events in rules.hooks:
            if name in events:
                did = delivery_id(url, s.site, s.vid, cause, name)
                out.append(Deliver(make_delivery(did, s.site, url, name, payload, now, s.vid)))
    return out


def follow_ups(rules: SiteRules, s: Session, ev: Event, published: list[Publish], now: float,
               cause: str) -> list[Action]:
    """Start a follow-up plan when a session with a cart leaves without buying; stop the visitor's
    plan when they come back or buy; keep their push subscription."""
    out: list[Action] = []
    if isinstance(ev, p.Push):
        s.push = "denied" if ev.denied else "granted"  # no more push prompts for this session
        out.append(Subscribe(None if ev.denied else ev.sub))
    if isinstance(ev, p.Purchase) and s.followup_click:  # bought after following a step's link: that step's
        step_name, _, at = s.followup_click.partition("|")
        s.followup_click = ""
        try:
            recent = now - float(at) <= rules.attribution_days * 86400
        except ValueError:
            recent = False
        if recent:
            out.append(FollowUpCount(step_name, {"purchases": 1, "revenue": ev.total}))
    if s.followups and isinstance(ev, (Connect, p.Purchase)):
        s.followups = False
        out.append(StopFollowUps("returned" if isinstance(ev, Connect) else "purchased"))
    if any(a.event == "left" for a in published) and s.cart_count > 0 and not s.converted:
        jobs = plan(s.site, s.vid, s.sid, s.cart(), s.tz, s.lang, rules.followups, now, cause).jobs
        if jobs:
            s.followups = True
            out.append(FollowUp(jobs))
    return out


def step(s: Session, conn: str, ev: Event, now: float, timing: Timing, rules: SiteRules,
         cause: str = "") -> list[Action]:
    """Apply one event to the session: its state, the campaign decisions, a lead, whether the visitor
    is now worth keeping, and what notable events tell the outside. Returns every effect, in order."""
    actions = feed(s, conn, ev, now, timing)
    actions += decide(rules, s, ev, now, conn)
    if isinstance(ev, LeadEmail):
        actions += capture(rules, s, ev, now)
    actions += engage(s, ev)
    if s.sockets and s.page_kind not in s.reached:  # the funnel: each kind once per session
        s.reached.append(s.page_kind)
        actions.append(Reached(s.page_kind))
    cause = cause or f"{s.sid}.{now!r}"  # every event that reaches webhooks has a cause; this is a fallback
    out: list[Action] = []
    for a in actions:
        out.append(a)
        if isinstance(a, Publish):
            out += fan_out(rules, s, a, now, cause)
    return out + follow_ups(rules, s, ev, [a for a in actions if isinstance(a, Publish)], now, cause)
