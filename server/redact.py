"""Keeping secrets and shoppers' data out of logs and API answers.

- `redact_url`: a URL without its password and query string (`redis://:***@host:6379/0`).
- `redact_endpoint`: a webhook URL as shown: its origin only (`https://crm.example/…`).
- `RedactingFilter`: a logging filter on every handler that rewrites each line so it holds no
  email address, no URL query string or fragment, and no password in a URL, whatever a library
  or our own code tried to log (uvicorn's access log included).
"""

from __future__ import annotations

import logging
import re

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^/@:\s]*)(?::[^@\s]*)?@", re.I)
_QUERY = re.compile(r"(?P<url>[a-z][a-z0-9+.\-]*://[^\s?#\"']*|(?<![\w.])/[^\s?#\"']*)[?#][^\s\"']*", re.I)
# "/" is allowed in an address's local part: a path holding one is redacted from its first "/" on
_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")


def redact_url(url: str) -> str:
    """Drop the password (user names stay) and the query string and fragment."""
    out = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m.group(0).count(":") > 1
                        else m.group(0), url)
    for sep in ("?", "#"):
        if sep in out:
            out = out.split(sep, 1)[0] + sep + "…"
            break
    return out


def redact_endpoint(url: str) -> str:
    """A webhook endpoint as shown and logged: its origin only. Many carry their secret in the path
    (https://hooks.example/services/T0/B0/XXXX), so neither path nor query is shown."""
    m = re.match(r"(?i)([a-z][a-z0-9+.\-]*://)(?:[^/@\s]*@)?([^/?#\s]*)", url)
    return f"{m.group(1)}{m.group(2)}/…" if m else "…"


def redact_text(text: str) -> str:
    """Any text with emails, URL query strings and URL passwords taken out."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@" if m.group(0).count(":") > 1
                         else m.group(0), text)
    text = _QUERY.sub(lambda m: m["url"] + "?…", text)
    return _EMAIL.sub("<email>", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):  # keep the shape: uvicorn's access formatter reads the args
            record.args = tuple(redact_text(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        if redact_text(msg) != msg and record.name != "uvicorn.access":  # pieces that only combine into one
            record.msg, record.args = redact_text(msg), None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of the root logger (and uvicorn's own loggers), and keep
    httpx's per-request lines (which name webhook URLs, secrets in their paths) out of the log."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    names = [None, "uvicorn", "uvicorn.error", "uvicorn.access"]
    for name in names:
        lg = logging.getLogger(name) if logger is None else logger
        for h in lg.handlers:
            if not any(isinstance(f, RedactingFilter) for f in h.filters):
                h.addFilter(RedactingFilter())
        if logger is not None:
            break
