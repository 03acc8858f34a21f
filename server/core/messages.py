"""The typed messages a widget sends (PROTOCOL.md v1 and its extensions). Pure data: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    title: str = ""
    ref: str = ""
    kind: str = "other"


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    name: str
    price: float
    qty: int
    url: str = ""
    image: str = ""


@dataclass(frozen=True, slots=True)
class Hello:
    vid: str | None
    sid: str | None
    page: Page
    screen_w: int = 0
    screen_h: int = 0
    touch: bool = False
    lang: str = ""
    tz: str = ""
    gpc: bool = False
    push: str = "default"
    preview: str = ""  # a merchant's "preview on my store" token: show that draft to this browser only


@dataclass(frozen=True, slots=True)
class PageMsg:
    page: Page


@dataclass(frozen=True, slots=True)
class Cart:
    items: tuple[Item, ...]
    total: float
    currency: str


@dataclass(frozen=True, slots=True)
class Act:
    depth: int | None = None  # extension: deepest scroll on this page so far, percent


@dataclass(frozen=True, slots=True)
class Vis:
    hidden: bool


@dataclass(frozen=True, slots=True)
class Exit:
    how: str


@dataclass(frozen=True, slots=True)
class Email:
    id: str
    email: str
    source: str
    field: str
    consent: bool
    submitted: bool = False  # extension: the shopper submitted the form (not just typed)
    consent_text: str = ""  # extension: the consent wording the shopper saw


@dataclass(frozen=True, slots=True)
class Push:
    id: str
    sub: dict[str, Any] | None = None
    denied: bool = False


@dataclass(frozen=True, slots=True)
class PopupEv:
    id: str
    cid: str
    var: str
    ev: str


@dataclass(frozen=True, slots=True)
class Purchase:
    id: str
    order: str
    total: float
    currency: str
    extra: dict[str, Any] = field(default_factory=dict)


Message = Hello | PageMsg | Cart | Act | Vis | Exit | Email | Push | PopupEv | Purchase


WIRE_TYPE: dict[type, str] = {Hello: "hello", PageMsg: "page", Cart: "cart", Act: "act", Vis: "vis", Exit: "exit",
                              Email: "email", Push: "push", PopupEv: "popup", Purchase: "purchase"}
