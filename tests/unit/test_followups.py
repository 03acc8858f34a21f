"""The follow-up core, pure: when a plan starts and stops, step timing, quiet hours, the push payload."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from server.core import protocol as p
from server.core.actions import FollowUp, FollowUpCount, StopFollowUps, Subscribe
from server.core.followups import PUSH_PAYLOAD_MAX, FollowUps, next_job, plan, push_payload, quiet_until
from server.core.rules import SiteRules
from server.core.session import Disconnect, Session, Timer, new_session
from server.core.step import step
from tests.unit.builders import T, cart, hello

CONF = FollowUps(push_after_s=(60.0,), email_after_s=(3600.0, 82800.0, 172800.0), code="BACK10")
RULES = SiteRules(followups=CONF)


def shopper(with_cart: bool = True) -> Session:
    s = new_session("sid", "vid", "demo", 1, 0.0)
    step(s, "a", hello("product"), 0.0, T, RULES)
    if with_cart:
        step(s, "a", cart(2), 1.0, T, RULES)
    return s


def leave(s: Session, at: float = 10.0) -> list[object]:
    step(s, "a", Disconnect(), at, T, RULES)
    return step(s, "", Timer("leave"), at + T.leave_grace, T, RULES, cause=f"timer.leave.{at!r}")


def kinds(acts: list[object]) -> list[str]:
    return [type(a).__name__ for a in acts if isinstance(a, (FollowUp, StopFollowUps, Subscribe, FollowUpCount))]


# (name, setup, expected follow-up actions when the session leaves)
LEAVING = [
    ("left with a cart", lambda: shopper(), ["FollowUp"]),
    ("left without a cart", lambda: shopper(with_cart=False), []),
]


@pytest.mark.parametrize("name,setup,expected", LEAVING, ids=[x[0] for x in LEAVING])
def test_a_plan_starts_only_when_a_cart_leaves(name: str, setup: object, expected: list[str]) -> None:
    assert kinds(leave(setup())) == expected  # type: ignore[operator]


def test_a_buyer_who_leaves_gets_no_plan() -> None:
    s = shopper()
    step(s, "a", p.Purchase("b1", "A1", 20.0, "EUR"), 5.0, T, RULES)
    assert kinds(leave(s)) == []


def test_the_plan_queues_each_channel_first_step_with_ids_from_the_cause() -> None:
    (fu,) = [a for a in leave(shopper()) if isinstance(a, FollowUp)]
    push, email = fu.jobs
    assert (push["channel"], push["step"], push["at"]) == ("push", 1, 10.0 + T.leave_grace + 60.0)
    assert (email["channel"], email["step"]) == ("email", 1) and email["cart"]["count"] == 2
    assert push["id"].startswith("push-") and email["id"].startswith("email-")
    (again,) = [a for a in leave(shopper()) if isinstance(a, FollowUp)]
    assert [j["id"] for j in again.jobs] == [push["id"], email["id"]]  # the same cause, the same ids


def test_coming_back_or_buying_stops_the_plan_once() -> None:
    s = shopper()
    leave(s)
    assert kinds(step(s, "b", hello(), 100.0, T, RULES)) == ["StopFollowUps"]
    assert kinds(step(s, "b", p.Purchase("b1", "A1", 20.0, "EUR"), 101.0, T, RULES)) == []  # already stopped
    s2 = shopper()
    leave(s2)
    s2.followups = True  # e.g. a purchase reported for a session that is away
    assert [a.why for a in step(s2, "", p.Purchase("b2", "A2", 5.0, "EUR"), 50.0, T, RULES)
            if isinstance(a, StopFollowUps)] == ["purchased"]


def test_a_purchase_after_a_link_counts_for_that_step_within_the_attribution_window() -> None:
    s = shopper()
    s.followup_click = "email2|100.0"
    acts = step(s, "a", p.Purchase("b1", "A1", 42.0, "EUR"), 200.0, T, RULES)
    assert [a for a in acts if isinstance(a, FollowUpCount)] == [FollowUpCount("email2", {"purchases": 1,
                                                                                         "revenue": 42.0})]
    late = shopper()
    late.followup_click = "push1|0.0"
    assert kinds(step(late, "a", p.Purchase("b2", "A2", 5.0, "EUR"), 8 * 86400.0, T, RULES)) == []


def test_push_frames_keep_or_drop_the_subscription_and_end_the_prompts() -> None:
    s = shopper()
    sub = {"endpoint": "https://fcm.googleapis.com/x", "expirationTime": None, "keys": {"p256dh": "k", "auth": "a"}}
    assert [a for a in step(s, "a", p.Push("p1", sub=sub), 2.0, T, RULES) if isinstance(a, Subscribe)] == [
        Subscribe(sub)]
    assert s.push == "granted"
    assert [a for a in step(s, "a", p.Push("p2", denied=True), 3.0, T, RULES) if isinstance(a, Subscribe)] == [
        Subscribe(None)]
    assert s.push == "denied"


def test_each_step_is_timed_from_the_previous_send_and_the_last_has_no_next() -> None:
    job = plan("demo", "v", "s", {}, "", "", CONF, 0.0, "c").jobs[1]
    two = next_job(job, CONF, sent_at=5000.0)
    assert two is not None and two["step"] == 2 and two["at"] == 5000.0 + 82800.0 and two["id"] != job["id"]
    three = next_job(two, CONF, sent_at=9e5)
    assert three is not None and next_job(three, CONF, 1e6) is None
    assert next_job(plan("demo", "v", "s", {}, "", "", CONF, 0.0, "c").jobs[0], CONF, 1.0) is None  # one push step


WARSAW = ZoneInfo("Europe/Warsaw")


def at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, 25, hour, minute, tzinfo=WARSAW).timestamp()


# (name, local time, quiet hours, when the step may go: None = now)
QUIET = [
    ("daytime", at(14), (21, 8), None),
    ("late evening waits for the morning", at(23, 30), (21, 8), datetime(2026, 11, 26, 8, tzinfo=WARSAW).timestamp()),
    ("early morning waits until eight", at(6), (21, 8), at(8)),
    ("eight o'clock is fine", at(8), (21, 8), None),
    ("a daytime window", at(13), (12, 14), at(14)),
    ("no quiet hours", at(3), None, None),
]


@pytest.mark.parametrize("name,when,hours,expected", QUIET, ids=[x[0] for x in QUIET])
def test_quiet_hours_in_the_shoppers_zone(name: str, when: float, hours: tuple[int, int] | None,
                                          expected: float | None) -> None:
    assert quiet_until(when, "Europe/Warsaw", hours) == expected


def test_an_unknown_zone_counts_as_utc() -> None:
    noon_utc = datetime(2026, 11, 25, 23, tzinfo=ZoneInfo("UTC")).timestamp()
    morning = datetime(2026, 11, 26, 8, tzinfo=ZoneInfo("UTC")).timestamp()
    assert quiet_until(noon_utc, "Mars/Olympus", (21, 8)) == morning


def test_the_push_payload_is_declarative_and_cut_to_size() -> None:
    buttons = (("open", "View"), ("x", "Y"), ("z", "Z"))
    small = push_payload("Cart", "2 items", "https://l.example/f/c/t", actions=buttons)
    assert small["web_push"] == 8030 and small["notification"]["navigate"] == "https://l.example/f/c/t"
    assert len(small["notification"]["actions"]) == 2
    big = push_payload("Cart", "é" * 5000, "https://l.example/f/c/t", image="https://i.example/" + "x" * 500)
    assert len(orjson.dumps(big)) <= PUSH_PAYLOAD_MAX and big["notification"]["body"].endswith("…")
    assert len(orjson.dumps(big)) > PUSH_PAYLOAD_MAX - 10  # cut to fit, not emptied
    quotes = push_payload("Cart", '"\\' * 3000, "https://l.example/f/c/t")  # JSON escaping doubles these
    assert len(orjson.dumps(quotes)) <= PUSH_PAYLOAD_MAX
