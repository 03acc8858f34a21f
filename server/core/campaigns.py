"""Campaigns: the model and its validation. Pure: no I/O.

`parse_campaign(obj)` turns a JSON/TOML object into a frozen `Campaign` or raises
`CampaignError` naming the exact field (`variants[0].content.headline`). `Campaign.to_dict()`
gives back the canonical form that the API returns and export writes.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from typing import Any

from .urls import is_url
from .vocab import CAMPAIGN_KINDS, CAMPAIGN_STATUSES, EXIT_HOWS, LAYOUTS, PAGE_KINDS, PER, PLACEMENTS

KINDS, STATUSES = CAMPAIGN_KINDS, CAMPAIGN_STATUSES
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?\Z")


class CampaignError(ValueError):
    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field
        self.msg = msg


@dataclass(frozen=True, slots=True)
class Trigger:
    delay_s: float | None = None  # seconds after arriving on the page
    time_on_site_s: float | None = None  # seconds after the session started
    scroll_pct: int | None = None  # scrolled this far down the page (0-100)
    exit: tuple[str, ...] = ()  # exit intents that show it (armed in advance)
    idle_s: float | None = None  # cart/checkout without activity for this long
    pages_min: int | None = None  # page views this session
    tab_return_s: float | None = None  # back on the tab after it was hidden this long


@dataclass(frozen=True, slots=True)
class Target:
    url_include: tuple[str, ...] = ()
    url_exclude: tuple[str, ...] = ()
    page_kinds: tuple[str, ...] = ()
    visitor: str = "any"  # any | new | returning
    visits_min: int | None = None
    visits_max: int | None = None
    device: str = "any"  # any | mobile | desktop
    referrer_contains: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    lang: tuple[str, ...] = ()
    cart_total_min: float | None = None
    cart_total_max: float | None = None
    cart_count_min: int | None = None
    cart_count_max: int | None = None
    temperature: tuple[str, ...] = ()
    has_email: bool | None = None


@dataclass(frozen=True, slots=True)
class Frequency:
    per: str = "session"  # page | session | days | ever
    days: float = 1.0
    max_impressions: int | None = None
    stop_after_close: bool = True
    stop_after_conversion: bool = True


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    weight: float
    layout: str
    content: dict[str, Any]
    style: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    kind: str
    status: str
    variants: tuple[Variant, ...]
    priority: int = 0
    start: float | None = None
    end: float | None = None
    trigger: Trigger = field(default_factory=Trigger)
    target: Target = field(default_factory=Target)
    frequency: Frequency = field(default_factory=Frequency)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["variants"] = [asdict(v) for v in self.variants]
        return d

    def live_at(self, now: float) -> bool:
        return (self.status == "live" and (self.start is None or now >= self.start)
                and (self.end is None or now < self.end))


# ---------------------------------------------------------------- field readers


class _R:
    """Reads one object, naming fields by their path for errors."""

    def __init__(self, obj: Any, path: str, known: tuple[str, ...]) -> None:
        if not isinstance(obj, dict):
            raise CampaignError(path or "campaign", "must be an object")
        for k in obj:
            if k not in known:
                raise CampaignError(self._p(path, k), f"unknown field (known: {', '.join(known)})")
        self.o, self.path = obj, path

    @staticmethod
    def _p(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def f(self, key: str) -> str:
        return self._p(self.path, key)

    def has(self, key: str) -> bool:
        return self.o.get(key) is not None

    def text(self, key: str, max_len: int, default: str | None = None, pattern: re.Pattern[str] | None = None,
            choices: tuple[str, ...] = ()) -> str:
        v = self.o.get(key, default)
        if v is None:
            raise CampaignError(self.f(key), "is required")
        if not isinstance(v, str):
            raise CampaignError(self.f(key), "must be a string")
        if len(v) > max_len:
            raise CampaignError(self.f(key), f"must be at most {max_len} characters")
        if choices and v not in choices:
            raise CampaignError(self.f(key), f"must be one of {', '.join(choices)}")
        if pattern and not pattern.match(v):
            raise CampaignError(self.f(key), "has the wrong form")
        return v

    def number(self, key: str, lo: float, hi: float) -> float | None:
        v = self.o.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise CampaignError(self.f(key), f"must be a number from {lo:g} to {hi:g}")
        return float(v)

    def integer(self, key: str, lo: int, hi: int) -> int | None:
        v = self.o.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise CampaignError(self.f(key), f"must be an integer from {lo} to {hi}")
        return v

    def flag(self, key: str, default: bool | None) -> bool | None:
        v = self.o.get(key, default)
        if v is not None and not isinstance(v, bool):
            raise CampaignError(self.f(key), "must be true or false")
        return v

    def texts(self, key: str, max_len: int = 200, choices: tuple[str, ...] = ()) -> tuple[str, ...]:
        v = self.o.get(key, [])
        if not isinstance(v, (list, tuple)) or len(v) > 50:
            raise CampaignError(self.f(key), "must be a list of at most 50 strings")
        for n, x in enumerate(v):
            if not isinstance(x, str) or not x or len(x) > max_len:
                raise CampaignError(f"{self.f(key)}[{n}]", f"must be a non-empty string of at most {max_len} "
                                    "characters")
            if choices and x not in choices:
                raise CampaignError(f"{self.f(key)}[{n}]", f"must be one of {', '.join(choices)}")
        return tuple(v)

    def sub(self, key: str, known: tuple[str, ...]) -> _R:
        return _R(self.o.get(key) or {}, self.f(key), known)


def _url(r: _R, key: str) -> str:
    v = r.text(key, 2048, default="")
    if v and not is_url(v):
        raise CampaignError(r.f(key), "must be an http(s) URL or a path starting with one / (no spaces or "
                            "backslashes)")
    return v


def _content(r: _R) -> dict[str, Any]:
    c = r.sub("content", ("headline", "body", "image", "cta", "code", "form", "button", "later"))
    out: dict[str, Any] = {"headline": c.text("headline", 200)}
    out["body"] = c.text("body", 1000, default="")
    out["image"] = _url(c, "image")
    out["code"] = c.text("code", 40, default="")
    if c.has("button") or c.has("later"):  # a push prompt's two buttons
        out["button"] = c.text("button", 40, default="Turn on notifications")
        out["later"] = c.text("later", 40, default="Not now")
    if c.has("cta"):
        cta = c.sub("cta", ("label", "url"))
        out["cta"] = {"label": cta.text("label", 60), "url": _url(cta, "url")}
    if c.has("form"):
        form = c.sub("form", ("email", "consent_label", "button"))
        out["form"] = {"email": bool(form.flag("email", True)),
                       "consent_label": form.text("consent_label", 300, default=""),
                       "button": form.text("button", 40, default="Subscribe")}
    return out


def _style(r: _R) -> dict[str, Any]:
    s = r.sub("style", ("placement", "bg", "fg", "accent", "width"))
    out: dict[str, Any] = {"placement": s.text("placement", 20, default="center", choices=PLACEMENTS)}
    for key, default in (("bg", "#ffffff"), ("fg", "#1d2320"), ("accent", "#1f3b2d")):
        out[key] = s.text(key, 7, default=default, pattern=COLOR_RE)
    out["width"] = s.integer("width", 200, 1200) or 420
    return out


def _variants(r: _R) -> tuple[Variant, ...]:
    raw = r.o.get("variants")
    if not isinstance(raw, list) or not 1 <= len(raw) <= 10:
        raise CampaignError("variants", "must be a list of 1 to 10 variants")
    out: list[Variant] = []
    for n, v in enumerate(raw):
        vr = _R(v, f"variants[{n}]", ("id", "weight", "layout", "content", "style"))
        vid = vr.text("id", 64, default=chr(ord("a") + n), pattern=ID_RE)
        if any(x.id == vid for x in out):
            raise CampaignError(vr.f("id"), f"{vid!r} is used twice")
        weight = vr.number("weight", 0, 1_000_000)
        out.append(Variant(id=vid, weight=1.0 if weight is None else weight,
                           layout=vr.text("layout", 10, default="modal", choices=LAYOUTS),
                           content=_content(vr), style=_style(vr)))
    if sum(v.weight for v in out) <= 0:
        raise CampaignError("variants", "at least one variant needs a weight above 0")
    return tuple(out)


TOP = ("id", "name", "kind", "status", "priority", "start", "end", "trigger", "target", "frequency", "variants")


def parse_campaigns_toml(text: str) -> list[Campaign]:
    """A TOML document with [[campaigns]] tables (export/import and seed files)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CampaignError("file", f"is not valid TOML: {e}") from None
    raw = doc.get("campaigns")
    if not isinstance(raw, list):
        raise CampaignError("campaigns", "the file must hold [[campaigns]] tables")
    out: list[Campaign] = []
    for n, obj in enumerate(raw):
        try:
            c = parse_campaign(obj)
        except CampaignError as e:
            raise CampaignError(f"campaigns[{n}].{e.field}", e.msg) from None
        if any(x.id == c.id for x in out):
            raise CampaignError(f"campaigns[{n}].id", f"{c.id!r} is used twice")
        out.append(c)
    return out


