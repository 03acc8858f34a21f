"""What a site lets in: a parsed frame, checked and cleaned against the site's settings. Pure.

`admit(msg, policy)` returns the message as it will be applied (page URLs trimmed and kept only
on the site's origins, foreign item links dropped, the site's currency filled in) or raises
`BadMessage` for what the site refuses (a push endpoint off the allow-list).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import protocol as p
from .urls import clean_item_url, clean_page_url, host_allowed, split

LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True, slots=True)
class SitePolicy:
    origins: tuple[str, ...]
    currency: str = "EUR"
    image_hosts: tuple[str, ...] = ()  # CDN hosts item images may come from, besides the origins
    keep_params: tuple[str, ...] = ()  # page URL query parameters kept besides utm_*
    push_hosts: tuple[str, ...] = ()  # push services a subscription endpoint may be on


def push_endpoint_allowed(endpoint: str, hosts: tuple[str, ...]) -> bool:
    """https on an allow-listed host (`host`, `*.suffix`, or `host:port`); plain http only for a
    loopback `host:port` entry (a local stand-in)."""
    parts = split(endpoint)
    if parts is None or not parts.origin:
        return False
    scheme, _, hostport = parts.origin.partition("://")
    port = hostport[len(parts.host):].lstrip(":")
    for entry in hosts:
        host_pat, port_pat = _host_port(entry.lower())
        if port_pat != port:
            continue
        if not host_allowed(parts.host, (host_pat,)):
            continue
        if scheme == "https" or (port_pat and host_pat in LOOPBACK):
            return True
    return False


def _host_port(entry: str) -> tuple[str, str]:
    if entry.startswith("["):  # [v6]:port
        host, _, rest = entry.partition("]")
        return host + "]", rest.lstrip(":")
    host, _, port = entry.partition(":")
    return host, port


def _page(page: p.Page, pol: SitePolicy) -> p.Page:
    """The page is the shop's own: a URL on another host keeps only its path (so alerts and webhooks
    never relay a stranger's link). The referrer may be anywhere, trimmed the same way."""
    url = clean_page_url(page.url, pol.keep_params)
    parts = split(url) if url else None
    if parts is not None and parts.origin and parts.origin not in pol.origins:
        url = "/" + url[len(parts.origin):].lstrip("/")  # one slash: "//host" would be a host again
    return dataclasses.replace(page, url=url, ref=clean_page_url(page.ref, pol.keep_params))


def _item(it: p.Item, pol: SitePolicy) -> p.Item:
    url = clean_item_url(it.url, pol.origins)
    image = clean_item_url(it.image, pol.origins, pol.image_hosts)
    return it if (url, image) == (it.url, it.image) else dataclasses.replace(it, url=url, image=image)


def admit(msg: p.Message, pol: SitePolicy) -> p.Message:
    match msg:
        case p.Hello(page=page):
            return dataclasses.replace(msg, page=_page(page, pol))
        case p.PageMsg(page=page):
            return p.PageMsg(_page(page, pol))
        case p.Cart(items=items, currency=currency):
            return dataclasses.replace(msg, items=tuple(_item(i, pol) for i in items),
                                       currency=currency or pol.currency)
        case p.Purchase(currency=currency):
            return msg if currency else dataclasses.replace(msg, currency=pol.currency)
        case p.Push(sub=sub) if sub is not None:
            if not push_endpoint_allowed(sub["endpoint"], pol.push_hosts):
                raise p.BadMessage("push endpoint is not on a push service this server sends to "
                                   "(push.allowed_hosts)", msg.id)
            return msg
    return msg
