"""Which popup, if any, and which exit popup to keep armed. Pure: (rules, session, event, now) -> actions.

Called after every session event. It
1. books what the shopper did with popups (impressions, closes, conversions) into the session
   and the visitor's campaign history, and counts them for the campaign's results;
2. shows the best eligible non-exit campaign whose triggers all hold, unless a popup is on
   screen or one was shown less than `min_gap` seconds ago;
3. keeps the best eligible exit campaign armed in the widget (`arm`/`disarm`), so it shows the
   instant the shopper tries to leave, with no round trip;
4. schedules one lazy "camp" timer for the next moment a time-based trigger can become true.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from . import protocol as p
from . import wire
from .actions import Action, Count, Schedule, Send
from .campaigns import Campaign, Target, Variant
from .followups import NO_FOLLOWUPS, FollowUps
from .session import Connect, Event, Session, Timer
from .targeting import DAY, _next_due, _waited, capped, eligible, targets, triggered, utm

__all__ = ["MAX_HIST", "Nudge", "SiteRules", "arm_msg", "capped", "decide", "eligible", "hist_of", "nudge_for",
           "pick_variant", "popup_msg", "popup_refusal", "render_title", "targets", "triggered", "utm"]

PENDING_SHOW_S = 10.0  # a popup sent but never reported shown stops blocking others after this
MAX_HIST = 100  # campaigns remembered per visitor (the least recently shown are forgotten first)
MAX_COUNTED = 100  # popup events remembered per session as already counted


@dataclass(frozen=True, slots=True)
class Nudge:
    """The tab nudge of a site: when every tab of a session with a cart goes to the background."""

    title: str = "({count}) Your cart is waiting"
    alt_title: str = ""
    sound: bool = False
    min_total: float = 0.0
    target: Target = Target()


@dataclass(frozen=True, slots=True)
class SiteRules:
    campaigns: tuple[Campaign, ...] = ()
    min_gap: float = 30.0
    attribution_days: float = 7.0
    nudge: Nudge | None = None
    capture: str = "consent"  # vocab.CaptureMode
    alert_total: float = 250.0  # carts this big raise an alert when abandoned
    hooks: tuple[tuple[str, tuple[str, ...]], ...] = ()  # webhooks: (url, events)
    followups: FollowUps = NO_FOLLOWUPS


def render_title(template: str, s: Session) -> str:
    """Fill {count}, {total} and {currency}; anything else in braces stays as written."""
    text = (template.replace("{count}", str(s.cart_count)).replace("{total}", f"{s.cart_total:.2f}")
            .replace("{currency}", s.currency))
    return text[:120]


def nudge_for(n: Nudge | None, s: Session, ev: Event, conn: str) -> Send | None:
    """Sent to the one tab whose going to the background left none visible, so several open tabs
    nudge once, not each."""
    if (n is None or not isinstance(ev, p.Vis) or not ev.hidden or not conn or not s.sockets
            or not all(s.sockets.values()) or s.cart_count <= 0 or s.cart_total < n.min_total
            or not targets(n.target, s)):
        return None
    msg = wire.Nudge(title=render_title(n.title, s), alt=render_title(n.alt_title, s) if n.alt_title else "",
                     favicon={"badge": str(s.cart_count) if s.cart_count < 100 else "99+"}, sound=n.sound)
    return Send(msg, to=conn)


# ---------------------------------------------------------------- A/B split


def pick_variant(c: Campaign, vid: str) -> Variant:
    """Sticky and deterministic: the same visitor always gets the same variant of a campaign."""
    h = int.from_bytes(hashlib.sha256(f"{vid}:{c.id}".encode()).digest()[:8], "big") / 2**64
    total = sum(v.weight for v in c.variants)
    acc = 0.0
    for v in c.variants:
        acc += v.weight / total
        if h < acc and v.weight > 0:
            return v
    return next(v for v in reversed(c.variants) if v.weight > 0)


def popup_msg(c: Campaign, v: Variant) -> wire.Popup:
    return wire.Popup(cid=c.id, var=v.id, kind=c.kind, layout=v.layout, content=v.content, style=v.style)


# ---------------------------------------------------------------- bookkeeping


def hist_of(s: Session, cid: str) -> list[float]:
    """The visitor's history with a campaign: [impressions, last shown, closed, converted,
    impressions when a conversion was last counted]."""
    h = s.hist.setdefault(cid, [0, 0.0, 0, 0, 0])
    while len(h) < 5:
        h.append(0)
    return h


def _book_impression(s: Session, c: Campaign, var: Variant, now: float) -> None:
    s.hist_rev += 1
    h = hist_of(s, c.id)
    h[0], h[1] = h[0] + 1, now
    s.shown[c.id] = s.shown.get(c.id, 0) + 1
    if c.id not in s.page_shown:
        s.page_shown.append(c.id)
    if (var.content.get("form") or {}).get("email"):
        s.form, s.form_at = c.id, now  # this impression may submit one address
    if len(s.hist) > MAX_HIST:
        for cid in sorted(s.hist, key=lambda x: s.hist[x][1])[:len(s.hist) - MAX_HIST]:
            del s.hist[cid]


def popup_refusal(rules: SiteRules, s: Session, ev: p.PopupEv) -> str | None:
    """Why a popup event cannot be about a popup this session saw, or None when it can. Only the
    campaign on screen or armed may be reported shown, only a shown one closed, clicked or
    submitted, and only in the variant this visitor gets."""
    camp = next((c for c in rules.campaigns if c.id == ev.cid), None)
    if camp is None:
        return f"no campaign {ev.cid!r} on this site"
    if pick_variant(camp, s.vid).id != ev.var:
        return f"variant {ev.var!r} of campaign {ev.cid!r} is not the one this visitor sees"
    if ev.ev == "shown" and ev.cid not in (s.popup, s.armed):
        return f"campaign {ev.cid!r} is neither on screen nor armed for this session"
    if ev.ev != "shown" and not s.shown.get(ev.cid):
        return f"campaign {ev.cid!r} was not shown in this session"
    return None


def _popup_event(rules: SiteRules, s: Session, ev: p.PopupEv, now: float) -> list[Action]:
    camp = next((c for c in rules.campaigns if c.id == ev.cid), None)
    if camp is None or popup_refusal(rules, s, ev) is not None:
        return []  # the I/O layer refuses these before they get here
    if ev.ev == "shown" and s.popup != ev.cid:  # an armed exit popup the widget showed by itself
        _book_impression(s, camp, pick_variant(camp, s.vid), now)
        s.popup, s.popup_at, s.popup_seen = ev.cid, now, True
        if s.armed == ev.cid:
            s.armed = ""
    elif ev.ev == "shown":
        s.popup_seen = True
    elif ev.ev == "closed":
        hist_of(s, ev.cid)[2] = 1
        s.hist_rev += 1
        if s.popup == ev.cid:
            s.popup = ""
        if s.form == ev.cid:
            s.form = ""  # closed: its form can no longer submit
    key = f"{ev.cid}:{s.shown.get(ev.cid, 0)}:{ev.ev}"
    if key in s.counted:
        return []  # each event counts once per impression, however often it is reported
    s.counted = (s.counted + [key])[-MAX_COUNTED:]
    return [Count(ev.cid, ev.var, {ev.ev: 1})]


def _attribute(rules: SiteRules, s: Session, ev: p.Purchase, now: float) -> list[Action]:
    """Last touch: the campaign shown most recently within the attribution window gets the sale.
    Purchases and revenue add up; a *conversion* counts once per impression window (a visitor
    who saw the popup once and bought three times converted once), so conversions never exceed
    impressions."""
    window = rules.attribution_days * DAY
    best: tuple[float, str] | None = None
    for cid, h in s.hist.items():
        if h[0] > 0 and now - h[1] <= window and (best is None or h[1] > best[0]):
            best = (h[1], cid)
    camp = next((c for c in rules.campaigns if best and c.id == best[1]), None)
    if camp is None:
        return []
    h = hist_of(s, camp.id)
    h[3] = 1
    counts: dict[str, int | float] = {"purchase": 1, "revenue": ev.total}
    if h[4] < h[0]:
        counts["conversion"] = 1
        h[4] = h[0]
    s.hist_rev += 1
    return [Count(camp.id, pick_variant(camp, s.vid).id, counts)]


# ---------------------------------------------------------------- the decision


def decide(rules: SiteRules, s: Session, ev: Event, now: float, conn: str = "") -> list[Action]:
    acts: list[Action] = []
    nudge = nudge_for(rules.nudge, s, ev, conn)
    if nudge is not None:
        acts.append(nudge)
    if isinstance(ev, p.PopupEv):
        acts += _popup_event(rules, s, ev, now)
    elif isinstance(ev, p.Purchase):
        acts += _attribute(rules, s, ev, now)
    elif isinstance(ev, (Connect, p.PageMsg)):
        s.popup, s.page_shown = "", []  # a new page starts with no popup on screen
    elif isinstance(ev, Timer) and ev.kind == "camp":
        s.camp_at = None
    if not s.sockets:
        return acts
    last = s.popup_at if s.popup_at is not None else -math.inf
    if s.popup and not s.popup_seen and now - last > PENDING_SHOW_S:
        s.popup = ""
    live = sorted((c for c in rules.campaigns if eligible(c, s, now)), key=lambda c: -c.priority)

    if not s.popup and now - last >= rules.min_gap:
        for c in live:
            if not c.trigger.exit and triggered(c, s, ev, now):
                var = pick_variant(c, s.vid)
                _book_impression(s, c, var, now)
                s.popup, s.popup_at, s.popup_seen = c.id, now, False
                acts.append(Send(popup_msg(c, var)))
                break

    exit_camp = None if s.popup else next((c for c in live if c.trigger.exit and _arm_ready(c, s, now)), None)
    want = exit_camp.id if exit_camp else ""
    if want != s.armed or (want and isinstance(ev, Connect)):
        if s.armed and s.armed != want:
            acts.append(Send(wire.Disarm(s.armed)))
        if exit_camp is not None:
            acts.append(Send(arm_msg(exit_camp, s.vid)))
        s.armed = want

    due = [d for c in live if (d := _next_due(c, s, now)) is not None]
    if due and (s.camp_at is None or min(due) < s.camp_at):
        s.camp_at = min(due)
        acts.append(Schedule("camp", s.camp_at))
    return acts


def _arm_ready(c: Campaign, s: Session, now: float) -> bool:
    """An exit campaign is armed once its other triggers (if any) hold."""
    t = c.trigger
    return _waited(t, s, now) and (t.pages_min is None or s.pages >= t.pages_min)


def arm_msg(c: Campaign, vid: str) -> wire.Arm:
    return wire.Arm(popup=popup_msg(c, pick_variant(c, vid)), how=c.trigger.exit)