def parse_target(g: _R) -> Target:
    return Target(
        url_include=g.texts("url_include"), url_exclude=g.texts("url_exclude"),
        page_kinds=g.texts("page_kinds", choices=PAGE_KINDS),
        visitor=g.text("visitor", 10, default="any", choices=("any", "new", "returning")),
        visits_min=g.integer("visits_min", 1, 1_000_000), visits_max=g.integer("visits_max", 1, 1_000_000),
        device=g.text("device", 10, default="any", choices=("any", "mobile", "desktop")),
        referrer_contains=g.text("referrer_contains", 200, default=""),
        utm_source=g.text("utm_source", 200, default=""), utm_medium=g.text("utm_medium", 200, default=""),
        utm_campaign=g.text("utm_campaign", 200, default=""), lang=g.texts("lang", 35),
        cart_total_min=g.number("cart_total_min", 0, 1e9), cart_total_max=g.number("cart_total_max", 0, 1e9),
        cart_count_min=g.integer("cart_count_min", 0, 100_000), cart_count_max=g.integer("cart_count_max", 0, 100_000),
        temperature=g.texts("temperature", choices=("cold", "warm", "hot")), has_email=g.flag("has_email", None),
    )


def target_from(obj: Any, path: str) -> Target:
    """A targeting block on its own (the site's nudge uses one)."""
    return parse_target(_R(obj or {}, path, tuple(Target.__dataclass_fields__)))


