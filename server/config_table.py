"""Every setting, as one typed table: a frozen dataclass per config section, each field with its
default, help and check (config_fields.py). `cfg.timing.idle_after_ms` is an `int` to mypy and at run
time; the README's configuration table is generated from the same fields (`python -m server
config-docs --readme README.md`), and a test compares the two. Names carry their unit (`_s`, `_ms`,
`_days`); names used before that (RENAMED) are still read, with a warning. The sections around the
core are in config_features.py, the per-site ones in config_site.py."""

from __future__ import annotations

from dataclasses import dataclass

from .config_checks import Setting, _bool, _choice, _gc_thresholds, _int, _memory, _num, _redis_url, _str
from .config_features import (
    AdminSettings,
    ApiSettings,
    EmailSettings,
    FollowupSettings,
    PushSettings,
    RetentionSettings,
    WebhookSettings,
)
from .config_fields import _table, setting

ORIGIN_RE = r"https?://[A-Za-z0-9.\-\[\]:]+"


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


SECTIONS: dict[str, type] = {
    "server": ServerSettings, "redis": RedisSettings, "timing": TimingSettings, "limits": LimitSettings,
    "exit": ExitSettings, "webhooks": WebhookSettings, "api": ApiSettings, "retention": RetentionSettings,
    "push": PushSettings, "email": EmailSettings, "followups": FollowupSettings, "admin": AdminSettings,
}


SETTINGS: tuple[Setting, ...] = tuple(s for name, cls in SECTIONS.items() for s in _table(name, cls))
RENAMED = {  # old name -> new name; the old one is still read, with a warning
    "server.drain_seconds": "server.drain_s", "timing.session_timeout": "timing.session_timeout_s",
    "timing.leave_grace": "timing.leave_grace_s", "sites[].popup_gap": "sites[].popup_gap_s",
}
ENV_OVERRIDES = {
    "LINGER_HOST": "server.host", "LINGER_PORT": "server.port", "LINGER_DATA_DIR": "server.data_dir",
    "LINGER_LOG_LEVEL": "server.log_level", "LINGER_REDIS_URL": "redis.url",
}

