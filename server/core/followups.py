"""Follow-ups after a shopper leaves with a cart: web push and a 3-step email, as jobs on the durable
queue. Pure: what to queue when, what a step says, and when quiet hours move it.

- A plan starts when a session with a cart (and no purchase) has *left*. Only each channel's first
  step is queued then; each later step is queued by the worker when the one before it was sent,
  timed from that send (`next_job`), so a shopper back online after days never gets three at once.
- Job ids derive from the visitor and the cause of the leave (the timer and its moment) plus the
  channel and step, so a repeated write or another instance queues the same job once.
- A return (any socket of the visitor), a purchase, an unsubscribe or an erasure cancels the plan;
  the worker checks purchase and presence again right before it sends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from .vocab import CHANNELS, Channel

PUSH_PAYLOAD_MAX = 3993  # bytes of plaintext a push message may carry (4096 minus aes128gcm overhead)
TOPIC_MAX = 32


@dataclass(frozen=True)
class FollowUps:
    """A site's follow-up plan (sites[].followups)."""

    push_after_s: tuple[float, ...] = (3600.0,)
    email_after_s: tuple[float, ...] = (3600.0, 82800.0, 172800.0)
    quiet_hours: tuple[int, int] | None = None  # (from, to) local hours, e.g. (21, 8); None: any time
    code: str = ""  # the incentive code of the last email step ("" leaves it out)
    push_ttl_s: int = 86400  # how long a push service keeps an undelivered message
    urgency: str = "normal"  # very-low | low | normal | high

    def delays(self, channel: Channel) -> tuple[float, ...]:
        return self.push_after_s if channel == "push" else self.email_after_s


NO_FOLLOWUPS = FollowUps(push_after_s=(), email_after_s=())


def job_id(channel: Channel, site: str, vid: str, plan: str, step: int) -> str:
    """`{lane}-{hash}`: the lane is the channel, so push and email never wait behind each other."""
    rest = hashlib.sha256("\0".join((site, vid, plan, channel, str(step))).encode()).hexdigest()[:24]
    return f"{channel}-{rest}"


def plan_id(site: str, vid: str, cause: str) -> str:
    """The plan (and the push Topic): at most 32 URL-safe characters."""
    return hashlib.sha256("\0".join((site, vid, cause)).encode()).hexdigest()[:TOPIC_MAX]


@dataclass(frozen=True)
class Plan:
    """The first job of each channel, to queue now."""

    jobs: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def plan(site: str, vid: str, sid: str, cart: dict[str, Any], tz: str, lang: str, conf: FollowUps, now: float,
         cause: str) -> Plan:
    pid = plan_id(site, vid, cause)
    jobs = []
    for channel in CHANNELS:
        delays = conf.delays(channel)
        if delays:
            jobs.append({"id": job_id(channel, site, vid, pid, 1), "site": site, "vid": vid, "sid": sid,
                         "channel": channel, "step": 1, "plan": pid, "cart": cart, "tz": tz, "lang": lang,
                         "created": now, "at": now + delays[0], "attempts": 0})
    return Plan(tuple(jobs))


def next_job(job: dict[str, Any], conf: FollowUps, sent_at: float) -> dict[str, Any] | None:
    """The step after `job`, timed from its send, or None after the last."""
    delays = conf.delays(job["channel"])
    n = job["step"] + 1
    if n > len(delays):
        return None
    return {**{k: v for k, v in job.items() if k not in ("tries", "last")},
            "id": job_id(job["channel"], job["site"], job["vid"], job["plan"], n), "step": n,
            "at": sent_at + delays[n - 1], "attempts": 0}


def quiet_until(at: float, tz: str, hours: tuple[int, int] | None) -> float | None:
    """If `at` falls in the quiet hours of the visitor's time zone, when they end; else None. An
    unknown zone counts as UTC. Quiet hours defer a step, they never drop it."""
    if hours is None or hours[0] == hours[1]:
        return None
    try:
        zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = datetime.fromtimestamp(at, zone)
    start, end = hours
    h = local.hour
    quiet = (start <= h < end) if start < end else (h >= start or h < end)
    if not quiet:
        return None
    day = local if h < end else local + timedelta(days=1)
    return day.replace(hour=end, minute=0, second=0, microsecond=0).timestamp()


def push_payload(title: str, body: str, url: str, icon: str = "", image: str = "",
                 actions: tuple[tuple[str, str], ...] = (), tag: str = "") -> dict[str, Any]:
    """The Declarative Web Push shape (Safari 18.4+ shows it without a worker; our worker reads the
    same everywhere else), cut to PUSH_PAYLOAD_MAX bytes of JSON by shortening the body first."""
    note: dict[str, Any] = {"title": title[:120], "body": body, "navigate": url, "lang": "",
                            "tag": tag, "silent": False}
    if icon:
        note["icon"] = icon
    if image:
        note["image"] = image
    if actions:
        note["actions"] = [{"action": a, "title": t[:40], "navigate": url} for a, t in actions[:2]]
    payload = {"web_push": 8030, "notification": note}

    def fits() -> bool:
        return len(orjson.dumps(payload)) <= PUSH_PAYLOAD_MAX

    body = note["body"]
    if not fits():  # the longest prefix of the body that fits, with an ellipsis (binary search on characters)
        lo, hi = 0, len(body)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            note["body"] = body[:mid].rstrip() + "…"
            lo, hi = (mid, hi) if fits() else (lo, mid - 1)
        note["body"] = body[:lo].rstrip() + "…" if lo else ""
    for key in ("image", "icon"):  # still too long (huge URLs): the pictures go first
        if not fits():
            note.pop(key, None)
    return payload
