"""HTTP errors, raised and rendered once: handlers raise `ApiError`; one handler renders every
HTTPException as `{"error": {code, msg, field}}` under /api (plain text elsewhere), and one turns
a Redis failure into a JSON 503."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

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
        if request.url.path.startswith(("/admin", "/ops")):
            from .admin.pages import error_page

            return await error_page(request, exc.status_code, str(exc.detail))
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


async def render_crash(request: Request, exc: Exception) -> Response:
    """A bug (an unhandled exception): logged by the server; the response says nothing of it, and pages
    of the consoles keep their strict headers even then."""
    from .admin.session import HEADERS

    log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    if request.url.path.startswith("/api/"):
        return Response(orjson.dumps({"error": {"code": "internal", "msg": "something went wrong on our side"}}),
                        status_code=500, media_type="application/json")
    headers = HEADERS if request.url.path.startswith(("/admin", "/ops")) else None
    return Response("Something went wrong on our side. It has been logged.", status_code=500,
                    media_type="text/plain", headers=headers)
