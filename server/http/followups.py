"""Follow-up links and API: /f/c/TOKEN (a click: counted, then to the cart), /f/u/TOKEN (unsubscribe:
GET shows a button, POST unsubscribes at once, as RFC 8058 one-click asks), /sw.js (the push worker the
merchant's one-line file imports) and GET /api/v1/followups (per-step stats, pending, log)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ..services import followups as service
from .auth import guard, live_of, site_param
from .errors import json

ROOT = Path(__file__).resolve().parents[2]
templates = Jinja2Templates(directory=ROOT / "templates")  # autoescaped: a shop's name is text, never markup
HEADERS = {"cache-control": "no-store", "referrer-policy": "no-referrer",
           "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                      "frame-ancestors 'none'"}


def _page(request: Request, title: str, message: str, status: int = 200, ask: bool = False) -> Response:
    return templates.TemplateResponse(request, "followups/page.html", {"title": title, "message": message, "ask": ask},
                                      status_code=status, headers=HEADERS)


BAD_LINK = ("This link is not valid", "It may have been cut off. Copy the whole link from the email.")


async def click(request: Request) -> Response:
    live = live_of(request)
    data = request.app.state.signer.loads("click", request.path_params["token"])
    if not isinstance(data, dict) or data.get("s") not in live.cfg.sites:
        return _page(request, *BAD_LINK, status=404)
    target = await service.click(live, data, live.clock())
    return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store",
                                                              "referrer-policy": "no-referrer"})


async def unsubscribe(request: Request) -> Response:
    live = live_of(request)
    token = request.path_params["token"]
    data = request.app.state.signer.loads("unsub", token)
    if not isinstance(data, dict) or data.get("s") not in live.cfg.sites or not isinstance(data.get("e"), str):
        return _page(request, *BAD_LINK, status=404)
    shop = live.cfg.sites[data["s"]].name
    if request.method == "GET":  # link scanners fetch links: a GET never unsubscribes
        return _page(request, "Unsubscribe?", f"Stop emails about your cart from {shop}?", ask=True)
    await service.unsubscribe(live, data["s"], data["e"], str(data.get("n", "")), live.clock())
    return _page(request, "You are unsubscribed", f"You will get no more emails about your cart from {shop}.")


async def service_worker(request: Request) -> Response:
    return FileResponse(ROOT / "static" / "sw.js", media_type="application/javascript",
                        headers={"cache-control": "no-cache"})


@guard
async def overview(request: Request) -> Response:
    site = site_param(request)
    return json({"site": site, **await service.overview(live_of(request), site)})
