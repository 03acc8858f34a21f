"""Read API (/api/v1, bearer tokens from [api] tokens), /healthz and /metrics."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .core.session import Session
from .live import Live


def json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def problem(status: int, code: str, msg: str) -> Response:
    return json({"error": {"code": code, "msg": msg}}, status)


def site_param(request: Request) -> str | Response:
    """The ?site= of a request, or the 400 answer when it names no configured site."""
    site = request.query_params.get("site", "")
    if site not in request.app.state.cfg.sites:
        return problem(400, "bad_site", f"unknown site {site[:64]!r}: pass ?site=<a key from [[sites]]>")
    return site


def _authorized(request: Request) -> bool:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    tokens: tuple[str, ...] = request.app.state.cfg["api.tokens"]
    return any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens)


Handler = Callable[[Request], Awaitable[Response]]


def guard(handler: Handler) -> Handler:
    """Only callers with a bearer token from [api] tokens get through."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        if not _authorized(request):
            return problem(401, "unauthorized",
                           "send 'Authorization: Bearer <token>' with a token from [api] tokens")
        return await handler(request)

    return checked


@guard
async def list_sessions(request: Request) -> Response:
    site = site_param(request)
    if isinstance(site, Response):
        return site
    try:
        limit = int(request.query_params.get("limit", "500"))
        if not 1 <= limit <= 5000:
            raise ValueError
    except ValueError:
        return problem(400, "bad_limit", "limit must be an integer between 1 and 5000")
    live: Live = request.app.state.live
    sids = await live.store.live_sids(site, limit)
    out = []
    for sid in sids:
        if sid in live.sessions:
            out.append(live.sessions[sid].view())
    rest = [s for s in sids if s not in live.sessions]
    out += [Session.from_dict(d).view() for d in await live.store.load_sessions(rest)]
    out.sort(key=lambda v: v["last_act"], reverse=True)
    return json({"site": site, "count": len(out), "sessions": out})


@guard
async def get_session(request: Request) -> Response:
    sid = request.path_params["sid"]
    live: Live = request.app.state.live
    sess = live.sessions.get(sid)
    if sess is None:
        raw = await live.store.load_session(sid) if len(sid) <= 64 else None
        if raw is None:
            return problem(404, "not_found", "no such session (it may have ended)")
        sess = Session.from_dict(raw)
    return json(sess.view())


async def healthz(request: Request) -> Response:
    live: Live = request.app.state.live
    ok = await live.store.ping()
    return json({"ok": ok, "redis": "up" if ok else "down", "instance": live.instance,
                 "connections": sum(len(s) for s in live.sockets.values())}, 200 if ok else 503)


async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")
