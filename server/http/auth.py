"""Who may call the API and for which site: per-site bearer tokens, the ?site= of a request, and
query parameters checked the same way everywhere."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from ..config import ApiToken
from ..live import Live
from .errors import ApiError, log


async def _token(request: Request) -> ApiToken:
    """The caller's token: one of [[api.tokens]], or one made in the admin (kept only as a hash)."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented and len(presented) <= 200:
        found = None
        for t in request.app.state.cfg.api.tokens:  # compare with every token: no early exit on a match
            if hmac.compare_digest(presented.encode(), t.token.encode()):
                found = t
        if found is not None:
            return found
        made = await request.app.state.live.store.users.token(hashlib.sha256(presented.encode()).hexdigest())
        if made is not None:
            return ApiToken(token="", sites=tuple(made["sites"]), name=made["name"])
    raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>' with a token from [[api.tokens]] or "
                   "one made in the admin")


def site_param(request: Request) -> str:
    """The ?site= of a request: a configured site that the caller's token may use."""
    site = request.query_params.get("site", "")
    if site not in request.app.state.cfg.sites:
        raise ApiError(400, "bad_site", f"unknown site {site[:64]!r}: pass ?site=<a key from [[sites]]>", "site")
    token: ApiToken = request.state.token
    if not token.allows(site):
        log.warning("api: token %r may not use site %r (%s %s)", token.name, site, request.method, request.url.path)
        raise ApiError(403, "forbidden", f"this token may not use site {site!r}", "site")
    return site


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = lo - 1
    if not lo <= value <= hi:
        raise ApiError(400, f"bad_{name}", f"{name} must be an integer between {lo} and {hi}", name)
    return value


Handler = Callable[[Request], Awaitable[Response]]


def guard(handler: Handler) -> Handler:
    """Only callers with a token from [[api.tokens]] get through; changes are logged with its name."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        request.state.token = token = await _token(request)
        if request.method not in ("GET", "HEAD"):
            log.info("api: %s %s %s", token.name, request.method, request.url.path)
        return await handler(request)

    return checked


def live_of(request: Request) -> Live:
    live: Live = request.app.state.live
    return live
