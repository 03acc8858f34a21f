"""Follow-ups end to end: a real server process, a push-service stand-in that decrypts payloads and
checks VAPID JWTs (tests/pushstand.py), and a real SMTP server (aiosmtpd) catching the emails.

A shopper adds to cart, gives an address with consent, allows push and leaves: the push arrives
after its delay, then three emails, each timed from the one before; nothing arrives once they come
back or unsubscribe."""

from __future__ import annotations

import base64
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.pushstand import PushStandIn
from tests.support import FAST, Server, call, free_port, next_msg, open_session, send, wait_for

pytestmark = pytest.mark.integration

CART = {"t": "cart", "items": [{"id": "sku-1", "name": "Red <b>shoe</b>", "price": 89.0, "qty": 1,
                                "url": "/p/red-shoe"}], "total": 89.0, "currency": "EUR"}


class Catcher:
    def __init__(self) -> None:
        self.mails: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.reject: set[str] = set()
        self.refuse_sender = ""
        self.slow = 0.0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        if address in self.reject:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: list[str]) -> str:
        if self.refuse_sender:
            return self.refuse_sender
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.raw.append(envelope.content)
            self.mails.append(msg)  # type: ignore[arg-type]
        if self.slow:
            import asyncio

            await asyncio.sleep(self.slow)  # stored, but answered after the client gave up
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Catcher]:
    c = Catcher()
    yield c
    c.controller.stop()


def server(tmp: Path, stand: PushStandIn, smtp: Catcher, push: list[float], mails: list[float],
           **more: dict[str, Any]) -> Server:
    more = dict(more)
    return Server(tmp, FAST | {
        "push": {"allowed_hosts": [f"127.0.0.1:{stand.port}"], "vapid_sub": "mailto:ops@shop.example"},
        "email": {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "from": "Demo Shop <shop@shop.example>",
                  "tls": "none", "postal_address": "1 Example Street", "unsubscribe_mailto": "unsub@shop.example",
                  **more.pop("email", {})},
        "followups": {"poll_ms": 20, "retry_base_s": 0.05, "retry_max_s": 0.2, **more.pop("followups", {})},
    } | more, site={"capture": "consent",
                    "followups": {"push_after_s": push, "email_after_s": mails, "code": "BACK10"}})


def shop_and_leave(srv: Server, stand: PushStandIn) -> tuple[dict[str, Any], dict[str, Any]]:
    ws, ready = open_session(srv)
    with ws:
        assert ready["settings"]["vapid_key"]
        send(ws, CART)
        send(ws, {"t": "email", "id": "e1", "email": "ann@example.com", "source": "field", "field": "email",
                  "consent": True})
        assert next_msg(ws, "ack")["id"] == "e1"
        sub = stand.subscribe()
        send(ws, {"t": "push", "id": "p1", "sub": sub})
        assert next_msg(ws, "ack")["id"] == "p1"
    return ready, sub


