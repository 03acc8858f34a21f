"""The campaign editor's form: every field of the campaign model as a named input ("trigger.delay_s",
"variants.0.content.headline"), read back into the JSON the model parses. Validation is the model's
own (core/campaigns.py): its field-precise errors ("variants[0].content.headline: ...") are shown
next to the input of the same path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from ...core.vocab import CAMPAIGN_KINDS, CAMPAIGN_STATUSES, EXIT_HOWS, LAYOUTS, PAGE_KINDS, PER, PLACEMENTS


@dataclass(frozen=True)
class Field:
    path: str  # "trigger.delay_s"; in variants, relative to the variant ("content.headline")
    label: str
    kind: str = "text"  # text | textarea | number | int | bool | tristate | choice | list | color | when
    help: str = ""
    choices: tuple[str, ...] = ()


CAMPAIGN = (
    ("Campaign", (
        Field("name", "Name", help="Only you see it."),
        Field("kind", "Kind", "choice", choices=tuple(CAMPAIGN_KINDS)),
        Field("status", "Status", "choice", choices=tuple(CAMPAIGN_STATUSES)),
        Field("priority", "Priority", "int", "Higher goes first when two campaigns could show at once."),
        Field("start", "Starts", "when", "Empty: at once. Your browser's time zone is not used: UTC."),
        Field("end", "Ends", "when", "Empty: never."),
    )),
    ("When it shows (at least one)", (
        Field("trigger.delay_s", "Seconds on the page", "number"),
        Field("trigger.time_on_site_s", "Seconds on the site", "number"),
        Field("trigger.scroll_pct", "Scrolled down (%)", "int"),
        Field("trigger.exit", "On exit intent", "list", "One per line: " + ", ".join(EXIT_HOWS)),
        Field("trigger.idle_s", "Idle at cart or checkout (seconds)", "number"),
        Field("trigger.pages_min", "After this many pages", "int"),
        Field("trigger.tab_return_s", "Back on the tab after (seconds away)", "number"),
    )),
    ("Who sees it", (
        Field("target.page_kinds", "Page kinds", "list", "One per line: " + ", ".join(PAGE_KINDS)),
        Field("target.url_include", "URL contains", "list", "One per line; empty: every page."),
        Field("target.url_exclude", "URL does not contain", "list"),
        Field("target.visitor", "Visitors", "choice", choices=("any", "new", "returning")),
        Field("target.device", "Device", "choice", choices=("any", "mobile", "desktop")),
        Field("target.visits_min", "Visits at least", "int"),
        Field("target.visits_max", "Visits at most", "int"),
        Field("target.cart_total_min", "Cart total at least", "number"),
        Field("target.cart_total_max", "Cart total at most", "number"),
        Field("target.cart_count_min", "Items in the cart at least", "int"),
        Field("target.cart_count_max", "Items in the cart at most", "int"),
        Field("target.temperature", "Temperature", "list", "One per line: cold, warm, hot"),
        Field("target.has_email", "Known email", "tristate"),
        Field("target.referrer_contains", "Came from a page containing"),
        Field("target.utm_source", "utm_source is"),
        Field("target.utm_medium", "utm_medium is"),
        Field("target.utm_campaign", "utm_campaign is"),
        Field("target.lang", "Languages", "list", "Prefixes, one per line, e.g. en or de-AT"),
    )),
    ("How often", (
        Field("frequency.per", "Once per", "choice", choices=tuple(PER)),
        Field("frequency.days", "Days (for once per days)", "number"),
        Field("frequency.max_impressions", "At most this many times per visitor", "int"),
        Field("frequency.stop_after_close", "Stop after the shopper closes it", "bool"),
        Field("frequency.stop_after_conversion", "Stop after the shopper buys", "bool"),
    )),
)

VARIANT = (
    Field("id", "Variant id"),
    Field("weight", "Weight", "number", "Share of shoppers: weights are relative."),
    Field("layout", "Layout", "choice", choices=tuple(LAYOUTS)),
    Field("content.headline", "Headline"),
    Field("content.body", "Text", "textarea"),
    Field("content.image", "Image URL"),
    Field("content.code", "Discount code"),
    Field("content.cta.label", "Button label"),
    Field("content.cta.url", "Button link"),
    Field("content.form.email", "Ask for an email address", "bool"),
    Field("content.form.consent_label", "Consent text", "textarea", "Shown next to the consent box."),
    Field("content.form.button", "Form button"),
    Field("content.button", "Push prompt: allow button", help="Push prompts only."),
    Field("content.later", "Push prompt: later button", help="Push prompts only."),
    Field("style.placement", "Placement", "choice", choices=tuple(PLACEMENTS)),
    Field("style.bg", "Background", "color"),
    Field("style.fg", "Text colour", "color"),
    Field("style.accent", "Accent", "color"),
    Field("style.width", "Width (px)", "int"),
)


def get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def _put(obj: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        obj = obj.setdefault(p, {})
    obj[last] = value


def _number(raw: str, integer: bool) -> Any:
    try:
        return int(raw) if integer else float(raw)
    except ValueError:
        return raw  # the model says what is wrong with it, next to the field


def read(form: FormData, field: Field, name: str, out: dict[str, Any], path: str) -> None:
    """One input back into the campaign JSON, as typed: text keeps its spaces (only an empty field
    means "not set"), line breaks come back as browsers send them (CRLF) and are stored as LF."""
    given = str(form.get(name, "")).replace("\r\n", "\n")
    raw = given.strip()
    if field.kind == "bool":
        _put(out, path, name in form)
    elif field.kind == "tristate":
        if raw in ("yes", "no"):
            _put(out, path, raw == "yes")
    elif not raw:
        return  # left empty: the model's default
    elif field.kind in ("number", "int"):
        _put(out, path, _number(raw, field.kind == "int"))
    elif field.kind == "list":  # one per line: values may hold commas (a URL's query)
        _put(out, path, [x for x in given.split("\n") if x.strip()])
    elif field.kind == "when":
        _put(out, path, _when(raw))
    else:
        _put(out, path, given)


def _when(raw: str) -> Any:
    """A datetime-local value (UTC) as epoch seconds; anything else goes to the model as it is."""
    import calendar
    import time

    whole, _, fraction = raw.partition(".")
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            seconds = float(calendar.timegm(time.strptime(whole, fmt)))
        except ValueError:
            continue
        return seconds + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)
    return raw


def campaign_from(form: FormData, cid: str) -> dict[str, Any]:
    """The campaign JSON the form describes (its variants as many as the form has)."""
    out: dict[str, Any] = {"id": cid}
    for _, fields in CAMPAIGN:
        for f in fields:
            read(form, f, f.path, out, f.path)
    variants = []
    n = 0
    while f"variants.{n}.id" in form:
        v: dict[str, Any] = {}
        for f in VARIANT:
            read(form, f, f"variants.{n}.{f.path}", v, f.path)
        if f"variants.{n}.content.form.present" not in form and \
                not str(form.get(f"variants.{n}.content.form.consent_label", "")).strip() and \
                not v.get("content", {}).get("form", {}).get("email"):
            v.get("content", {}).pop("form", None)  # no form asked for
        cta = v.get("content", {}).get("cta")
        if cta is not None and not cta:
            v["content"].pop("cta")
        if f"variants.{n}.remove" not in form:
            variants.append(v)
        n += 1
    out["variants"] = variants
    return out


def error_path(field: str) -> str:
    """The model's "variants[0].content.headline" as the form's "variants.0.content.headline"; an item
    of a list ("target.page_kinds[1]") is the list's own input."""
    path = re.sub(r"\[(\d+)\]", r".\1", field).lstrip(".")
    return re.sub(r"^((?:trigger|target)\.\w+)\.\d+$", r"\1", path)


