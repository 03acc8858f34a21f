"""The checks of config values: each takes a raw TOML value and returns the typed one or raises
ValueError with a message that reads after the key's name."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    check: Callable[[Any], Any]


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be an integer, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {v}")
        return v
    return check


def _num(lo: float, hi: float) -> Callable[[Any], float]:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"must be a number, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}, got {v}")
        return float(v)
    return check


def _str(pattern: str = r"", allow_empty: bool = True) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"must be a string, got {v!r}")
        if not v and not allow_empty:
            raise ValueError("must not be empty")
        if v and pattern and not re.fullmatch(pattern, v):
            raise ValueError(f"has the wrong form: {v!r}")
        return v
    return check


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {v!r}")
        return str(v)
    return check


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, got {v!r}")
    return v


def _gc_thresholds(v: Any) -> tuple[int, int, int]:
    if (not isinstance(v, list) or len(v) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)):
        raise ValueError(f"must be three non-negative integers like [50000, 20, 100], got {v!r}")
    return (v[0], v[1], v[2])


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    events: tuple[str, ...]


def _webhooks(v: Any) -> tuple[Webhook, ...]:
    from .core.alerts import WEBHOOK_EVENTS

    if not isinstance(v, list):
        raise ValueError(f"must be a list of {{ url, secret, events }} tables, got {v!r}")
    out = []
    for n, h in enumerate(v):
        if not isinstance(h, dict) or set(h) - {"url", "secret", "events"}:
            raise ValueError(f"[{n}] must be a table with url, secret and events only")
        url, secret, events = h.get("url"), h.get("secret"), h.get("events", list(WEBHOOK_EVENTS))
        if not isinstance(url, str) or not re.fullmatch(r"https?://[^\s]{1,2000}", url):
            raise ValueError(f"[{n}].url must be an http(s) URL, got {url!r}")
        if not isinstance(secret, str) or len(secret) < 16:
            raise ValueError(f"[{n}].secret must be a string of at least 16 characters")
        if not isinstance(events, list) or not events or any(e not in WEBHOOK_EVENTS for e in events):
            raise ValueError(f"[{n}].events must list some of {', '.join(WEBHOOK_EVENTS)}")
        out.append(Webhook(url=url, secret=secret, events=tuple(events)))
    return tuple(out)


@dataclass(frozen=True)
class ApiToken:
    token: str
    sites: tuple[str, ...]  # site keys, or ("*",) for every site
    name: str

    def allows(self, site: str) -> bool:
        return "*" in self.sites or site in self.sites


DEMO_TOKEN = "demo-token-change-me"  # published in the README: refused off loopback


def _api_tokens(v: Any) -> tuple[ApiToken, ...]:
    shape = 'a list of tables like { token = "…", sites = ["demo"], name = "crm-sync" }'
    if not isinstance(v, list):
        raise ValueError(f"must be {shape}, got {v!r}")
    out: list[ApiToken] = []
    for n, t in enumerate(v):
        if not isinstance(t, dict) or set(t) - {"token", "sites", "name"}:
            raise ValueError(f"[{n}] must be a table with token, sites and name only ({shape})")
        token, sites, name = t.get("token"), t.get("sites"), t.get("name", "")
        if not isinstance(token, str) or not re.fullmatch(r"[!-~]{16,200}", token):
            raise ValueError(f"[{n}].token must be 16-200 printable characters without spaces")
        if any(token == x.token for x in out):
            raise ValueError(f"[{n}].token is listed twice")
        if (not isinstance(sites, list) or not sites
                or not all(isinstance(x, str) and re.fullmatch(r"\*|[A-Za-z0-9_\-]{1,64}", x) for x in sites)):
            raise ValueError(f'[{n}].sites must list site keys, or ["*"] for every site')
        if not isinstance(name, str) or len(name) > 64:
            raise ValueError(f"[{n}].name must be a string of at most 64 characters")
        out.append(ApiToken(token=token, sites=tuple(sites), name=name or f"token {n + 1}"))
    return tuple(out)


def _memory(v: Any) -> str:
    if not isinstance(v, str) or not re.fullmatch(r"(?i)\d{1,12}(b|k|kb|m|mb|g|gb)?", v.strip()):
        raise ValueError(f'must be a size like "1gb", "512mb" or "0" (no limit), got {v!r}')
    return v.strip().lower()


def _hosts(v: Any) -> tuple[str, ...]:
    pattern = r"(\*\.)?[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?"
    if not isinstance(v, list) or not all(isinstance(x, str) and re.fullmatch(pattern, x) for x in v):
        raise ValueError(f'must be a list of host names like "fcm.googleapis.com", "*.cdn.example" or '
                         f'"127.0.0.1:9999", got {v!r}')
    return tuple(x.lower() for x in v)


def _redis_url(v: Any) -> str:
    """A Redis URL that parses; errors never echo it (it may hold a password)."""
    from urllib.parse import urlsplit

    from .redact import redact_url

    if not isinstance(v, str):
        raise ValueError("must be a string like \"redis://host:6379/0\"")
    if not v:
        return v
    shown = redact_url(v)
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ValueError(f"is not a redis://, rediss:// or unix:// URL that parses ({shown}); percent-encode "
                         "@ : / in a password")
    return v


def _target(v: Any) -> Any:
    from .core.campaigns import CampaignError, target_from

    if not isinstance(v, dict):
        raise ValueError(f"must be a table like {{ device = \"desktop\" }}, got {v!r}")
    try:
        return target_from(v, "")
    except CampaignError as e:
        raise ValueError(f"{e.field}: {e.msg}") from None


def _str_list(pattern: str, allow_empty: bool = True) -> Callable[[Any], tuple[str, ...]]:
    item = _str(pattern, allow_empty=False)

    def check(v: Any) -> tuple[str, ...]:
        if not isinstance(v, list):
            raise ValueError(f"must be a list of strings, got {v!r}")
        if not v and not allow_empty:
            raise ValueError("must list at least one value")
        return tuple(item(x) for x in v)
    return check


def _followups(v: Any) -> Any:
    """sites[].followups: { push_after_s = [3600], email_after_s = [3600, 82800, 172800], quiet_hours = [21, 8],
    code = "COMEBACK10", push_ttl_s = 86400, urgency = "normal" }."""
    from .core.followups import FollowUps
    from .core.vocab import URGENCIES

    if not isinstance(v, dict):
        raise ValueError(f"must be a table like {{ push_after_s = [3600], email_after_s = [3600, 82800, 172800] }}, "
                         f"got {v!r}")
    known = ("push_after_s", "email_after_s", "quiet_hours", "code", "push_ttl_s", "urgency")
    extra = set(v) - set(known)
    if extra:
        raise ValueError(f".{sorted(extra)[0]} is not a follow-up setting (known: {', '.join(known)})")
    base = FollowUps()

    def delays(key: str, most: int) -> tuple[float, ...]:
        raw = v.get(key, list(getattr(base, key)))
        if (not isinstance(raw, list) or len(raw) > most
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and 0.1 <= x <= 90 * 86400
                           for x in raw)):
            raise ValueError(f".{key} must list at most {most} delays in seconds (0.1 to 7776000), got {raw!r}")
        return tuple(float(x) for x in raw)

    quiet = v.get("quiet_hours", [])
    if not isinstance(quiet, list) or len(quiet) not in (0, 2) or not all(
            isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in quiet):
        raise ValueError(f".quiet_hours must be [] or [from, to] local hours 0-23, like [21, 8]; got {quiet!r}")
    code = v.get("code", "")
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{0,40}", code):
        raise ValueError(f".code must be up to 40 letters, digits, _ or -, got {code!r}")
    ttl = v.get("push_ttl_s", base.push_ttl_s)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 60 <= ttl <= 28 * 86400:
        raise ValueError(f".push_ttl_s must be whole seconds from 60 to 2419200, got {ttl!r}")
    urgency = v.get("urgency", base.urgency)
    if urgency not in URGENCIES:
        raise ValueError(f".urgency must be one of {', '.join(URGENCIES)}, got {urgency!r}")
    return FollowUps(push_after_s=delays("push_after_s", 3), email_after_s=delays("email_after_s", 3),
                     quiet_hours=(quiet[0], quiet[1]) if quiet else None, code=code, push_ttl_s=ttl, urgency=urgency)


def _email_address(v: Any) -> str:
    """A From header: "Name <addr@host>" or "addr@host"; empty for none."""
    from email.utils import parseaddr

    if not isinstance(v, str):
        raise ValueError(f"must be a string like \"Fieldnote <shop@example.com>\", got {v!r}")
    if v and ("\n" in v or "\r" in v or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", parseaddr(v)[1])):
        raise ValueError(f"must be an address like \"Fieldnote <shop@example.com>\", got {v!r}")
    return v


def _vapid_sub(v: Any) -> str:
    """The VAPID `sub` claim: a mailto: or https: URL. Apple refuses a mailto: on localhost."""
    if not isinstance(v, str):
        raise ValueError(f"must be a string like \"mailto:ops@yourshop.example\", got {v!r}")
    if not v:
        return v
    if not re.fullmatch(r"mailto:[^@\s]+@[^@\s]+|https://[^\s]+", v):
        raise ValueError(f"must be a mailto: or https: URL, got {v!r}")
    if v.startswith("mailto:") and re.search(r"@(localhost|127\.0\.0\.1|\[?::1\]?)$", v.lower()):
        raise ValueError(f"is a mailto: on localhost ({v!r}), which Apple's push service rejects: use a real "
                         "address of your shop")
    return v
