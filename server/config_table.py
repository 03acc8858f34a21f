"""Every setting: name, default, help and check. The README's configuration table is generated
from this (`python -m server config-docs --readme README.md`), and a test compares the two."""

from __future__ import annotations

from .config_checks import (
    DEMO_TOKEN,
    Setting,
    _api_tokens,
    _bool,
    _choice,
    _gc_thresholds,
    _hosts,
    _int,
    _memory,
    _num,
    _redis_url,
    _str,
    _str_list,
    _target,
    _webhooks,
)

ORIGIN_RE = r"https?://[A-Za-z0-9.\-\[\]:]+"
SETTINGS: tuple[Setting, ...] = (
    Setting("server.host", "127.0.0.1", "Address to listen on. Env: LINGER_HOST.", _str(allow_empty=False)),
    Setting("server.port", 8000, "TCP port to listen on. Env: LINGER_PORT.", _int(0, 65535)),
    Setting("server.data_dir", "var", "Directory for the embedded Redis (socket, append-only file, logs); "
            "relative to the config file. Env: LINGER_DATA_DIR.", _str(allow_empty=False)),
    Setting("server.log_level", "info", "Log level: debug, info, warning, error. Env: LINGER_LOG_LEVEL.",
            _choice("debug", "info", "warning", "error")),
    Setting("server.drain_seconds", 5.0, "On shutdown, how long to wait for sockets to close (they get 1012).",
            _num(0, 300)),
    Setting("server.gc_thresholds", [50000, 20, 100], "Python GC thresholds (gc.set_threshold). Larger than "
            "Python's [700, 10, 10] so that with 15k sockets held a full collection (about 1 s) is rare instead "
            "of every few seconds; [0, 0, 0] leaves Python's defaults.", _gc_thresholds),
    Setting("server.heartbeat_s", 5.0, "Instances say they are alive this often; one silent for 6 heartbeats "
            "is taken for dead and its sockets are closed for it (its sessions then leave as usual).",
            _num(0.05, 600)),
    Setting("server.demo", True, "Serve the demo storefront at /demo.", _bool),
    Setting("server.forwarded_allow_ips", "127.0.0.1", "Proxies whose X-Forwarded-For is believed for the client "
            "address (comma-separated IPs or networks, \"*\" for any). Per-address limits use that address.",
            _str(r"[0-9A-Fa-f:.,/* ]+", allow_empty=False)),
    Setting("redis.url", "", "Redis URL (redis://, rediss://, unix://); percent-encode @ : / in a password. Empty: "
            "start an embedded valkey-server/redis-server under data_dir. Env: LINGER_REDIS_URL.", _redis_url),
    Setting("redis.prefix", "lg:", "Prefix for every key Linger writes, so one Redis can hold several "
            "deployments.", _str(r"[A-Za-z0-9:_\-]{1,32}", allow_empty=False)),
    Setting("redis.durable_acks", True, "Acknowledge id-messages only after the append-only file is fsynced "
            "(WAITAOF). Needs appendonly on the server; turned off with a warning if it is not.", _bool),
    Setting("redis.maxmemory", "1gb", "Memory cap of the embedded server (valkey maxmemory, with noeviction): "
            "when it is full, writes fail and clients get `unavailable`, and nothing acknowledged is lost. "
            "\"0\" for no cap. Ignored with redis.url (set it on your server).", _memory),
    Setting("redis.pool_size", 64, "Most connections this instance opens to Redis; callers queue for a free "
            "one beyond that.", _int(2, 10_000)),
    Setting("timing.session_timeout", 1800.0, "Seconds with no open socket after which a session ends; a new "
            "hello then starts a new session.", _num(1, 7 * 86400)),
    Setting("timing.leave_grace", 30.0, "Seconds with no open socket after which the shopper has left "
            "(navigation reconnects within a second).", _num(0.05, 86400)),
    Setting("timing.idle_after_ms", 60000, "No activity for this long on a cart or checkout page makes the "
            "session idle.", _int(50, 86_400_000)),
    Setting("timing.act_every_ms", 5000, "The widget sends `act` at most this often.", _int(50, 600_000)),
    Setting("timing.timer_tick_ms", 250, "How often the timer loop looks for due timers.",
            _int(5, 10_000)),
    Setting("timing.timers_per_tick", 200, "Most shared (leave/end) timers handled per tick, so a backlog after "
            "a restart never delays live shoppers' own timers, which are handled first.", _int(1, 100_000)),
    Setting("limits.max_frame_bytes", 8192, "Inbound frames larger than this close the socket with 1009.",
            _int(512, 1_048_576)),
    Setting("limits.frames_per_second", 20.0, "Sustained inbound frame rate allowed per socket.", _num(0.1, 10_000)),
    Setting("limits.frame_burst", 60, "Frames a socket may send in a burst above the sustained rate.",
            _int(1, 100_000)),
    Setting("limits.sockets_per_ip", 500, "Open widget sockets one client address may hold on this instance "
            "(shoppers share NATs: keep it generous); more are refused with HTTP 429. 0: no limit.",
            _int(0, 10_000_000)),
    Setting("limits.new_visitors_per_ip_per_min", 600, "New visitors one client address may create per minute "
            "on this instance; beyond it a hello without a known visitor gets `rate_limited` and the socket "
            "closes. 0: no limit.", _int(0, 10_000_000)),
    Setting("limits.new_sessions_per_ip_per_min", 1200, "New sessions (of new or known visitors) one client address "
            "may start per minute on this instance; beyond it the hello gets `rate_limited`. 0: no limit.",
            _int(0, 10_000_000)),
    Setting("limits.messages_per_ip_per_min", 300, "Messages with an id (purchase, email, push, popup: the ones "
            "stored for good) one client address may send per minute on this instance; beyond it they get "
            "`rate_limited` and the widget resends them later. 0: no limit.", _int(0, 10_000_000)),
    Setting("limits.leads_per_ip_per_hour", 120, "Leads one client address may create or update per hour on this "
            "instance; captures beyond it are acknowledged but not kept (counted in "
            "linger_emails_refused_total). 0: no limit.", _int(0, 10_000_000)),
    Setting("limits.max_bad_frames", 20, "Bad or rate-limited frames after which the socket closes with 1008.",
            _int(1, 100_000)),
    Setting("exit.sensitivity_px", 20, "Desktop exit intent: the mouse leaves through the top within this many "
            "pixels.", _int(0, 500)),
    Setting("exit.min_dwell_ms", 2000, "Exit intent is armed only after the page has been open this long.",
            _int(0, 600_000)),
    Setting("exit.delay_ms", 100, "Grace delay before a desktop exit fires; re-entering cancels it.",
            _int(0, 10_000)),
    Setting("exit.scroll_speed", 1.5, "Mobile exit intent: scroll-up speed (px/ms) that counts as leaving.",
            _num(0.1, 100)),
    Setting("exit.back", True, "Mobile exit intent: report the back button.", _bool),
    Setting("exit.blur", True, "Report window blur (switching apps) as exit intent on touch devices.", _bool),
    Setting("webhooks.max_attempts", 12, "Tries per webhook delivery before it is given up (logged as failed).",
            _int(1, 100)),
    Setting("webhooks.retry_base_s", 2.0, "Wait after the first failed try; it doubles after each one.",
            _num(0.01, 3600)),
    Setting("webhooks.retry_max_s", 3600.0, "The longest wait between two tries.", _num(0.01, 86400)),
    Setting("webhooks.timeout_s", 10.0, "Deadline of one whole delivery attempt (connect, send, and reading at "
            "most 64 KiB of the answer); a delivery's lease is always longer.", _num(0.1, 120)),
    Setting("webhooks.parallel", 32, "Deliveries in flight at once on this instance.", _int(1, 1000)),
    Setting("webhooks.per_endpoint", 2, "Of those, at most this many to one endpoint, so a slow endpoint cannot "
            "hold up the others.", _int(1, 1000)),
    Setting("webhooks.poll_ms", 500, "How often the delivery worker looks for due deliveries.", _int(5, 60_000)),
    Setting("api.tokens", [], "Bearer tokens for /api/v1, each scoped to sites: [[api.tokens]] tables with token "
            "(16+ characters), sites (site keys, or [\"*\"]) and an optional name shown in logs. The demo token "
            f"{DEMO_TOKEN!r} is refused unless server.host is a loopback address.", _api_tokens),
    Setting("retention.records_days", 90.0, "Purchase, push, popup-event and alert records are kept this long. "
            "0: forever.", _num(0, 36_500)),
    Setting("retention.visitors_days", 400.0, "A visitor (and their sessions index and applied ids) is kept this "
            "long after their last visit. A visitor who only said hello expires with the session.",
            _num(0.000001, 36_500)),
    Setting("retention.leads_unconsented_days", 30.0, "Leads still without consent this long after their last "
            "capture are deleted, with their address on every visitor.", _num(0.000001, 36_500)),
    Setting("retention.leads_days", 1095.0, "Every lead (with consent too) is deleted this long after its last "
            "capture, with its address on its visitors. 0: leads with consent stay until erased.",
            _num(0, 36_500)),
    Setting("retention.sweep_s", 60.0, "How often expired records and leads are swept out of the lists.",
            _num(0.05, 86_400)),
    Setting("push.allowed_hosts", ["fcm.googleapis.com", "updates.push.services.mozilla.com", "web.push.apple.com",
                                   "*.push.apple.com", "*.notify.windows.com"],
            "Push services a subscription endpoint may point to (`host`, `*.suffix`, or `host:port`); https only, "
            "except a loopback `host:port` entry (a local stand-in) may be plain http. Others are refused.",
            _hosts),
)
SITE_SETTINGS: tuple[Setting, ...] = (
    Setting("sites[].key", None, "Site key used in the script tag (data-site) and the API (?site=).",
            _str(r"[A-Za-z0-9_\-]{1,64}", allow_empty=False)),
    Setting("sites[].name", "", "Shop name shown to merchants and in the ops console.", _str()),
    Setting("sites[].origins", None, "Origins (scheme://host[:port]) allowed to open the widget socket.",
            _str_list(ORIGIN_RE, allow_empty=False)),
    Setting("sites[].currency", "EUR", "Default ISO 4217 currency of the shop.", _str(r"[A-Z]{3}")),
    Setting("sites[].keep_query_params", [], "Page URL query parameters kept besides utm_* (everything else, and "
            "the fragment, is dropped before anything is stored, e.g. reset tokens and order keys).",
            _str_list(r"[A-Za-z0-9_.\-\[\]]{1,64}")),
    Setting("sites[].image_hosts", [], "Hosts cart item images may come from besides the origins (a CDN, e.g. "
            "\"cdn.shopify.com\" or \"*.cdn.example\"). Item links must be on the origins or relative.", _hosts),
    Setting("sites[].popup_gap", 30.0, "Seconds between two popups for one shopper (site-wide; at most one "
            "is ever on screen).", _num(0, 86400)),
    Setting("sites[].attribution_days", 7.0, "A purchase this many days after a popup impression counts for "
            "that campaign (last touch).", _num(0, 365)),
    Setting("sites[].capture", "consent", "Live email capture: off (only popup forms), consent (typed addresses "
            "once the consent box is ticked or the form submitted), live (every valid address as typed).",
            _choice("off", "consent", "live")),
    Setting("sites[].email_selectors", [], "Extra CSS selectors of email inputs to watch, besides type=email and "
            "autocomplete=email.", _str_list(r".{1,200}")),
    Setting("sites[].consent_selector", "input[name=consent]", "CSS selector of the consent checkbox, looked up "
            "in the email field's form (else the page).", _str(r".{1,200}")),
    Setting("sites[].nudge", "cart", "Tab nudge: cart (swap the tab title and favicon while a shopper with a "
            "cart is on another tab) or off.", _choice("cart", "off")),
    Setting("sites[].nudge_title", "({count}) Your cart is waiting", "Tab title while nudging; {count}, "
            "{total} and {currency} are filled in.", _str(r".{1,120}", allow_empty=False)),
    Setting("sites[].nudge_alt_title", "", "If set, the tab title alternates with this every second.",
            _str(r".{1,120}")),
    Setting("sites[].nudge_sound", False, "Play a short chime with the nudge where the browser allows audio.",
            _bool),
    Setting("sites[].nudge_min_total", 0.0, "Nudge only carts of at least this total.", _num(0, 1e9)),
    Setting("sites[].nudge_target", {}, "Campaign-style targeting for the nudge, e.g. { device = \"desktop\" }.",
            _target),
    Setting("sites[].alert_cart_total", 250.0, "A cart of at least this total raises an abandonment alert when it "
            "goes idle at checkout or leaves.", _num(0, 1e9)),
    Setting("sites[].webhooks", [], "Outbound webhooks: a list of { url, secret (16+ characters), events } with "
            "events from lead.captured, cart.abandoned, alert.raised, purchase.", _webhooks),
    Setting("sites[].seed_campaigns", "", "TOML file of [[campaigns]] loaded on the first start, when the site "
            "has none yet (relative to the config file).", _str()),
)
ENV_OVERRIDES = {
    "LINGER_HOST": "server.host", "LINGER_PORT": "server.port", "LINGER_DATA_DIR": "server.data_dir",
    "LINGER_LOG_LEVEL": "server.log_level", "LINGER_REDIS_URL": "redis.url",
}
