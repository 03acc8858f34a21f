"""Follow-up emails: rendered from Jinja2 templates (HTML and text parts) and sent with aiosmtplib,
or written to data_dir/mail as .eml files when no SMTP server is configured.

Every email carries List-Unsubscribe (an https link and a mailto:) and List-Unsubscribe-Post
(RFC 8058 one-click). The relay's DKIM signature must cover both headers for mailbox providers to
honour them (see the README)."""

from __future__ import annotations

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
    """The server refused the address for good (5xx): do not try it again."""


class Temporary(Exception):
    """Try again later (4xx, connection trouble, timeout)."""


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
        sender = parseaddr(self.cfg.email.from_)[1]
        msg["List-Unsubscribe"] = f"<{ctx['unsubscribe_url']}>, <mailto:{sender}?subject=unsubscribe>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(self.env.get_template("followup.txt").render(**ctx))
        msg.add_alternative(self.env.get_template("followup.html").render(**ctx), subtype="html")
        return msg

    async def send(self, msg: EmailMessage) -> str:
        """Hand the message over. Returns what the server said; raises Permanent or Temporary."""
        e = self.cfg.email
        if not e.smtp_host:
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{int(time.time() * 1000)}-{msg['Message-ID'].strip('<>').split('@')[0]}.eml"
            path.write_bytes(bytes(msg))
            log.info("email.smtp_host is empty: wrote %s (%s)", path.name, msg["Subject"])
            return f"written to {path.name}"
        tls = {"tls": {"use_tls": True}, "starttls": {"start_tls": True}, "none": {"start_tls": False},
               "auto": {"start_tls": None}}[e.tls]
        try:
            errors, answer = await aiosmtplib.send(  # as bytes: aiosmtplib would fold headers at 78 again
                msg.as_bytes(policy=POLICY), sender=parseaddr(str(msg["From"]))[1],
                recipients=[parseaddr(str(msg["To"]))[1]], hostname=e.smtp_host, port=e.smtp_port,
                username=e.username or None, password=e.password or None, timeout=e.timeout_s, **tls)  # type: ignore[arg-type]
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [r.code for r in err.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise Permanent(f"refused: {codes[0]} {err.recipients[0].message}"[:300]) from None
            raise Temporary(f"refused for now: {codes}"[:300]) from None
        except aiosmtplib.SMTPResponseException as err:
            text = f"{err.code} {err.message}"[:300]
            raise (Permanent(text) if 500 <= err.code < 600 else Temporary(text)) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
            raise Temporary(f"{type(err).__name__}: {err}"[:300]) from None
        if errors:
            raise Permanent(f"refused: {errors}"[:300])
        return answer[:200]
