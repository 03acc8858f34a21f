"""Sending one web push: pywebpush's async path (aes128gcm), a VAPID JWT from the data directory's
key, and every header set explicitly: pywebpush's default TTL of 0 would make the push service drop
the message for any browser that is offline at that moment.

Only https endpoints on `push.allowed_hosts` are contacted (a loopback `host:port` entry may be
plain http, for local stand-ins), and redirects are never followed: an endpoint is a stranger's URL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from pywebpush import WebPusher

from ..core.admit import push_endpoint_allowed
from ..vapid import VapidKey

JWT_LIFETIME_S = 12 * 3600  # at most 24 h (RFC 8292); 12 h leaves room for clock skew


@dataclass(frozen=True)
class Outcome:
    status: int  # HTTP status, or 0 when no answer came
    detail: str
    retry_after: float | None = None
    ambiguous: bool = False  # the request went out but no answer came: perhaps delivered


class _NoRedirects:
    """What WebPusher calls `post` on: the shared aiohttp session, never following redirects."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def post(self, url: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.session.post(url, allow_redirects=False, **kw)


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class Pusher:
    def __init__(self, key: VapidKey, sub_claim: str, allowed_hosts: tuple[str, ...], timeout_s: float) -> None:
        self.key, self.sub_claim, self.allowed, self.timeout = key, sub_claim, allowed_hosts, timeout_s
        self.session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def headers(self, endpoint: str, ttl: int, urgency: str, topic: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + JWT_LIFETIME_S,
                  "sub": self.sub_claim}
        return {**self.key.vapid.sign(claims), "ttl": str(ttl), "urgency": urgency, "topic": topic}

    async def send(self, sub: dict[str, Any], payload: dict[str, Any], ttl: int, urgency: str,
                   topic: str) -> Outcome:
        endpoint = sub.get("endpoint", "")
        if not push_endpoint_allowed(endpoint, self.allowed):
            return Outcome(0, "endpoint not on push.allowed_hosts")
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        pusher = WebPusher({"endpoint": endpoint, "keys": sub["keys"]},
                           aiohttp_session=_NoRedirects(self.session))  # type: ignore[arg-type]
        try:
            resp = await pusher.send_async(orjson.dumps(payload), self.headers(endpoint, ttl, urgency, topic),
                                           ttl=ttl, content_encoding="aes128gcm", timeout=self.timeout)
        except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as e:  # never reached the service: not sent
            return Outcome(0, f"{type(e).__name__}: {e}"[:300])
        except (aiohttp.ClientError, OSError, TimeoutError) as e:  # sent, or perhaps sent: no answer
            return Outcome(0, f"{type(e).__name__}: {e}"[:300], ambiguous=True)
        assert not isinstance(resp, str)
        body = await resp.text(errors="replace")  # already read by pywebpush: no second trip
        resp.release()
        return Outcome(resp.status, f"HTTP {resp.status} {body[:200]}".strip(),
                       _retry_after(resp.headers.get("retry-after")))
