"""The demo storefront at /demo: a small plausible shop used by merchants trying Linger and by the
browser tests. Its cart lives in localStorage (static/demo/shop.js) and is reported through the widget API."""

from __future__ import annotations

import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

ROOT = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=ROOT / "templates")

CATEGORIES = {
    "shoes": "Shoes",
    "bags": "Bags",
    "accessories": "Accessories",
}
PRODUCTS = [
    {"id": "42", "name": "Red runner", "price": 89.0, "cat": "shoes", "color": "#d64545",
     "blurb": "A light everyday running shoe with a breathable knit upper."},
    {"id": "43", "name": "Trail boot", "price": 139.0, "cat": "shoes", "color": "#7a5c3e",
     "blurb": "Waterproof leather boot with a grippy outsole for muddy paths."},
    {"id": "44", "name": "Canvas sneaker", "price": 54.0, "cat": "shoes", "color": "#3e7ad6",
     "blurb": "The classic low-top, in organic cotton canvas."},
    {"id": "51", "name": "Weekend tote", "price": 120.0, "cat": "bags", "color": "#2f8f6b",
     "blurb": "Roomy waxed-canvas tote that fits a weekend away."},
    {"id": "52", "name": "City backpack", "price": 98.0, "cat": "bags", "color": "#444b5a",
     "blurb": "A slim 18 l backpack with a padded laptop sleeve."},
    {"id": "61", "name": "Wool beanie", "price": 24.0, "cat": "accessories", "color": "#c58b2a",
     "blurb": "Soft merino beanie, knitted in Portugal."},
    {"id": "62", "name": "Leather belt", "price": 45.0, "cat": "accessories", "color": "#5a3a22",
     "blurb": "Full-grain leather belt with a brass buckle."},
    {"id": "63", "name": "Sport socks (3 pack)", "price": 15.0, "cat": "accessories", "color": "#8a8f99",
     "blurb": "Cushioned cotton socks that stay up."},
]
BY_ID = {p["id"]: p for p in PRODUCTS}


def _page(request: Request, name: str, kind: str, title: str, status: int = 200, **ctx: object) -> Response:
    site = next(iter(request.app.state.cfg.sites))
    nonce = secrets.token_urlsafe(12)
    resp = templates.TemplateResponse(request, f"demo/{name}.html", {
        "kind": kind, "title": title, "site": site, "categories": CATEGORIES, "nonce": nonce, **ctx,
    }, status_code=status)
    if request.query_params.get("csp") == "strict":
        # what a careful shop sends: no inline script or style except its own nonce'd snippet
        resp.headers["content-security-policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'")
    return resp


async def home(request: Request) -> Response:
    return _page(request, "home", "home", "Linger Demo Shop", products=PRODUCTS[:6])


async def category(request: Request) -> Response:
    slug = request.path_params["slug"]
    if slug not in CATEGORIES:
        return _page(request, "notfound", "other", "Not found", 404)
    items = [p for p in PRODUCTS if p["cat"] == slug]
    return _page(request, "category", "category", CATEGORIES[slug], products=items, slug=slug)


async def product(request: Request) -> Response:
    prod = BY_ID.get(request.path_params["pid"])
    if prod is None:
        return _page(request, "notfound", "other", "Not found", 404)
    return _page(request, "product", "product", prod["name"], p=prod)


async def cart(request: Request) -> Response:
    return _page(request, "cart", "cart", "Your cart")


async def checkout(request: Request) -> Response:
    return _page(request, "checkout", "checkout", "Checkout")


async def thanks(request: Request) -> Response:
    return _page(request, "thanks", "thanks", "Thank you")


async def image(request: Request) -> Response:
    prod = BY_ID.get(request.path_params["pid"])
    color = prod["color"] if prod else "#999999"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300"><rect width="400" height="300" '
           f'fill="{color}"/><circle cx="200" cy="150" r="80" fill="#ffffff" fill-opacity=".25"/></svg>')
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "public, max-age=3600"})


async def widget_js(request: Request) -> Response:
    return FileResponse(ROOT / "static" / "widget.js", media_type="text/javascript",
                        headers={"cache-control": "public, max-age=300"})


async def favicon(request: Request) -> Response:
    return FileResponse(ROOT / "static" / "demo" / "favicon.svg", media_type="image/svg+xml")


async def worker_file(request: Request) -> Response:
    """The one-line file a shop hosts at its own origin (here the demo shop's), importing Linger's worker."""
    return Response('importScripts("/sw.js");\n', media_type="application/javascript",
                    headers={"cache-control": "no-cache"})


def routes() -> list[Route]:
    return [
        Route("/", lambda r: Response(status_code=307, headers={  # keeps ?linger_preview= and the like
            "location": "/demo" + (f"?{r.url.query}" if r.url.query else "")})),
        Route("/demo", home),
        Route("/demo/c/{slug}", category),
        Route("/demo/p/{pid}", product),
        Route("/demo/cart", cart),
        Route("/demo/checkout", checkout),
        Route("/demo/thanks", thanks),
        Route("/demo/img/{pid}.svg", image),
        Route("/favicon.ico", favicon),
        Route("/linger-sw.js", worker_file),
    ]
