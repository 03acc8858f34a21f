"""Follow-up emails: rendered from Jinja2 templates (HTML and text parts) and sent with aiosmtplib,
or written to data_dir/mail as .eml files when no SMTP server is configured.

Every email carries List-Unsubscribe (an https link and a mailto:) and List-Unsubscribe-Post
(RFC 8058 one-click). The relay's DKIM signature must cover both headers for mailbox providers to
honour them (see the README)."""

from __future__ import annotations

import asyncio
import email.policy
import logging
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..config import Config

log = logging.getLogger("linger.email")
ROOT = Path(__file__).resolve().parents[2]

# Lines fold at 998 (RFC 5322's limit), not 78: a long List-Unsubscribe URL must stay one plain token,
# never an RFC 2047 encoded word, which mail clients do not decode in that header.
POLICY = email.policy.SMTP.clone(max_line_length=998)

SUBJECTS = ("You left something in your cart", "Any questions about your cart? We're here to help",
            "A little something to help you finish your order")


class Permanent(Exception):
    """The server refused the recipient for good (a 5xx to RCPT): do not try this address again."""


class Temporary(Exception):
    """Not sent, for sure (refused for now, the relay's own trouble, no connection): try again later."""


class Ambiguous(Exception):
    """The message went out but no answer came (a timeout or a dropped connection during DATA): it
    may have been delivered, so it is never sent again (at most once)."""


class Mailer:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.env = Environment(loader=FileSystemLoader(ROOT / "templates" / "email"),
                               autoescape=select_autoescape(("html",)), trim_blocks=True, lstrip_blocks=True)
        self.outbox = cfg.data_dir / "mail"

    def compose(self, to: str, ctx: dict[str, Any]) -> EmailMessage:
        step = ctx["step"]
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self.cfg.email.from_
        msg["To"] = to
        msg["Subject"] = SUBJECTS[min(step, len(SUBJECTS)) - 1]
        msg["Date"] = formatdate(localtime=False)
        domain = parseaddr(self.cfg.email.from_)[1].rpartition("@")[2] or "linger.invalid"
        msg["Message-ID"] = make_msgid(domain=domain)
        mailto = parseaddr(self.cfg.email.unsubscribe_mailto)[1]
        msg["List-Unsubscribe"] = f"<{ctx['unsubscribe_url']}>" + (f", <mailto:{mailto}?subject=unsubscribe>"
                                                                 if mailto else "")
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(self.env.get_template("followup.txt").render(**ctx))
        msg.add_alternative(self.env.get_template("followup.html").render(**ctx), subtype="html")
        return msg

    async def send(self, msg: EmailMessage) -> str:
        """Hand the message over. Returns what the server said; raises Permanent, Temporary or Ambiguous.
        Step by step (MAIL, RCPT, DATA) so that a failure before DATA is known not to have sent anything."""
        e = self.cfg.email
        if not e.smtp_host:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{int(time.time() * 1000)}-{msg['Message-ID'].strip('<>').split('@')[0]}.eml"
            path.write_bytes(bytes(msg))
            log.info("email.smtp_host is empty: wrote %s (%s)", path.name, msg["Subject"])
            return f"written to {path.name}"
        tls = {"tls": {"use_tls": True}, "starttls": {"start_tls": True}, "none": {"start_tls": False},
               "auto": {"start_tls": None}}[e.tls]
        client = aiosmtplib.SMTP(hostname=e.smtp_host, port=e.smtp_port, username=e.username or None,
                                 password=e.password or None, timeout=e.timeout_s, **tls)  # type: ignore[arg-type]
        in_data = False
        try:
            async with asyncio.timeout(conversation_deadline(e.timeout_s)):
                await client.connect()
                await client.mail(parseaddr(str(msg["From"]))[1])
                await client.rcpt(parseaddr(str(msg["To"]))[1])
                in_data = True  # from here on, a lost answer may mean a delivered message
                answer = await client.data(msg.as_bytes(policy=POLICY))  # bytes: folded at 998, never re-folded
                return str(answer.message)[:200]
        except aiosmtplib.SMTPRecipientRefused as err:
            if 500 <= err.code < 600:
                raise Permanent(f"refused: {err.code} {err.message}"[:300]) from None
            raise Temporary(f"refused for now: {err.code} {err.message}"[:300]) from None
        except aiosmtplib.SMTPResponseException as err:  # the relay's answer to MAIL, DATA, AUTH, ...: not sent
            if 500 <= err.code < 600:
                log.error("the SMTP relay refused a follow-up (%d %s): check email.* settings and the relay",
                          err.code, err.message[:200])
            raise Temporary(f"{err.code} {err.message}"[:300]) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            if in_data:
                raise Ambiguous(f"{type(err).__name__} during DATA: it may have been delivered") from None
            raise Temporary(f"{type(err).__name__}: {err}"[:300]) from None
        finally:
            client.close()


def conversation_deadline(timeout_s: float) -> float:
    """The whole SMTP conversation's deadline: email.timeout_s per command, about eight commands."""
    return 8 * timeout_s
