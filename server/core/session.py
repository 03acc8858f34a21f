"""The live shopper session as a state machine. Pure: time is passed in, effects are returned.

`feed(session, conn, event, now, timing) -> list[Action]` mutates the session and
returns what the I/O layer must do. `state` and `temperature` are derived from the
facts kept here, never stored on their own, so they cannot disagree with them.

States: active, idle, hidden, away (no socket, within leave_grace), left (no socket
past leave_grace), converted (purchased, still on site).
Temperature: cold (browsing), warm (viewed a product), hot (has a cart).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from . import protocol as p
from .actions import Action, Cancel, End, Engage, Publish, Record, Schedule
from .events import Connect, Disconnect, Event, InstanceGone, LeadEmail, Timer, Timing

__all__ = ["IDLE_KINDS", "Connect", "Disconnect", "Event", "InstanceGone", "LeadEmail", "Session", "Timer", "Timing",
           "engage", "feed", "new_session"]

IDLE_KINDS = frozenset({"cart", "checkout"})
# storage names of records: never derived from class names, so a rename cannot orphan stored data
RECORD_KIND: dict[type, str] = {p.Push: "push", p.PopupEv: "popupev"}


@dataclass(slots=True)
class Session:
    sid: str
    vid: str
    site: str
    started: float
    visit: int = 1
    first_seen: float = 0.0  # the visitor's first visit
    page_url: str = ""
    page_title: str = ""
    page_kind: str = "other"
    page_at: float = 0.0  # when the shopper arrived on the current page
    scroll_depth: int = 0  # deepest scroll on the current page, percent
    landing: str = ""
    referrer: str = ""
    pages: int = 0
    cart_items: list[dict[str, Any]] = field(default_factory=list)
    cart_total: float = 0.0
    cart_count: int = 0
    currency: str = ""
    sockets: dict[str, bool] = field(default_factory=dict)  # conn id -> hidden
    last_act: float = 0.0
    idle: bool = False
    idle_at: float | None = None  # when the armed idle timer fires; None when none is armed
    away_since: float | None = None
    left: bool = False
    converted: bool = False
    viewed_product: bool = False
    exits: int = 0
    last_exit: str = ""
    purchases: int = 0
    revenue: float = 0.0
    has_email: bool = False
    email: str = ""  # the visitor's address once captured as a lead
    hidden_since: float | None = None  # when every tab went to the background
    hidden_for: float = 0.0  # how long the tab was hidden, as of the last return
    # campaigns (server/core/rules.py)
    popup: str = ""  # campaign on screen, "" for none
    popup_at: float | None = None  # when the last popup was shown (site-wide gap)
    popup_seen: bool = False  # the widget reported the on-screen popup as shown
    armed: str = ""  # exit campaign armed in the widget
    camp_at: float | None = None  # when the armed campaign timer fires
    shown: dict[str, int] = field(default_factory=dict)  # impressions this session, per campaign
    page_shown: list[str] = field(default_factory=list)  # campaigns shown on the current page
    hist: dict[str, list[float]] = field(default_factory=dict)  # visitor's [impressions, last, closed, converted]
    hist_rev: int = 0  # bumped on every change to hist, so the I/O layer knows to store it
    counted: list[str] = field(default_factory=list)  # "cid:impression:event" already counted (stats)
    form: str = ""  # campaign whose popup form may submit one address (shown, not yet used or closed)
    form_at: float = 0.0
    email_consent: bool = False  # the captured address came with consent
    emails: list[str] = field(default_factory=list)  # addresses captured in this visit (at most 5)
    engaged: bool = False  # the visitor did more than say hello (their record is kept, not expired)
    device: str = "desktop"
    lang: str = ""
    tz: str = ""
    gpc: bool = False
    push: str = "default"
    followups: bool = False  # the visitor may have follow-ups pending (a plan was made, not yet stopped)
    reached: list[str] = field(default_factory=list)  # page kinds this session has been on (the funnel)
    followup_click: str = ""  # "{channel}{step}|{when}": the last follow-up link followed (purchase attribution)

    @property
    def returning(self) -> bool:
        return self.visit > 1

    @property
    def connected(self) -> int:
        return len(self.sockets)

    @property
    def state(self) -> str:
        if not self.sockets:
            return "left" if self.left else "away"
        if self.converted:
            return "converted"
        if all(self.sockets.values()):
            return "hidden"
        return "idle" if self.idle else "active"

    @property
    def temperature(self) -> str:
        if self.cart_count > 0:
            return "hot"
        return "warm" if self.viewed_product else "cold"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Session:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in known})

    def cart(self) -> dict[str, Any]:
        """The cart as every outside view shows it (API, leads, alerts, webhooks): built here only."""
        return {"total": self.cart_total, "count": self.cart_count, "currency": self.currency,
                "items": self.cart_items}

    def view(self) -> dict[str, Any]:
        """The public shape served by the API and the ops console."""
        return {
            "sid": self.sid, "vid": self.vid, "site": self.site,
            "state": self.state, "temperature": self.temperature,
            "page": {"url": self.page_url, "title": self.page_title, "kind": self.page_kind},
            "pages": self.pages, "landing": self.landing, "referrer": self.referrer,
            "cart": self.cart(),
            "connected": self.connected, "returning": self.returning, "visit": self.visit,
            "first_seen": self.first_seen,
            "started": self.started, "last_act": self.last_act, "away_since": self.away_since,
            "exits": self.exits, "last_exit": self.last_exit, "converted": self.converted,
            "purchases": self.purchases, "revenue": self.revenue, "device": self.device,
            "lang": self.lang, "push": self.push, "has_email": self.has_email, "email": self.email,
            "popup": self.popup, "armed": self.armed, "shown": self.shown,
        }


def new_session(sid: str, vid: str, site: str, visit: int, now: float, first_seen: float | None = None) -> Session:
    return Session(sid=sid, vid=vid, site=site, started=now, visit=visit, last_act=now,
                   first_seen=now if first_seen is None else first_seen)


# ---------------------------------------------------------------- transitions


def _touch(s: Session, now: float, timing: Timing) -> list[Action]:
    """Activity: reset idle, and arm the idle timer where idleness matters.

    The timer is lazy: activity only moves `last_act`; an armed timer that fires early
    re-arms itself for `last_act + idle_after`. So the hot path (`act`) costs no timer write.
    """
    s.last_act = now
    s.idle = False
    if s.page_kind in IDLE_KINDS and s.sockets and s.idle_at is None:
        s.idle_at = now + timing.idle_after
        return [Schedule("idle", s.idle_at)]
    return []


def _set_page(s: Session, page: p.Page, now: float) -> None:
    if page.url != s.page_url or s.pages == 0:
        s.pages += 1
        s.page_at, s.scroll_depth = now, 0
    s.page_url, s.page_title, s.page_kind = page.url, page.title, page.kind
    if page.kind == "product":
        s.viewed_product = True


def _connect(s: Session, conn: str, h: p.Hello, now: float, timing: Timing) -> list[Action]:
    was_gone = not s.sockets
    s.sockets[conn] = False
    if not s.landing:
        s.landing, s.referrer = h.page.url, h.page.ref
    s.device = "mobile" if h.touch and 0 < h.screen_w <= 1024 else "desktop"
    s.lang, s.tz, s.gpc, s.push = h.lang, h.tz, h.gpc, h.push
    _set_page(s, h.page, now)
    acts: list[Action] = []
    if was_gone:
        if s.left:
            acts.append(Publish("returned"))
        s.away_since, s.left = None, False
        acts += [Cancel("leave"), Cancel("end")]
    return acts + _touch(s, now, timing)


def _disconnect(s: Session, conns: list[str], now: float, timing: Timing) -> list[Action]:
    if not s.sockets:
        return []
    for conn in conns:
        s.sockets.pop(conn, None)
    if s.sockets:
        return []
    s.away_since = now
    s.idle, s.idle_at = False, None
    return [Cancel("idle"), Schedule("leave", now + timing.leave_grace),
            Schedule("end", now + timing.session_timeout)]


def _timer(s: Session, kind: str, now: float, timing: Timing) -> list[Action]:
    if kind == "idle":
        s.idle_at = None
        if not s.sockets or s.page_kind not in IDLE_KINDS or s.idle:
            return []
        due = s.last_act + timing.idle_after
        if now < due:  # activity arrived after the timer was set: try again later
            s.idle_at = due
            return [Schedule("idle", due)]
        s.idle = True
        return [Publish("idle", {"page_kind": s.page_kind, "cart_total": s.cart_total})]
    if s.sockets or s.away_since is None:
        return []  # came back before the timer fired
    if kind == "leave" and not s.left:
        due = s.away_since + timing.leave_grace
        if now < due:
            return [Schedule("leave", due)]
        s.left = True
        return [Publish("left", {"cart_total": s.cart_total, "cart_count": s.cart_count})]
    if kind == "end":
        due = s.away_since + timing.session_timeout
        return [Schedule("end", due)] if now < due else [End()]
    return []


def _purchase(s: Session, m: p.Purchase, now: float) -> list[Action]:
    s.converted = True
    s.purchases += 1
    s.revenue = round(s.revenue + m.total, 2)
    data = {"id": m.id, "order": m.order, "total": m.total, "currency": m.currency,
            "sid": s.sid, "vid": s.vid, "at": now}
    return [Record("purchase", data), Publish("purchase", data)]


def feed(s: Session, conn: str, ev: Event, now: float, timing: Timing) -> list[Action]:
    """Apply one event to the session; return the effects to carry out."""
    match ev:
        case Connect(hello=h):
            return _connect(s, conn, h, now, timing)
        case Disconnect():
            return _disconnect(s, [conn], now, timing)
        case InstanceGone(instance=inst):
            return _disconnect(s, [c for c in s.sockets if c.split(".", 1)[0] == inst], now, timing)
        case Timer(kind=kind):
            return _timer(s, kind, now, timing)
        case p.Act(depth=depth):
            if depth is not None and depth > s.scroll_depth:
                s.scroll_depth = depth
            return _touch(s, now, timing)
        case p.PageMsg(page=page):
            _set_page(s, page, now)
            return _touch(s, now, timing)
        case p.Cart():
            s.cart_items = [asdict(i) for i in ev.items]
            s.cart_total = round(ev.total, 2)
            s.cart_count = sum(i.qty for i in ev.items)
            s.currency = ev.currency
            return _touch(s, now, timing)
        case p.Vis(hidden=hidden):
            if conn in s.sockets:
                was_hidden = all(s.sockets.values())
                s.sockets[conn] = hidden
                if hidden and not was_hidden and all(s.sockets.values()):
                    s.hidden_since = now
                elif was_hidden and not hidden:
                    s.hidden_for = now - (s.hidden_since if s.hidden_since is not None else now)
                    s.hidden_since = None
            return [] if hidden else _touch(s, now, timing)
        case p.Exit(how=how):
            s.exits += 1
            s.last_exit = how
            return [Publish("exit", {"how": how})]
        case p.Purchase():
            return _purchase(s, ev, now)
        case p.Email() | LeadEmail():
            return []  # whether it becomes a lead is core/leads.py's call, under the site's consent mode
        case p.Push() | p.PopupEv():
            return [Record(RECORD_KIND[type(ev)], {"sid": s.sid, "vid": s.vid, "at": now, **asdict(ev)})]
        case p.Hello():
            return []  # a second hello on the same socket changes nothing
    return []  # pragma: no cover - every Event type is matched above


ENGAGING = (p.Cart, p.Purchase, p.Email, LeadEmail, p.Push, p.PopupEv)


def engage(s: Session, ev: Event) -> list[Action]:
    """The first thing that shows a shopper, not a bot saying hello and moving the mouse, keeps the
    visitor's record (see Engage): a second page, a cart, a purchase, an email, push, a popup."""
    if s.engaged or not (isinstance(ev, ENGAGING) or (isinstance(ev, p.PageMsg) and s.pages >= 2)):
        return []
    s.engaged = True
    return [Engage()]
