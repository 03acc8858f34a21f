"""The settings of the features around the core: webhooks, the API, retention, web push, email,
follow-ups, the admin. Declared like config_table.py's sections."""

from __future__ import annotations

from dataclasses import dataclass

from .config_checks import (
    DEMO_TOKEN,
    ApiToken,
    _api_tokens,
    _bool,
    _choice,
    _email_address,
    _hosts,
    _int,
    _num,
    _str,
    _vapid_sub,
)
from .config_fields import setting


@dataclass(frozen=True)
class WebhookSettings:
    """Outbound webhook delivery."""

    max_attempts: int = setting(12, "Tries per webhook delivery before it is given up (logged as failed).",
            _int(1, 100))
    retry_base_s: float = setting(2.0, "Wait after the first failed try; it doubles after each one.",
            _num(0.01, 3600))
    retry_max_s: float = setting(3600.0, "The longest wait between two tries.",
            _num(0.01, 86400))
    timeout_s: float = setting(10.0, "Deadline of one whole delivery attempt (connect, send, and reading at "
            "most 64 KiB of the answer); a delivery's lease is always longer.",
            _num(0.1, 120))
    parallel: int = setting(32, "Deliveries in flight at once on this instance.",
            _int(1, 1000))
    per_endpoint: int = setting(2, "Of those, at most this many to one endpoint, so a slow endpoint cannot "
            "hold up the others.",
            _int(1, 1000))
    poll_ms: int = setting(500, "How often the delivery worker looks for due deliveries.",
            _int(5, 60_000))


@dataclass(frozen=True)
class ApiSettings:
    """The JSON API."""

    tokens: tuple[ApiToken, ...] = setting([],
            "Bearer tokens for /api/v1, each scoped to sites: [[api.tokens]] tables with token "
            "(16+ characters), sites (site keys, or [\"*\"]) and an optional name shown in logs. The demo token "
            f"{DEMO_TOKEN!r} is refused unless server.host is a loopback address.",
            _api_tokens)


@dataclass(frozen=True)
class RetentionSettings:
    """How long things are kept."""

    records_days: float = setting(90.0, "Purchase, push, popup-event and alert records are kept this long. "
            "0: forever.",
            _num(0, 36_500))
    visitors_days: float = setting(400.0, "A visitor (and their sessions index and applied ids) is kept this "
            "long after their last visit. A visitor who only said hello expires with the session.",
            _num(0.000001, 36_500))
    leads_unconsented_days: float = setting(30.0, "Leads still without consent this long after their last "
            "capture are deleted, with their address on every visitor.",
            _num(0.000001, 36_500))
    leads_days: float = setting(1095.0, "Every lead (with consent too) is deleted this long after its last "
            "capture, with its address on its visitors. 0: leads with consent stay until erased.",
            _num(0, 36_500))
    sweep_s: float = setting(60.0, "How often expired records and leads are swept out of the lists.",
            _num(0.05, 86_400))


@dataclass(frozen=True)
class PushSettings:
    """Web push."""

    vapid_sub: str = setting(
            "", "The VAPID `sub` claim push services see: mailto: or https: URL of someone who can be reached "
            "about this sender. Empty: mailto: the address of email.from. A mailto: on localhost is refused "
            "(Apple rejects it).", _vapid_sub)
    vapid_key_file: str = setting(
            "", "The VAPID private key (PEM) that signs every push, made by `python -m server init` or the first "
            "start. Empty: vapid.pem in data_dir. Instances sharing one Redis must share this file; a start "
            "that finds it missing or changed stops rather than make a new key.", _str())
    timeout_s: float = setting(10.0, "Deadline of one request to a push service.", _num(0.1, 120))
    max_failures: int = setting(
            3, "A subscription whose sends fail this many times in a row (besides 404/410, which drop it at "
            "once) is dropped.", _int(1, 100))

    allowed_hosts: tuple[str, ...] = setting(
            ["fcm.googleapis.com", "updates.push.services.mozilla.com", "web.push.apple.com", "*.push.apple.com",
             "*.notify.windows.com"],
            "Push services a subscription endpoint may point to (`host`, `*.suffix`, or `host:port`); https only, "
            "except a loopback `host:port` entry (a local stand-in) may be plain http. Others are refused.",
            _hosts)



@dataclass(frozen=True)
class EmailSettings:
    """The follow-up emails' sender."""

    smtp_host: str = setting(
            "", "SMTP server for follow-up emails. Empty: no SMTP; each email is written to data_dir/mail as "
            "an .eml file and logged (for trying it out).", _str(r"[A-Za-z0-9.\-:\[\]]{1,255}"))
    smtp_port: int = setting(587, "SMTP port (587 for STARTTLS, 465 for implicit TLS, 25 or 1025 for plain).",
                             _int(1, 65535))
    from_: str = setting("", "From header, e.g. \"Fieldnote <shop@example.com>\". Required to send.",
                         _email_address, key="from")
    tls: str = setting(
            "auto", "auto (STARTTLS when the server offers it), starttls (required), tls (implicit, port 465) "
            "or none (plain: only for a local relay or catcher).", _choice("auto", "starttls", "tls", "none"))
    username: str = setting("", "SMTP login; empty for none.", _str())
    password: str = setting("", "SMTP password.", _str())
    postal_address: str = setting(
            "", "The sender's postal address, printed in every email's footer (required by CAN-SPAM and "
            "similar laws).", _str(r"[^\n]{0,300}"))
    timeout_s: float = setting(15.0, "Deadline of each SMTP command; the whole conversation gets eight times this.",
                               _num(0.5, 300))
    unsubscribe_mailto: str = setting(
            "", "An address for List-Unsubscribe's mailto: form, in an inbox someone reads: unsubscribe what "
            "arrives there with `python -m server unsubscribe EMAIL --site KEY`. Empty: the https one-click "
            "link only.", _email_address)
    catcher: bool = setting(
            False, "Start an SMTP catcher inside the server on smtp_host:smtp_port (loopback only) that keeps "
            "each email in data_dir/mail: the demo (`make run`) uses it. Never for real mail.", _bool)


@dataclass(frozen=True)
class FollowupSettings:
    """The follow-up worker (push and email steps on the job queue)."""

    poll_ms: int = setting(200, "How often the worker looks for due steps.", _int(5, 60_000))
    parallel: int = setting(16, "Steps being sent at once on this instance.", _int(1, 1000))
    max_attempts: int = setting(8, "Tries of one step before it is given up (logged with the reason).",
                                _int(1, 100))
    retry_base_s: float = setting(30.0, "Wait after the first failed try; it doubles after each one.",
                                  _num(0.01, 3600))
    retry_max_s: float = setting(3600.0, "The longest wait between two tries.", _num(0.01, 86400))


@dataclass(frozen=True)
class AdminSettings:
    """The merchant admin and the ops console: sign-in and sessions."""

    idle_timeout_s: int = setting(3600, "A signed-in session ends after this long without a request.",
                                  _int(60, 30 * 86400))
    lockout_s: int = setting(900, "How long too many failed sign-ins lock an account or an address out.",
                             _int(10, 86400))
    attempts_per_account: int = setting(5, "Failed sign-ins to one account within lockout_s that lock it.",
                                        _int(1, 1000))
    attempts_per_ip: int = setting(30, "Failed sign-ins from one address within lockout_s that lock it out.",
                                   _int(1, 100_000))
