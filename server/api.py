"""The /api/v1 edge: errors raised and rendered once, per-site bearer tokens, the session read API,
/healthz and /metrics.

Every handler raises `ApiError`; one exception handler renders `{"error": {code, msg, field}}`.
Every route names its site (`?site=`); a token only opens the sites it lists, and a record of
another site answers 404 as if it did not exist.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .config import ApiToken
from .core.session import Session
from .live import Live

log = logging.getLogger("linger.api")


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, msg: str, field: str | None = None) -> None:
        super().__init__(status, msg)
        self.code, self.msg, self.field = code, msg, field


def json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def render_error(request: Request, exc: Exception) -> Response:
    """The one place errors become responses: JSON under /api, Starlette's plain text elsewhere."""
    assert isinstance(exc, HTTPException)
    if not isinstance(exc, ApiError):
        if not request.url.path.startswith("/api/"):
            return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        exc = ApiError(exc.status_code, code, str(exc.detail))
    body: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
    if exc.field is not None:
        body["field"] = exc.field
    headers = {"www-authenticate": "Bearer"} if exc.status_code == 401 else None
    return Response(orjson.dumps({"error": body}), status_code=exc.status_code, media_type="application/json",
                    headers=headers)


async def render_unavailable(request: Request, exc: Exception) -> Response:
    """Redis failed under a request: a JSON 503 the caller can retry, never a traceback."""
    log.error("%s %s: redis: %s", request.method, request.url.path, exc)
    return await render_error(request, ApiError(503, "unavailable", "storage is unavailable right now; try again "
                                                "shortly"))


def _token(request: Request) -> ApiToken:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented:
        found = None
        for t in request.app.state.cfg["api.tokens"]:  # compare with every token: no early exit on a match
            if hmac.compare_digest(presented.encode(), t.token.encode()):
                found = t
        if found is not None:
            return found
    raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>' with a token from [[api.tokens]]")


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
        request.state.token = token = _token(request)
        if request.method not in ("GET", "HEAD"):
            log.info("api: %s %s %s", token.name, request.method, request.url.path)
        return await handler(request)

    return checked


def live_of(request: Request) -> Live:
    live: Live = request.app.state.live
    return live


@guard
async def list_sessions(request: Request) -> Response:
    site = site_param(request)
    limit = int_param(request, "limit", 500, 1, 5000)
    live = live_of(request)
    sids = await live.store.live_sids(site, limit)
    out = [live.sessions[sid].view() for sid in sids if sid in live.sessions]
    rest = [s for s in sids if s not in live.sessions]
    out += [Session.from_dict(d).view() for d in await live.store.load_sessions(rest)]
    out.sort(key=lambda v: v["last_act"], reverse=True)
    return json({"site": site, "count": len(out), "sessions": out})


@guard
async def get_session(request: Request) -> Response:
    site = site_param(request)
    sid = request.path_params["sid"]
    live = live_of(request)
    sess = live.sessions.get(sid)
    if sess is None and len(sid) <= 64:
        raw = await live.store.load_session(sid)
        sess = Session.from_dict(raw) if raw else None
    if sess is None or sess.site != site:  # another site's session does not exist for this caller
        raise ApiError(404, "not_found", "no such session on this site (it may have ended)")
    return json(sess.view())


async def healthz(request: Request) -> Response:
    live = live_of(request)
    store = live.store
    reachable = await store.ping()
    writing = reachable and not store.writer.failing and await store.probe_write()  # full or read-only is down
    fsyncing = not store.writer.not_fsyncing
    ok = writing and fsyncing
    state = "up" if ok else ("down" if not reachable else "refusing writes" if not writing else "not fsyncing")
    body = {"ok": ok, "redis": state,
            "instance": live.instance, "connections": sum(len(s) for s in live.sockets.values()),
            "problems": live.health.problems()}
    return json(body, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
