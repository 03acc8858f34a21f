"""Abandonment alerts and the outbound webhook events a session event makes. Pure.

- `alert.raised`: a cart of at least the site's `alert_cart_total` goes idle at checkout, or leaves.
- `cart.abandoned`: a session with a cart leaves without buying.
- `purchase`, `lead.captured`: passed through.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

from .session import Session

WEBHOOK_EVENTS = ("lead.captured", "cart.abandoned", "alert.raised", "purchase")



def outbound(event: str, data: dict[str, Any], s: Session, alert_total: float,
             now: float) -> list[tuple[str, dict[str, Any]]]:
    """The webhook events (name, payload) for one published session event."""
    base = {"site": s.site, "sid": s.sid, "vid": s.vid, "email": s.email or None,
            "consent": {"given": s.email_consent} if s.email else None, "at": now}
    out: list[tuple[str, dict[str, Any]]] = []
    if event == "idle" and s.page_kind == "checkout" and s.cart_count > 0 and s.cart_total >= alert_total:
        out.append(("alert.raised", {**base, "reason": "idle_at_checkout", "cart": s.cart(),
                                     "page": {"url": s.page_url, "kind": s.page_kind}}))
    elif event == "left" and s.cart_count > 0 and not s.converted:
        out.append(("cart.abandoned", {**base, "cart": s.cart(), "page": {"url": s.page_url, "kind": s.page_kind}}))
        if s.cart_total >= alert_total:
            out.append(("alert.raised", {**base, "reason": "left_with_cart", "cart": s.cart(),
                                         "page": {"url": s.page_url, "kind": s.page_kind}}))
    elif event == "purchase":
        out.append(("purchase", {**base, "order": data.get("order"), "total": data.get("total"),
                                 "currency": data.get("currency")}))
    elif event == "lead.captured":
        out.append(("lead.captured", {**base, "email": data.get("email"), "source": data.get("source"),
                                      "consent": data.get("consent"), "cart": s.cart(),
                                      "temperature": s.temperature}))
    return out


def delivery_id(url: str, site: str, vid: str, cause: str, event: str) -> str:
    """Derived from what caused it (site, visitor, the client message id or timer that fired), so a
    retried or repeated write queues the same delivery and a receiver can deduplicate on it. The
    first part is the endpoint's, so the worker can tell endpoints apart without loading it."""
    rest = hashlib.sha256("\0".join((site, vid, cause, event, url)).encode()).hexdigest()[:24]
    return f"{endpoint_of_url(url)}-{rest}"


def endpoint_of_url(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:8]


def endpoint_of(did: str) -> str:
    return did.partition("-")[0]


def make_delivery(did: str, site: str, url: str, event: str, payload: dict[str, Any], now: float,
                  vid: str = "") -> dict[str, Any]:
    body = orjson.dumps({"id": did, "event": event, "created": now, "data": payload}).decode()
    return {"id": did, "site": site, "vid": vid, "url": url, "event": event, "body": body, "attempts": 0,
            "created": now, "last": None}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Linger-Signature` header: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - t) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, t, body), f"t={t},v1={parts.get('v1', '')}")


def next_attempt(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after `attempts` failed tries: exponential, capped."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))
