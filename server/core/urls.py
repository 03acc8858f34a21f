"""URLs from the widget: what is kept of them, and which ones may travel onwards. Pure.

The widget is not trusted, so the server applies these again after the widget did:
- Page URLs (`page.url`, `page.ref`, the landing page) keep scheme, host, port and path, plus
  `utm_*` and the site's `keep_query_params`. Fragments and every other query parameter (reset
  tokens, `?key=wc_order_…`, OAuth codes) are dropped before anything is stored, shown or sent.
- Cart item `url` and `image` are relative paths or on the site's `origins` (images also on its
  `image_hosts`); anything else is dropped, so alerts and webhooks cannot relay a stranger's link.
- A relative URL starts with one `/`: `//evil.example` and `/\\evil.example` are other hosts to a
  browser and are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

# scheme://host[:port] then the rest; no userinfo, no backslash, no whitespace or control characters
_ABS = re.compile(r"(https?)://([A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?([/?#][^\s\\]*)?", re.ASCII)
_REL = re.compile(r"/(?![/\\])[^\s\\]*", re.ASCII)
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True, slots=True)
class Parts:
    origin: str  # "https://shop.example:8443", "" for a relative URL
    host: str  # lower-cased host, "" for a relative URL
    path: str
    query: str
    fragment: str


def split(url: str) -> Parts | None:
    """The parts of an absolute http(s) URL or a relative path, or None when it is neither."""
    if _BAD_CHARS.search(url):
        return None
    m = _ABS.fullmatch(url)
    if m:
        scheme, host, port, rest = m.group(1), m.group(2).lower(), m.group(3) or "", m.group(4) or ""
        origin = f"{scheme}://{host}{port}"
    elif _REL.fullmatch(url):
        origin, host, rest = "", "", url
    else:
        return None
    rest, _, fragment = rest.partition("#")
    path, _, query = rest.partition("?")
    return Parts(origin, host, path, query, fragment)


def is_url(url: str) -> bool:
    """An absolute http(s) URL or a path starting with exactly one slash."""
    return split(url) is not None


def clean_page_url(url: str, keep: tuple[str, ...] = ()) -> str:
    """Scheme, host and path, plus utm_* and the `keep` query parameters; never the fragment."""
    parts = split(url)
    if parts is None:
        return ""
    out = parts.origin + (parts.path or ("/" if parts.origin else ""))
    if parts.query:
        kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k.startswith("utm_") or k in keep]
        if kept:
            out += "?" + urlencode(kept)
    return out


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """`host` matches one of `patterns`: an exact host, or `*.example.com` for its subdomains."""
    for pat in patterns:
        pat = pat.lower()
        if pat.startswith("*."):
            if host.endswith(pat[1:]) and len(host) > len(pat) - 1:
                return True
        elif host == pat:
            return True
    return False


def clean_item_url(url: str, origins: tuple[str, ...], hosts: tuple[str, ...] = ()) -> str:
    """A relative path, or an absolute URL on one of the site's origins (or `hosts`), without its
    fragment; "" for anything else."""
    if not url:
        return ""
    parts = split(url)
    if parts is None:
        return ""
    if parts.origin and parts.origin not in origins and not host_allowed(parts.host, hosts):
        return ""
    return url.partition("#")[0]
