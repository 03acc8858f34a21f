"""Builders shared by the unit tests of the core: one place for the timing, hello, cart, session
and campaign shapes the tables use."""

from __future__ import annotations

from typing import Any

import orjson

from server.core import protocol as p
from server.core.actions import Send
from server.core.campaigns import parse_campaign
from server.core.rules import SiteRules, decide
from server.core.session import Connect, Session, Timer, Timing, feed, new_session

T = Timing(idle_after=60, leave_grace=30, session_timeout=1800)


def as_dict(msg: object) -> dict[str, Any]:
    """An outbound message as the widget receives it."""
    return orjson.loads(orjson.dumps(msg))  # type: ignore[no-any-return]


def page(kind: str, url: str | None = None) -> p.Page:
    return p.Page(url=url or f"https://s.example/{kind}", kind=kind)


def hello(kind: str = "home", url: str = "https://s.example/", touch: bool = False, lang: str = "en-GB",
          ref: str = "", w: int | None = None) -> Connect:
    return Connect(p.Hello(vid=None, sid=None, page=p.Page(url=url, kind=kind, ref=ref),
                           screen_w=w or (390 if touch else 1280), touch=touch, lang=lang))


def cart(*qtys: int) -> p.Cart:
    items = tuple(p.Item(id=str(n), name="x", price=10.0, qty=q) for n, q in enumerate(qtys))
    return p.Cart(items=items, total=10.0 * sum(qtys), currency="EUR")


def camp(cid: str = "c1", kind: str = "custom", trigger: dict[str, Any] | None = None,
         target: dict[str, Any] | None = None, frequency: dict[str, Any] | None = None, **kw: Any) -> Any:
    return parse_campaign({
        "id": cid, "name": cid, "kind": kind, "status": kw.pop("status", "live"),
        "trigger": trigger or {"delay_s": 5}, "target": target or {}, "frequency": frequency or {},
        "variants": kw.pop("variants", [{"content": {"headline": f"hi {cid}"}}]), **kw,
    })


def session(visit: int = 1, **hello_kw: Any) -> Session:
    s = new_session("sid", "vid-1", "demo", visit, 0.0)
    feed(s, "a", hello(**hello_kw), 0.0, T)
    return s


def run(rules: SiteRules, s: Session, ev: Any, now: float) -> list[Any]:
    return feed(s, "a", ev, now, T) + decide(rules, s, ev, now)


def popups(acts: list[Any]) -> list[str]:
    return [a.msg.cid for a in acts if isinstance(a, Send) and a.msg.t == "popup"]  # type: ignore[union-attr]


def show(rules: SiteRules, s: Session, now: float) -> list[str]:
    return popups(decide(rules, s, Timer("camp"), now))
