"""The small vocabulary of effects the core asks the I/O layer to carry out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    """Append a durable record (purchase, email, push, popup event) for the site."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Publish:
    """Tell the hub (ops console, other instances) that something notable happened."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Send:
    msg: dict[str, Any]
    to: str = ""  # one socket (conn id) of the session; "" for all of them


@dataclass(frozen=True, slots=True)
class End:
    """The session is over: drop it from the live index."""


Action = Schedule | Cancel | Record | Publish | Send | End
