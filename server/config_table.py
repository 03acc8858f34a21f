"""Every setting, as one typed table: a frozen dataclass per config section, each field with its
default, help and check. `cfg.timing.idle_after_ms` is an `int` to mypy and at run time; the README's
configuration table is generated from the same fields (`python -m server config-docs --readme
README.md`), and a test compares the two. Names carry their unit (`_s`, `_ms`, `_days`); names
used before that (RENAMED) are still read, with a warning."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from .config_checks import (
    DEMO_TOKEN,
    ApiToken,
    Setting,
    _api_tokens,
    _bool,
    _choice,
    _email_address,
    _gc_thresholds,
    _hosts,
    _int,
    _memory,
    _num,
    _redis_url,
    _str,
    _vapid_sub,
)

ORIGIN_RE = r"https?://[A-Za-z0-9.\-\[\]:]+"
REQUIRED = None  # a default of None: the key must be given


def setting(default: Any, help: str, check: Any, key: str = "") -> Any:
    """A field of the table: no dataclass default (the loader always passes every field); the
    default, help and check live in its metadata, and `key` is its TOML name when that is not a
    Python name (`from`)."""
    return field(metadata={"default": default, "help": help, "check": check, "key": key})


def key_of(f: Any) -> str:
    return str(f.metadata.get("key") or f.name)


@dataclass(frozen=True)
class ServerSettings:
    """Listening, logging, shutdown, the demo shop."""

    host: str = setting("127.0.0.1", "Address to listen on. Env: LINGER_HOST.",
            _str(allow_empty=False))
    port: int = setting(8000, "TCP port to listen on. Env: LINGER_PORT.",
            _int(0, 65535))
    data_dir: str = setting("var", "Directory for the embedded Redis (socket, append-only file, logs); "
            "relative to the config file. Env: LINGER_DATA_DIR.",
            _str(allow_empty=False))
    log_level: str = setting("info", "Log level: debug, info, warning, error. Env: LINGER_LOG_LEVEL.",
            _choice("debug", "info", "warning", "error"))
    drain_s: float = setting(5.0, "On shutdown, how long to wait for sockets to close (they get 1012).",
            _num(0, 300))
    gc_thresholds: tuple[int, int, int] = setting([50000, 20, 100],
            "Python GC thresholds (gc.set_threshold). Larger than "
            "Python's [700, 10, 10] so that with 15k sockets held a full collection (about 1 s) is rare instead "
            "of every few seconds; [0, 0, 0] leaves Python's defaults.",
            _gc_thresholds)
    heartbeat_s: float = setting(5.0, "Instances say they are alive this often; one silent for 6 heartbeats "
            "is taken for dead and its sockets are closed for it (its sessions then leave as usual).",
            _num(0.05, 600))
    demo: bool = setting(True, "Serve the demo storefront at /demo.",
            _bool)
    forwarded_allow_ips: str = setting("127.0.0.1", "Proxies whose X-Forwarded-For is believed for the client "
            "address (comma-separated IPs or networks, \"*\" for any). Per-address limits use that address.",
            _str(r"[0-9A-Fa-f:.,/* ]+", allow_empty=False))


    secret_file: str = setting(
            "", "File with the secret that signs links in emails and notifications (made on first start). Empty: "
            "secret.key in data_dir. Instances behind one load balancer must share it.", _str())
    public_url: str = setting(
            "", "The server's address as shoppers reach it: the base of links in emails and notifications "
            "(unsubscribe, cart, /sw.js). Empty: http://host:port.", _str(r"https?://[^\s/?#]+(/[^\s?#]*)?"))


@dataclass(frozen=True)
class RedisSettings:
    """Where state lives."""

    url: str = setting("", "Redis URL (redis://, rediss://, unix://); percent-encode @ : / in a password. Empty: "
            "start an embedded valkey-server/redis-server under data_dir. Env: LINGER_REDIS_URL.",
            _redis_url)
    prefix: str = setting("lg:", "Prefix for every key Linger writes, so one Redis can hold several "
            "deployments.",
            _str(r"[A-Za-z0-9:_\-]{1,32}", allow_empty=False))
    durable_acks: bool = setting(True, "Acknowledge id-messages only after the append-only file is fsynced "
            "(WAITAOF). Needs appendonly on the server; turned off with a warning if it is not.",
            _bool)
    maxmemory: str = setting("1gb", "Memory cap of the embedded server (valkey maxmemory, with noeviction): "
            "when it is full, writes fail and clients get `unavailable`, and nothing acknowledged is lost. "
            "\"0\" for no cap. Ignored with redis.url (set it on your server).",
            _memory)
    pool_size: int = setting(64, "Most connections this instance opens to Redis; callers queue for a free "
            "one beyond that.",
            _int(2, 10_000))


@dataclass(frozen=True)
class TimingSettings:
    """Session timing."""

    session_timeout_s: float = setting(1800.0, "Seconds with no open socket after which a session ends; a new "
            "hello then starts a new session.",
            _num(1, 7 * 86400))
    leave_grace_s: float = setting(30.0, "Seconds with no open socket after which the shopper has left "
            "(navigation reconnects within a second).",
            _num(0.05, 86400))
    idle_after_ms: int = setting(60000, "No activity for this long on a cart or checkout page makes the "
            "session idle.",
            _int(50, 86_400_000))
    act_every_ms: int = setting(5000, "The widget sends `act` at most this often.",
            _int(50, 600_000))
    timer_tick_ms: int = setting(250, "How often the timer loop looks for due timers.",
            _int(5, 10_000))
    timers_per_tick: int = setting(200, "Most shared (leave/end) timers handled per tick, so a backlog after "
            "a restart never delays live shoppers' own timers, which are handled first.",
            _int(1, 100_000))


@dataclass(frozen=True)
class LimitSettings:
    """What one socket or client address may do."""

    max_frame_bytes: int = setting(8192, "Inbound frames larger than this close the socket with 1009.",
            _int(512, 1_048_576))
    frames_per_second: float = setting(20.0, "Sustained inbound frame rate allowed per socket.",
            _num(0.1, 10_000))
    frame_burst: int = setting(60, "Frames a socket may send in a burst above the sustained rate.",
            _int(1, 100_000))
    sockets_per_ip: int = setting(500, "Open widget sockets one client address may hold on this instance "
            "(shoppers share NATs: keep it generous); more are refused with HTTP 429. 0: no limit.",
            _int(0, 10_000_000))
    new_visitors_per_ip_per_min: int = setting(600, "New visitors one client address may create per minute "
            "on this instance; beyond it a hello without a known visitor gets `rate_limited` and the socket "
            "closes. 0: no limit.",
            _int(0, 10_000_000))
    new_sessions_per_ip_per_min: int = setting(1200, "New sessions (of new or known visitors) one client address "
            "may start per minute on this instance; beyond it the hello gets `rate_limited`. 0: no limit.",
            _int(0, 10_000_000))
    messages_per_ip_per_min: int = setting(300, "Messages with an id (purchase, email, push, popup: the ones "
            "stored for good) one client address may send per minute on this instance; beyond it they get "
            "`rate_limited` and the widget resends them later. 0: no limit.",
            _int(0, 10_000_000))
    leads_per_ip_per_hour: int = setting(120, "Leads one client address may create or update per hour on this "
            "instance; captures beyond it are acknowledged but not kept (counted in "
            "linger_emails_refused_total). 0: no limit.",
            _int(0, 10_000_000))
    max_bad_frames: int = setting(20, "Bad or rate-limited frames after which the socket closes with 1008.",
            _int(1, 100_000))


@dataclass(frozen=True)
class ExitSettings:
    """Exit intent, as the widget detects it."""

    sensitivity_px: int = setting(20, "Desktop exit intent: the mouse leaves through the top within this many "
            "pixels.",
            _int(0, 500))
    min_dwell_ms: int = setting(2000, "Exit intent is armed only after the page has been open this long.",
            _int(0, 600_000))
    delay_ms: int = setting(100, "Grace delay before a desktop exit fires; re-entering cancels it.",
            _int(0, 10_000))
    scroll_speed: float = setting(1.5, "Mobile exit intent: scroll-up speed (px/ms) that counts as leaving.",
            _num(0.1, 100))
    back: bool = setting(True, "Mobile exit intent: report the back button.",
            _bool)
    blur: bool = setting(True, "Report window blur (switching apps) as exit intent on touch devices.",
            _bool)


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
    timeout_s: float = setting(15.0, "Deadline of one SMTP conversation.", _num(0.5, 300))
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


SECTIONS: dict[str, type] = {
    "server": ServerSettings, "redis": RedisSettings, "timing": TimingSettings, "limits": LimitSettings,
    "exit": ExitSettings, "webhooks": WebhookSettings, "api": ApiSettings, "retention": RetentionSettings,
    "push": PushSettings, "email": EmailSettings, "followups": FollowupSettings,
}


def _table(prefix: str, cls: type) -> tuple[Setting, ...]:
    return tuple(Setting(f"{prefix}.{key_of(f)}", f.metadata["default"], f.metadata["help"], f.metadata["check"])
                 for f in fields(cls))


SETTINGS: tuple[Setting, ...] = tuple(s for name, cls in SECTIONS.items() for s in _table(name, cls))
RENAMED = {  # old name -> new name; the old one is still read, with a warning
    "server.drain_seconds": "server.drain_s", "timing.session_timeout": "timing.session_timeout_s",
    "timing.leave_grace": "timing.leave_grace_s", "sites[].popup_gap": "sites[].popup_gap_s",
}
ENV_OVERRIDES = {
    "LINGER_HOST": "server.host", "LINGER_PORT": "server.port", "LINGER_DATA_DIR": "server.data_dir",
    "LINGER_LOG_LEVEL": "server.log_level", "LINGER_REDIS_URL": "redis.url",
}

