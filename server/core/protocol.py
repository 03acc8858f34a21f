"""Parsing and validation of widget frames (PROTOCOL.md v1). Pure: no I/O.

`parse(data)` turns one text frame into a typed message or raises `BadMessage`
with a precise, shopper-safe reason. Nothing here trusts the client: every
string is length-capped, every number checked finite and in range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from .messages import (
    WIRE_TYPE,
    Act,
    Cart,
    Email,
    Exit,
    Hello,
    Item,
    Message,
    Page,
    PageMsg,
    PopupEv,
    Purchase,
    Push,
    Vis,
)
from .urls import is_url
from .vocab import EMAIL_SOURCES, EXIT_HOWS, PAGE_KINDS, POPUP_EVENTS, PUSH_STATES

__all__ = ["WIRE_TYPE", "Act", "BadMessage", "Cart", "Email", "Exit", "Hello", "Item", "Message", "Page", "PageMsg",
           "PopupEv", "Purchase", "Push", "Vis", "frame_id", "parse"]


MAX_URL = 2048
MAX_TEXT = 512
MAX_ITEMS = 100
MAX_ID = 64
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
CURRENCY_RE = re.compile(r"^[A-Z]{3}\Z")
B64URL_RE = re.compile(r"^[A-Za-z0-9_\-]{1,256}={0,2}\Z")
MAX_MONEY = 1e9


class BadMessage(Exception):
    """A frame that fails validation. `ref` is the frame's `id` when it had one."""

    def __init__(self, reason: str, ref: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ref = ref




# ---------------------------------------------------------------- field helpers


def _str(obj: dict[str, Any], key: str, *, max_len: int = MAX_TEXT, required: bool = True,
         default: str = "") -> str:
    if key not in obj or obj[key] is None:
        if required:
            raise BadMessage(f"missing field '{key}'")
        return default
    val = obj[key]
    if not isinstance(val, str):
        raise BadMessage(f"field '{key}' must be a string")
    if len(val) > max_len:
        raise BadMessage(f"field '{key}' is longer than {max_len} characters")
    return val


def _choice(obj: dict[str, Any], key: str, choices: tuple[str, ...], *, required: bool = True,
            default: str = "") -> str:
    val = _str(obj, key, max_len=32, required=required, default=default)
    if val not in choices:
        raise BadMessage(f"field '{key}' must be one of {', '.join(choices)}")
    return val


def _bool(obj: dict[str, Any], key: str, default: bool = False) -> bool:
    val = obj.get(key, default)
    if val is None:
        return default
    if not isinstance(val, bool):
        raise BadMessage(f"field '{key}' must be true or false")
    return val


def _num(obj: dict[str, Any], key: str, *, lo: float = 0.0, hi: float = MAX_MONEY) -> float:
    val = obj.get(key)
    if isinstance(val, bool) or not isinstance(val, (int, float)):
        raise BadMessage(f"field '{key}' must be a number")
    fval = float(val)
    if not math.isfinite(fval) or fval < lo or fval > hi:
        raise BadMessage(f"field '{key}' must be between {lo:g} and {hi:g}")
    return fval


def _int(obj: dict[str, Any], key: str, *, lo: int = 0, hi: int = 100_000, default: int | None = None) -> int:
    val = obj.get(key, default)
    if isinstance(val, bool) or not isinstance(val, int):
        raise BadMessage(f"field '{key}' must be an integer")
    if val < lo or val > hi:
        raise BadMessage(f"field '{key}' must be between {lo} and {hi}")
    return val


def _obj(obj: dict[str, Any], key: str) -> dict[str, Any]:
    val = obj.get(key)
    if not isinstance(val, dict):
        raise BadMessage(f"field '{key}' must be an object")
    return val


def _url(obj: dict[str, Any], key: str, *, required: bool = True) -> str:
    val = _str(obj, key, max_len=MAX_URL, required=required)
    if val and not is_url(val):
        raise BadMessage(f"field '{key}' must be an http(s) URL or a path starting with one '/' "
                         "(no spaces or backslashes)")
    return val


def _msg_id(obj: dict[str, Any]) -> str:
    val = obj.get("id")
    if not isinstance(val, str) or not ID_RE.match(val):
        raise BadMessage("field 'id' must be 1-64 characters of A-Z a-z 0-9 _ -")
    return val


def _opt_id(obj: dict[str, Any], key: str) -> str | None:
    val = obj.get(key)
    if val is None:
        return None
    if not isinstance(val, str) or not ID_RE.match(val):
        return None  # wrong shape: the server mints a fresh one (PROTOCOL.md, Identity)
    return val


def _currency(obj: dict[str, Any]) -> str:
    """A 3-letter code, or "" when absent or empty: the site's default currency is used then."""
    val = _str(obj, "currency", max_len=3, required=False)
    if val and not CURRENCY_RE.match(val):
        raise BadMessage("field 'currency' must be a 3-letter ISO 4217 code like EUR")
    return val


def parse_page(obj: dict[str, Any]) -> Page:
    p = _obj(obj, "page")
    return Page(
        url=_url(p, "url"),
        title=_str(p, "title", required=False),
        ref=_url(p, "ref", required=False),
        kind=_choice(p, "kind", PAGE_KINDS, required=False, default="other"),
    )


# ---------------------------------------------------------------- per type


def _hello(o: dict[str, Any]) -> Hello:
    v = o.get("v")
    if v != 1:
        raise BadMessage("unsupported protocol version: field 'v' must be 1")
    screen = o.get("screen") or {}
    if not isinstance(screen, dict):
        raise BadMessage("field 'screen' must be an object")
    return Hello(
        vid=_opt_id(o, "vid"),
        sid=_opt_id(o, "sid"),
        page=parse_page(o),
        screen_w=_int(screen, "w", default=0),
        screen_h=_int(screen, "h", default=0),
        touch=_bool(screen, "touch"),
        lang=_str(o, "lang", max_len=35, required=False),
        tz=_str(o, "tz", max_len=64, required=False),
        gpc=_bool(o, "gpc"),
        push=_choice(o, "push", PUSH_STATES, required=False, default="default"),
        preview=_preview(o),
    )


def _preview(o: dict[str, Any]) -> str:
    token = _str(o, "preview", max_len=64, required=False)
    if token and not re.fullmatch(r"[A-Za-z0-9_\-]{16,64}", token):
        raise BadMessage("field 'preview' must be a preview token")
    return token


def _cart(o: dict[str, Any]) -> Cart:
    raw = o.get("items")
    if not isinstance(raw, list):
        raise BadMessage("field 'items' must be a list")
    if len(raw) > MAX_ITEMS:
        raise BadMessage(f"a cart holds at most {MAX_ITEMS} items")
    items = []
    for n, it in enumerate(raw):
        if not isinstance(it, dict):
            raise BadMessage(f"items[{n}] must be an object")
        try:
            if isinstance(it.get("id"), int) and not isinstance(it.get("id"), bool):
                it = {**it, "id": str(it["id"])}  # numeric ids are common; the protocol's are strings
            items.append(Item(
                id=_str(it, "id", max_len=128),
                name=_str(it, "name", required=False),
                price=_num(it, "price"),
                qty=_int(it, "qty", lo=1, hi=10_000),
                url=_url(it, "url", required=False),
                image=_url(it, "image", required=False),
            ))
        except BadMessage as e:
            raise BadMessage(f"items[{n}]: {e.reason}") from None
    return Cart(items=tuple(items), total=_num(o, "total"), currency=_currency(o))


def _email(o: dict[str, Any]) -> Email:
    return Email(id=_msg_id(o), email=_str(o, "email", max_len=254),
                 source=_choice(o, "source", EMAIL_SOURCES), field=_str(o, "field", max_len=128, required=False),
                 consent=_bool(o, "consent"), submitted=_bool(o, "submitted"),
                 consent_text=_str(o, "consent_text", max_len=300, required=False))


def _push(o: dict[str, Any]) -> Push:
    mid = _msg_id(o)
    if o.get("state") == "denied":
        return Push(id=mid, denied=True)
    sub = _obj(o, "sub")
    endpoint = _url(sub, "endpoint")
    if not endpoint.startswith(("https://", "http://")):
        raise BadMessage("field 'endpoint' must be an absolute URL")
    expires = sub.get("expirationTime")
    if expires is not None:
        expires = _num(sub, "expirationTime", hi=1e15)
    keys = _obj(sub, "keys")
    p256dh = _str(keys, "p256dh", max_len=256)
    auth = _str(keys, "auth", max_len=64)
    if not B64URL_RE.match(p256dh) or not B64URL_RE.match(auth):
        raise BadMessage("fields 'keys.p256dh' and 'keys.auth' must be base64url")
    return Push(id=mid, sub={"endpoint": endpoint, "expirationTime": expires,
                             "keys": {"p256dh": p256dh, "auth": auth}})


def _popup(o: dict[str, Any]) -> PopupEv:
    return PopupEv(id=_msg_id(o), cid=_str(o, "cid", max_len=MAX_ID), var=_str(o, "var", max_len=MAX_ID),
                   ev=_choice(o, "ev", POPUP_EVENTS))


def _purchase(o: dict[str, Any]) -> Purchase:
    return Purchase(id=_msg_id(o), order=_str(o, "order", max_len=128), total=_num(o, "total"),
                    currency=_currency(o))


_PARSERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "hello": _hello,
    "page": lambda o: PageMsg(parse_page(o)),
    "cart": _cart,
    "act": lambda o: Act(depth=None if o.get("depth") is None else _int(o, "depth", lo=0, hi=100)),
    "vis": lambda o: Vis(hidden=_choice(o, "state", ("hidden", "visible")) == "hidden"),
    "exit": lambda o: Exit(how=_choice(o, "how", EXIT_HOWS)),
    "email": _email,
    "push": _push,
    "popup": _popup,
    "purchase": _purchase,
}




def frame_id(data: str | bytes) -> str | None:
    """The `id` of a frame that will not be parsed (rate-limited), so the client knows which one."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    mid = obj.get("id") if isinstance(obj, dict) else None
    return mid if isinstance(mid, str) and ID_RE.match(mid) else None


def parse(data: str | bytes) -> Message:
    """Parse one inbound frame. Raises BadMessage (with `ref` set when the frame had an id)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BadMessage("frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise BadMessage("frame must be a JSON object")
    ref = obj.get("id") if isinstance(obj.get("id"), str) else None
    ref = ref[:MAX_ID] if ref else None
    t = obj.get("t")
    parser = _PARSERS.get(t) if isinstance(t, str) else None
    if parser is None:
        raise BadMessage("unknown message type" if isinstance(t, str) else "missing field 't'", ref)
    try:
        return parser(obj)
    except BadMessage as e:
        e.ref = ref
        raise
