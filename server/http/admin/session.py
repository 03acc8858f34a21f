"""Signed-in people: a signed cookie naming a server-side login session (HttpOnly, SameSite=Lax, Secure
over https; the session ends after admin.idle_timeout_s without a request, or at sign-out), a CSRF
token per session checked on every state-changing request together with the Origin, and strict
security headers on every page (CSP without inline script, no framing, nosniff)."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, Signer
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...services.accounts import password_mark

COOKIE = "linger_session"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; connect-src 'self'; "
       "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "x-frame-options": "DENY",
           "referrer-policy": "same-origin", "cache-control": "no-store"}
Handler = Callable[[Request], Awaitable[Response]]


class ConsoleHeaders:
    """Strict headers on every response under /admin and /ops, whoever made it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/admin", "/ops")):
            await self.app(scope, receive, send)
            return

        framed = scope["path"] == "/admin/preview"  # the editor's preview frame: framed by our own pages only

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in HEADERS.items():
                    headers[k] = v
                if framed:
                    headers["content-security-policy"] = CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
                    headers["x-frame-options"] = "SAMEORIGIN"
            await send(message)

        await self.app(scope, receive, with_headers)


def _signer(request: Request) -> Signer:
    return Signer(request.app.state.signer.secret, salt="linger-session")


async def start(request: Request, user: dict[str, Any], to: str) -> Response:
    sid = secrets.token_urlsafe(24)
    cfg = request.app.state.cfg
    await request.app.state.live.store.users.open_session(
        sid, {"email": user["email"], "csrf": secrets.token_urlsafe(24), "pw": password_mark(user)},
        cfg.admin.idle_timeout_s)
    resp = RedirectResponse(to, status_code=303)
    resp.set_cookie(COOKIE, _signer(request).sign(sid).decode(), httponly=True, samesite="lax", path="/",
                    secure=request.url.scheme == "https")
    return resp


async def end(request: Request) -> Response:
    sid = _sid(request)
    if sid:
        await request.app.state.live.store.users.close_session(sid)
    resp = RedirectResponse("/admin/login?signed_out=1", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


def _sid(request: Request) -> str | None:
    raw = request.cookies.get(COOKIE, "")
    if not raw or len(raw) > 200:
        return None
    try:
        return _signer(request).unsign(raw).decode()
    except BadSignature:
        return None


async def current(request: Request) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The signed-in account and its login session, or None."""
    sid = _sid(request)
    store = request.app.state.live.store
    sess = await store.users.session(sid, request.app.state.cfg.admin.idle_timeout_s) if sid else None
    if sess is None:
        return None
    user = await store.users.get(sess["email"])
    if user is None or sess.get("pw") != password_mark(user):  # gone, or its password changed since
        return None
    return user, sess


def same_origin(request: Request) -> bool:
    """A state-changing request must come from our own pages (Origin, else Referer, must match)."""
    origin = request.headers.get("origin") or request.headers.get("referer", "")
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own or origin.startswith(own + "/")


def signed_in(handler: Handler) -> Handler:
    """Pages for signed-in people: others go to the sign-in form. POSTs must carry the session's CSRF
    token and come from our own origin."""

    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        found = await current(request)
        if found is None:
            if request.method != "GET":
                raise HTTPException(403, "Your session has ended. Sign in again.")
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/admin/login?next={quote(here)}", status_code=303)
        user, sess = found
        if request.method not in ("GET", "HEAD"):
            form = await request.form(max_files=0, max_fields=2000)  # forms here never carry files
            token = str(form.get("csrf") or request.headers.get("x-csrf-token", ""))
            if not same_origin(request) or not hmac.compare_digest(token.encode(), sess["csrf"].encode()):
                raise HTTPException(403, "This form has expired or did not come from this page. Reload and try "
                                         "again.")
        request.state.user, request.state.csrf = user, sess["csrf"]
        return await handler(request)

    return wrapper