def value(camp: dict[str, Any], path: str, kind: str) -> str:
    """What an input shows for the stored value."""
    v = get(camp, path)
    if v is None:
        return ""
    if kind == "list":
        return "\n".join(str(x) for x in v)
    if kind == "when":
        import time

        t = float(v)
        shown = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
        return shown + (f"{t % 1:.3f}"[1:] if t % 1 else "")
    if kind == "number" and isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _luminance(hex_color: str) -> float | None:
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", h):
        return None
    out = []
    for i in (0, 2, 4):
        v = int(h[i:i + 2], 16) / 255
        out.append(v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4)
    return 0.2126 * out[0] + 0.7152 * out[1] + 0.0722 * out[2]


def contrast(a: str, b: str) -> float | None:
    """The WCAG contrast ratio of two colours (1 to 21), or None if either is not #rgb/#rrggbb."""
    la, lb = _luminance(a), _luminance(b)
    if la is None or lb is None:
        return None
    hi, lo = max(la, lb), min(la, lb)
    return round((hi + 0.05) / (lo + 0.05), 2)


def readability(style: dict[str, Any]) -> list[tuple[str, float, bool]]:
    """(what, ratio, readable at 4.5:1) for a variant's text on its background and its buttons' text on
    the accent (white or near-black, whichever the widget picks: the better one)."""
    bg, fg, accent = style.get("bg") or "#ffffff", style.get("fg") or "#1d2320", style.get("accent") or "#1f3b2d"
    out = []
    text = contrast(fg, bg)
    if text is not None:
        out.append(("Text on background", text, text >= 4.5))
    on = [x for x in (contrast("#ffffff", accent), contrast("#111111", accent)) if x is not None]
    if on:
        out.append(("Button text on accent", max(on), max(on) >= 4.5))
    return out
