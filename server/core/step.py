"""The one entry into the decision core: (session, event, now, rules) -> actions. Pure.

The glue calls `refusal` first for a client message (a refused one changes nothing and gets an
`error`), then `step`, and carries out the actions in order.
"""

from __future__ import annotations

from . import protocol as p
from .actions import Action
from .leads import FORM_WINDOW_S
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


def step(s: Session, conn: str, ev: Event, now: float, timing: Timing, rules: SiteRules) -> list[Action]:
    """Apply one event to the session: its state, the campaign decisions, and whether the visitor
    is now worth keeping. Returns every effect to carry out, in order."""
    actions = feed(s, conn, ev, now, timing)
    actions += decide(rules, s, ev, now, conn)
    actions += engage(s, ev)
    return actions
