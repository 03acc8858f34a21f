"""The small vocabulary of effects the core asks the I/O layer to carry out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .wire import Outbound


@dataclass(frozen=True, slots=True)
class Schedule:
    """Fire timer `kind` for this session at `at` (epoch seconds); replaces an earlier one."""

    kind: str
    at: float


@dataclass(frozen=True, slots=True)
class Cancel:
    kind: str


@dataclass(frozen=True, slots=True)
class Record:
    """Append a durable record (purchase, push, popupev, alert) for the site."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Publish:
    """Tell the hub (ops console, other instances) that something notable happened."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Send:
    msg: Outbound
    to: str = ""  # one socket (conn id) of the session; "" for all of them


@dataclass(frozen=True, slots=True)
class End:
    """The session is over: drop it from the live index."""


@dataclass(frozen=True, slots=True)
class Count:
    """Add to a campaign variant's result counters, e.g. {"shown": 1} or {"purchase": 1, "revenue": 89.0}.
    Only ever the effect of a client message with an id, so it is applied once."""

    cid: str
    var: str
    counts: dict[str, int | float]


@dataclass(frozen=True, slots=True)
class Engage:
    """The visitor did more than say hello: keep their record for the visitor retention period
    (until then it expires with the session)."""


@dataclass(frozen=True, slots=True)
class Capture:
    """Store this lead (merged from the stored one and this capture) and link it to the visitor."""

    lead: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Alert:
    """Record an abandonment alert (`rid` derived from its cause, so a repeated write keeps one)."""

    payload: dict[str, Any]
    rid: str


@dataclass(frozen=True, slots=True)
class Deliver:
    """Queue a signed webhook delivery (`delivery` from core.alerts.make_delivery, id derived from its cause)."""

    delivery: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Tally:
    """Count something for the metrics: a refused capture and why, an alert raised."""

    metric: str
    label: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Queue the first step of each follow-up channel (core.followups.plan), ids derived from the cause."""

    jobs: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class StopFollowUps:
    """Cancel the visitor's pending follow-ups: they came back, or bought."""

    why: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Keep this push subscription as the visitor's one subscription (None: permission denied, drop it)."""

    sub: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class FollowUpCount:
    """A purchase after a follow-up's link: counted for that step (`step` like "email2"), once."""

    step: str
    counts: dict[str, float]


@dataclass(frozen=True, slots=True)
class Reached:
    """The session is on a page of this kind for the first time (counted once per session: the funnel)."""

    kind: str


Action = (Schedule | Cancel | Record | Publish | Send | End | Count | Engage | Capture | Alert | Deliver | Tally
          | FollowUp | StopFollowUps | Subscribe | FollowUpCount | Reached)
