"""What happens to a session besides the widget's own messages (connects, disconnects, timers), and
the timings the state machine runs on. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import protocol as p


@dataclass(frozen=True, slots=True)
class Timing:
    idle_after: float = 60.0
    leave_grace: float = 30.0
    session_timeout: float = 1800.0


@dataclass(frozen=True, slots=True)
class Connect:
    hello: p.Hello


@dataclass(frozen=True, slots=True)
class Disconnect:
    pass


@dataclass(frozen=True, slots=True)
class InstanceGone:
    """The server instance holding some of this session's sockets died without closing them."""

    instance: str


@dataclass(frozen=True, slots=True)
class Timer:
    kind: str  # vocab.TimerKind: idle | leave | end | camp


@dataclass(frozen=True, slots=True)
class LeadEmail:
    """An `email` message, with what the glue knows that the core cannot read: the address's stored
    lead (if any) and whether this client address may create leads now (per-address limit)."""

    email: p.Email
    lead: dict[str, Any] | None = None
    limited: bool = False


Event = Connect | Disconnect | InstanceGone | Timer | LeadEmail | p.Message