def parse_campaign(obj: Any, cid: str | None = None) -> Campaign:
    r = _R(obj, "", TOP)
    t = r.sub("trigger", ("delay_s", "time_on_site_s", "scroll_pct", "exit", "idle_s", "pages_min", "tab_return_s"))
    trigger = Trigger(delay_s=t.number("delay_s", 0, 86_400), time_on_site_s=t.number("time_on_site_s", 0, 86_400),
                      scroll_pct=t.integer("scroll_pct", 1, 100), exit=t.texts("exit", choices=EXIT_HOWS),
                      idle_s=t.number("idle_s", 0.05, 86_400), pages_min=t.integer("pages_min", 1, 10_000),
                      tab_return_s=t.number("tab_return_s", 0, 86_400))
    if trigger == Trigger():
        raise CampaignError("trigger", "needs at least one of delay_s, time_on_site_s, scroll_pct, exit, idle_s, "
                            "pages_min, tab_return_s")
    target = parse_target(r.sub("target", tuple(Target.__dataclass_fields__)))
    q = r.sub("frequency", ("per", "days", "max_impressions", "stop_after_close", "stop_after_conversion"))
    freq = Frequency(per=q.text("per", 10, default="session", choices=PER), days=q.number("days", 0.001, 3650) or 1.0,
                     max_impressions=q.integer("max_impressions", 1, 1_000_000),
                     stop_after_close=bool(q.flag("stop_after_close", True)),
                     stop_after_conversion=bool(q.flag("stop_after_conversion", True)))
    start, end = r.number("start", 0, 1e11), r.number("end", 0, 1e11)
    if start is not None and end is not None and end <= start:
        raise CampaignError("end", "must be after start")
    return Campaign(
        id=cid or r.text("id", 64, pattern=ID_RE), name=r.text("name", 200),
        kind=r.text("kind", 20, choices=KINDS), status=r.text("status", 10, default="draft", choices=STATUSES),
        priority=r.integer("priority", -1000, 1000) or 0, start=start, end=end,
        trigger=trigger, target=target, frequency=freq, variants=_variants(r),
    )


