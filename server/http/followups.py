"""Follow-up links and API: /f/c/TOKEN (a click: counted, then to the cart), /f/u/TOKEN (unsubscribe:
GET shows a button, POST unsubscribes at once, as RFC 8058 one-click asks), /sw.js (the push worker the
merchant's one-line file imports) and GET /api/v1/followups (per-step stats, pending, log)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ..services import followups as service
from .auth import guard, live_of, site_param
from .errors import json

ROOT = Path(__file__).resolve().parents[2]
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width"><meta name="robots" content="noindex"><title>{title}</title><style>
body{{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;
color:#1c1c1a;line-height:1.5}}button{{font:inherit;padding:.6rem 1.1rem;border:0;border-radius:6px;background:#1c1c1a;
color:#fff;cursor:pointer}}</style></head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title, body=body), status_code=status,
                        headers={"cache-control": "no-store", "referrer-policy": "no-referrer",
                                 "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                 "form-action 'self'; frame-ancestors 'none'"})


BAD_LINK = ("This link is not valid", "<p>It may have been cut off. Copy the whole link from the email.</p>")


async def click(request: Request) -> Response:
    live = live_of(request)
    data = request.app.state.signer.loads("click", request.path_params["token"])
    if not isinstance(data, dict) or data.get("s") not in live.cfg.sites:
        return _page(*BAD_LINK, status=404)
    target = await service.click(live, data, live.clock())
    return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store",
                                                              "referrer-policy": "no-referrer"})


async def unsubscribe(request: Request) -> Response:
    live = live_of(request)
    token = request.path_params["token"]
    data = request.app.state.signer.loads("unsub", token)
    if not isinstance(data, dict) or data.get("s") not in live.cfg.sites or not isinstance(data.get("e"), str):
        return _page(*BAD_LINK, status=404)
    shop = live.cfg.sites[data["s"]].name
    if request.method == "GET":  # link scanners fetch links: a GET never unsubscribes
        return _page("Unsubscribe?", f"<p>Stop emails about your cart from {_esc(shop)}?</p>"
                     f'<form method="post"><button type="submit">Unsubscribe</button></form>')
    await service.unsubscribe(live, data["s"], data["e"], str(data.get("n", "")), live.clock())
    return _page("You are unsubscribed", f"<p>You will get no more emails about your cart from {_esc(shop)}.</p>")


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)


async def service_worker(request: Request) -> Response:
    return FileResponse(ROOT / "static" / "sw.js", media_type="application/javascript",
                        headers={"cache-control": "no-cache"})


@guard
async def overview(request: Request) -> Response:
    site = site_param(request)
    return json({"site": site, **await service.overview(live_of(request), site)})