def overview(srv: Server) -> dict[str, Any]:
    r = call(srv, "GET", "/api/v1/followups?site=demo")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_shopper_who_leaves_gets_the_push_then_three_emails(tmp_path: Path, stand: PushStandIn,
                                                              smtp: Catcher) -> None:
    srv = server(tmp_path, stand, smtp, push=[0.2], mails=[0.2, 0.3, 0.3]).start()
    try:
        ready, _ = shop_and_leave(srv, stand)
        wait_for(lambda: len(smtp.mails) == 3, timeout=15)
        assert stand.refused == [] and len(stand.received) == 1
        push = stand.received[0]
        note = push["payload"]["notification"]
        assert push["payload"]["web_push"] == 8030 and "Demo" in note["title"] and "Red <b>shoe</b>" in note["body"]
        assert note["navigate"].startswith(f"{srv.url}/f/c/")
        assert push["claims"]["k"] == ready["settings"]["vapid_key"]  # signed with the key the widget was given
        assert push["claims"]["sub"] == "mailto:ops@shop.example"
        h = push["headers"]
        assert int(h["ttl"]) == 86400 and h["urgency"] == "normal" and 0 < len(h["topic"]) <= 32

        assert all(b"=?utf-8?" not in raw.split(b"\r\n\r\n")[0] for raw in smtp.raw)  # headers stay plain text
        first, second, third = smtp.mails
        for n, mail in enumerate(smtp.mails, 1):
            assert mail["To"] == "ann@example.com" and mail["From"] == "Demo Shop <shop@shop.example>"
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            unsub = mail["List-Unsubscribe"]
            assert f"<{srv.url}/f/u/" in unsub and "mailto:unsub@shop.example" in unsub
            token = unsub.split("/f/u/")[1].split(">")[0]
            assert b"ann@example.com" not in base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))  # sealed
            html = mail.get_body(("html",)).get_content()
            text = mail.get_body(("plain",)).get_content()
            assert "Red &lt;b&gt;shoe&lt;/b&gt;" in html and "<b>shoe</b>" not in html  # shopper text is escaped
            assert "Red <b>shoe</b>" in text and "1 Example Street" in text
            assert ("BACK10" in text) == (n == 3)  # the incentive code only in the last step
        assert first["Subject"] != second["Subject"] != third["Subject"]

        steps = overview(srv)["steps"]
        assert steps["push1"]["sent"] == 1 and steps["push1"]["scheduled"] == 1
        assert [steps[f"email{n}"]["sent"] for n in (1, 2, 3)] == [1, 1, 1]

        # the link counts a click once and lands on the cart with UTM parameters
        r = httpx.get(note["navigate"], follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("http")
        assert "utm_source=linger" in r.headers["location"] and "utm_medium=push" in r.headers["location"]
        httpx.get(note["navigate"], follow_redirects=False)
        assert overview(srv)["steps"]["push1"]["clicked"] == 1
        assert httpx.get(f"{srv.url}/f/c/forged-token").status_code == 404

        ws, _ = open_session(srv, vid=ready["vid"])  # back through the link, and buys: counted for push1
        with ws:
            send(ws, {"t": "purchase", "id": "buy-1", "order": "A-1", "total": 89.0, "currency": "EUR"})
            assert next_msg(ws, "ack")["id"] == "buy-1"
            send(ws, {"t": "purchase", "id": "buy-2", "order": "A-2", "total": 10.0, "currency": "EUR"})
            assert next_msg(ws, "ack")["id"] == "buy-2"  # a second purchase is not the link's doing
        push1 = overview(srv)["steps"]["push1"]
        assert push1["purchases"] == 1 and push1["revenue"] == 89.0
    finally:
        srv.stop()


def test_coming_back_cancels_everything_pending(tmp_path: Path, stand: PushStandIn, smtp: Catcher) -> None:
    srv = server(tmp_path, stand, smtp, push=[30], mails=[30, 30]).start()
    try:
        ready, _ = shop_and_leave(srv, stand)
        wait_for(lambda: len(overview(srv)["pending"]) == 2, timeout=10)  # left: the plan is queued
        ws, again = open_session(srv, vid=ready["vid"], sid=ready["sid"])  # back, on any instance
        ws.close()
        log = wait_for(lambda: [e for e in overview(srv)["log"] if e["status"] == "cancelled"], timeout=5)
        assert {e["why"] for e in log} == {"returned"} and len(log) == 2
        assert overview(srv)["pending"] == [] and stand.received == [] and smtp.mails == []
    finally:
        srv.stop()


def test_one_click_unsubscribe_stops_the_rest_at_once(tmp_path: Path, stand: PushStandIn, smtp: Catcher) -> None:
    srv = server(tmp_path, stand, smtp, push=[], mails=[0.2, 30, 30]).start()
    try:
        shop_and_leave(srv, stand)
        wait_for(lambda: len(smtp.mails) == 1, timeout=10)
        wait_for(lambda: len(overview(srv)["pending"]) == 1, timeout=5)  # step 2 is queued, 30 s out
        url = smtp.mails[0]["List-Unsubscribe"].split(",")[0].strip("<> ")
        assert httpx.get(url).status_code == 200 and len(overview(srv)["pending"]) == 1  # a GET changes nothing
        r = httpx.post(url, content="List-Unsubscribe=One-Click",
                       headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and "unsubscribed" in r.text
        assert overview(srv)["pending"] == []
        steps = overview(srv)["steps"]
        assert steps["email1"]["unsubscribed"] == 1 and steps["email2"]["cancelled"] == 1
        assert httpx.post(url[:-3] + "xyz").status_code == 404  # a tampered token does nothing
    finally:
        srv.stop()


def test_a_gone_subscription_is_dropped_and_a_busy_service_is_retried(tmp_path: Path, stand: PushStandIn,
                                                                      smtp: Catcher) -> None:
    srv = server(tmp_path, stand, smtp, push=[0.2], mails=[]).start()
    try:
        stand.answer(429, retry_after="1")
        shop_and_leave(srv, stand)
        wait_for(lambda: len(stand.refused) >= 2, timeout=10)
        stand.answer(410)  # within the next second: the third try (after Retry-After) meets a gone subscription
        assert stand.refused[1]["at"] - stand.refused[0]["at"] >= 0.9  # Retry-After honoured, not the 0.05 s backoff
        log = wait_for(lambda: [e for e in overview(srv)["log"] if e["status"] == "skipped"], timeout=10)
        assert "gone (410)" in log[0]["why"]
        assert stand.received == []
    finally:
        srv.stop()


def test_the_vapid_key_never_changes_by_accident(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from tests.support import ROOT

    srv = Server(tmp_path / "a", keys=tmp_path / "keys").start()
    key_file = tmp_path / "keys" / "vapid.pem"
    try:
        first = open_session(srv)[1]["settings"]["vapid_key"]
    finally:
        srv.stop()
    shutil.move(key_file, tmp_path / "saved.pem")
    with pytest.raises(RuntimeError, match="vapid.pem is missing, but push subscriptions were made with the key"):
        srv.start()  # never a silent new key: every subscription would break
    subprocess.run([sys.executable, "-m", "server", "init", "--config", str(srv.config)], cwd=ROOT, check=True,
                   capture_output=True)
    with pytest.raises(RuntimeError, match="holds the key .* but push subscriptions were made with"):
        srv.start()  # a different key in the file is refused too
    shutil.move(tmp_path / "saved.pem", key_file)
    srv.start()
    try:
        assert open_session(srv)[1]["settings"]["vapid_key"] == first
    finally:
        srv.stop()
    out = subprocess.run([sys.executable, "-m", "server", "vapid", "rotate", "--config", str(srv.config)], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    assert "new VAPID key" in out
    srv.start()  # a rotation on purpose is taken
    try:
        assert open_session(srv)[1]["settings"]["vapid_key"] not in (first, None)
    finally:
        srv.stop()


def test_two_instances_send_each_step_exactly_once_and_kill_9_loses_nothing(tmp_path: Path, stand: PushStandIn,
                                                                           smtp: Catcher) -> None:
    import signal

    from tests.support import Valkey

    redis = Valkey(tmp_path / "redis").start()
    a, b = (server(tmp_path / name, stand, smtp, push=[1.0], mails=[1.0, 0.3, 0.3], redis={"url": redis.url})
            for name in "ab")
    a.start()
    b.start()
    try:
        shop_and_leave(a, stand)
        wait_for(lambda: len(overview(b)["pending"]) == 2, timeout=10)  # scheduled: both instances see it
        a.stop(signal.SIGKILL)  # kill -9 between scheduling and sending
        a.start()
        wait_for(lambda: len(smtp.mails) == 3 and not overview(a)["pending"], timeout=20)
        log = overview(b)["log"]
        sent = sorted((e["channel"], e["step"]) for e in log if e["status"] == "sent")
        assert sent == [("email", 1), ("email", 2), ("email", 3), ("push", 1)]
        assert len(stand.received) == 1 and len(smtp.mails) == 3  # nothing twice, with two workers racing
        assert len({m["Message-ID"] for m in smtp.mails}) == 3
    finally:
        a.stop()
        b.stop()
        redis.stop()


def test_an_address_the_server_refuses_for_good_gets_nothing_more(tmp_path: Path, stand: PushStandIn,
                                                                  smtp: Catcher) -> None:
    smtp.reject.add("ann@example.com")
    srv = server(tmp_path, stand, smtp, push=[], mails=[0.2, 0.2]).start()
    try:
        ready, _ = shop_and_leave(srv, stand)
        (failed,) = wait_for(lambda: [e for e in overview(srv)["log"] if e["status"] == "failed"], timeout=10)
        assert "undeliverable: refused: 550" in failed["why"] and smtp.mails == []
        assert overview(srv)["pending"] == []  # no later step after a permanent failure
        ws, _ = open_session(srv, vid=ready["vid"])  # another visit, another abandoned cart
        with ws:
            send(ws, CART)
        skipped = wait_for(lambda: [e for e in overview(srv)["log"] if e["status"] == "skipped"], timeout=10)
        assert "undeliverable" in skipped[0]["why"] and smtp.mails == []
    finally:
        srv.stop()


def test_a_mail_whose_answer_never_came_is_not_sent_again(tmp_path: Path, stand: PushStandIn, smtp: Catcher) -> None:
    smtp.slow = 1.5  # the relay takes the message, then answers after the client's deadline
    srv = server(tmp_path, stand, smtp, push=[], mails=[0.2], email={"timeout_s": 0.5}).start()
    try:
        shop_and_leave(srv, stand)
        (sent,) = wait_for(lambda: [e for e in overview(srv)["log"] if e["status"] == "sent"], timeout=15)
        assert "unconfirmed" in sent["why"] and overview(srv)["pending"] == []
        wait_for(lambda: len(smtp.mails) == 1, timeout=5)
        steps = overview(srv)["steps"]["email1"]
        assert steps["sent"] == 1 and steps["delivered"] == 0  # counted, but not as confirmed
    finally:
        srv.stop()
    assert len(smtp.mails) == 1  # at most once: never retried


def test_the_relay_refusing_the_sender_is_retried_and_never_blames_the_shoppers_address(
        tmp_path: Path, stand: PushStandIn, smtp: Catcher) -> None:
    smtp.refuse_sender = "550 5.7.1 sender domain not verified"
    srv = server(tmp_path, stand, smtp, push=[], mails=[0.2], followups={"max_attempts": 2}).start()
    try:
        ready, _ = shop_and_leave(srv, stand)
        (failed,) = wait_for(lambda: [e for e in overview(srv)["log"] if e["status"] == "failed"], timeout=15)
        assert "550" in failed["why"] and "undeliverable" not in failed["why"] and failed["attempts"] == 2
        smtp.refuse_sender = ""  # the relay is fixed: the next abandoned cart reaches the same address
        ws, _ = open_session(srv, vid=ready["vid"])
        with ws:
            send(ws, CART)
        wait_for(lambda: len(smtp.mails) == 1, timeout=15)
    finally:
        srv.stop()


def test_the_link_secret_never_changes_by_accident(tmp_path: Path) -> None:
    import shutil

    srv = Server(tmp_path / "a", keys=tmp_path / "keys").start()
    srv.stop()
    shutil.move(tmp_path / "keys" / "secret.key", tmp_path / "saved.key")
    with pytest.raises(RuntimeError, match="secret.key is missing, but links in emails already sent"):
        srv.start()
    (tmp_path / "keys" / "secret.key").write_text("another-secret-another-secret-another-secret")
    with pytest.raises(RuntimeError, match="is not the secret links already sent were sealed with"):
        srv.start()
    shutil.move(tmp_path / "saved.key", tmp_path / "keys" / "secret.key")
    srv.start()
    srv.stop()
    assert time.time()
