"""Who a campaign is for and when it may show: targeting, frequency caps and triggers. Pure."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from . import protocol as p
from .campaigns import Campaign, Target, Trigger
from .session import IDLE_KINDS, Event, Session

DAY = 86_400.0


def utm(url: str) -> dict[str, str]:
    try:
        q = parse_qs(urlsplit(url).query)
    except ValueError:
        return {}
    return {k: v[0] for k, v in q.items() if k.startswith("utm_") and v}


def targets(t: Target, s: Session) -> bool:
    url = s.page_url
    if t.url_include and not any(pat in url for pat in t.url_include):
        return False
    if any(pat in url for pat in t.url_exclude):
        return False
    if t.page_kinds and s.page_kind not in t.page_kinds:
        return False
    if (t.visitor == "new" and s.returning) or (t.visitor == "returning" and not s.returning):
        return False
    if (t.visits_min is not None and s.visit < t.visits_min) or (t.visits_max is not None and s.visit > t.visits_max):
        return False
    if t.device != "any" and s.device != t.device:
        return False
    if t.referrer_contains and t.referrer_contains not in s.referrer:
        return False
    if t.utm_source or t.utm_medium or t.utm_campaign:
        u = utm(s.landing)
        for key, want in (("utm_source", t.utm_source), ("utm_medium", t.utm_medium),
                          ("utm_campaign", t.utm_campaign)):
            if want and u.get(key) != want:
                return False
    if t.lang and not any(s.lang.lower().startswith(x.lower()) for x in t.lang):
        return False
    if t.cart_total_min is not None and s.cart_total < t.cart_total_min:
        return False
    if t.cart_total_max is not None and s.cart_total > t.cart_total_max:
        return False
    if t.cart_count_min is not None and s.cart_count < t.cart_count_min:
        return False
    if t.cart_count_max is not None and s.cart_count > t.cart_count_max:
        return False
    if t.temperature and s.temperature not in t.temperature:
        return False
    return t.has_email is None or t.has_email == s.has_email


def capped(c: Campaign, s: Session, now: float) -> bool:
    """True when frequency rules forbid showing `c` now."""
    f = c.frequency
    n, last, closed, converted = (list(s.hist.get(c.id) or ()) + [0, 0.0, 0, 0])[:4]
    if f.max_impressions is not None and n >= f.max_impressions:
        return True
    if f.stop_after_close and closed:
        return True
    if f.stop_after_conversion and (converted or s.converted):
        return True
    if f.per == "page":
        return c.id in s.page_shown
    if f.per == "session":
        return s.shown.get(c.id, 0) > 0
    if f.per == "days":
        return n > 0 and now - last < f.days * DAY
    return n > 0  # ever


def eligible(c: Campaign, s: Session, now: float) -> bool:
    """Live, targeted at this shopper and not capped; a push prompt only while the browser has not
    been asked (permission "default": not granted, denied or unsupported)."""
    if c.kind == "push_prompt" and s.push != "default":
        return False
    return c.live_at(now) and targets(c.target, s) and not capped(c, s, now)


def triggered(c: Campaign, s: Session, ev: Event, now: float) -> bool:
    """Every non-exit trigger of `c` holds now (a campaign with none never shows by itself)."""
    t = c.trigger
    if (t.delay_s is None and t.time_on_site_s is None and t.scroll_pct is None and t.idle_s is None
            and t.pages_min is None and t.tab_return_s is None):
        return False
    if not _waited(t, s, now):
        return False
    if t.idle_s is not None and not (s.page_kind in IDLE_KINDS and now - s.last_act >= t.idle_s):
        return False
    if t.pages_min is not None and s.pages < t.pages_min:
        return False
    if t.tab_return_s is not None and not (isinstance(ev, p.Vis) and not ev.hidden
                                           and s.hidden_for >= t.tab_return_s):
        return False
    return True


def _waited(t: Trigger, s: Session, now: float) -> bool:
    """The time- and scroll-based preconditions: long enough on the page and site, scrolled far enough."""
    if t.delay_s is not None and now < s.page_at + t.delay_s:
        return False
    if t.time_on_site_s is not None and now < s.started + t.time_on_site_s:
        return False
    return t.scroll_pct is None or s.scroll_depth >= t.scroll_pct


def _next_due(c: Campaign, s: Session, now: float) -> float | None:
    t = c.trigger
    due = []
    if t.delay_s is not None and now < s.page_at + t.delay_s:
        due.append(s.page_at + t.delay_s)
    if t.time_on_site_s is not None and now < s.started + t.time_on_site_s:
        due.append(s.started + t.time_on_site_s)
    if t.idle_s is not None and s.page_kind in IDLE_KINDS and now < s.last_act + t.idle_s:
        due.append(s.last_act + t.idle_s)
    return max(due) if due else None
