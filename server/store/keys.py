"""Every Redis key Linger writes, in one place. Each starts with `redis.prefix` (default `lg:`).

| key                     | type   | holds                                                          | bounded by |
|-------------------------|--------|----------------------------------------------------------------|------------|
| `s:{sid}`               | string | session JSON (core.session.Session)                            | TTL session_timeout + 1 h |
| `v:{vid}`               | hash   | visitor: site, first_seen, last_seen, visits, last_sid, hist, email, engaged | TTL: the session's until the visitor does more than say hello, then retention.visitors_days |
| `vz:{vid}`              | zset   | the visitor's session ids -> start (erasure)                   | the newest 1000; TTL as the visitor |
| `ids:{vid}`             | zset   | ids of client messages already applied -> when                 | entries older than 30 days are dropped on every write; TTL 30 days |
| `live:{site}`           | zset   | sid -> started; sessions not yet ended                         | ended sessions leave it |
| `timers`                | zset   | "kind|sid" -> due (epoch s): leave and end of sessions with no socket | popped or leased, then removed |
| `rec:{kind}:{site}`     | hash   | record id -> JSON: purchase, push, popupev, alert                | retention.records_days |
| `recz:{kind}:{site}`    | zset   | record id -> time (order, retention)                           | retention.records_days |
| `rvz:{vid}`             | zset   | "kind|site|record id" of the visitor's records -> when (erasure) | entries past retention.records_days dropped on every write; TTL the same |
| `lead:{site}:{email}`   | string | lead JSON snapshot of the latest capture (core.leads.merge_lead) | TTL retention.leads_days; deleted by the sweep after leads_unconsented_days without consent |
| `leadc:{site}:{email}`  | string | the lead's consent {at, text}, written once (SET NX)           | TTL retention.leads_days |
| `leads:{site}`          | zset   | email -> first seen; the lead list, paged by score             | expired leads are pruned |
| `leadexp:{site}`        | zset   | email -> when the lead goes unless it has consent (the sweep)   | pruned when due |
| `ev:{site}:{email}`     | set    | every visitor identified by this address, uncapped (erasure)   | a day longer than the lead |
| `q:{queue}:{id}`        | string | a job of a queue (store/queue.py): JSON, then a tombstone {id, done, at} once finished | TTL 7 days from queueing |
| `qq:{queue}:{lane}`     | zset   | job id -> when to try next (leased while in flight), per lane  | finished jobs leave it |
| `ql:{queue}`            | zset   | lane -> its earliest due job                                   | empty lanes leave it |
| `qv:{queue}:{vid}`      | set    | the visitor's pending job ids (erasure)                        | TTL 7 days |
| `qlog:{queue}:{site}`   | list   | finished jobs, newest first, no payloads                       | 1000 entries |
| `wh:` `whq:` `wheps` `wv:` `whlog:` | | the same five for the `webhooks` queue (lane = endpoint), named as before the queue was generic | as above |
| `psub:{vid}`             | string | the visitor's one push subscription {endpoint, keys, key (VAPID key id), at, fails} | TTL retention.visitors_days |
| `unsub:{site}`          | set    | addresses that unsubscribed from follow-up emails              | one per address |
| `undeliv:{site}`        | set    | addresses whose mail server refused them for good (5xx)        | one per address |
| `fustat:{site}`         | hash   | "{channel}{step}:{what}" -> count (scheduled, sent, clicked, ...), ":revenue" sums | steps of the plan |
| `fusched:{site}:{step}` | hll    | ids of the follow-up jobs scheduled for a step (counted once each) | 12 KB each |
| `fuclk:{site}:{plan}:{step}` | string | set at the first click on a step of a plan (clicks counted once) | TTL 30 days |
| `user:{email}`          | string | an admin/ops account: email, role, sites, argon2id hash, created | until deleted |
| `users`                 | set    | every account's email                                          | accounts |
| `apitokens`             | hash   | API tokens made in the admin: sha256 of the token -> {name, sites, created, by, tail} (never the token) | until revoked |
| `asess:{id}`            | string | a login session {email, csrf, created, ip}                      | TTL admin.idle_timeout_s, restarted by each request |
| `lfail:{who}`           | string | failed logins of an address ("ip:…") or account ("acct:…")      | TTL admin.lockout_s from the first failure |
| `audit:{site}`          | list   | every change made in the admin or API: who, what, when, before/after ("*" for accounts) | 10,000 entries |
| `cstatd:{site}:{cid}:{day}` | hash | a campaign's counters of one UTC day (the admin's last 7 days) | TTL 40 days |
| `linksecret`            | string | the fingerprint of the secret that seals links (a start refuses another) | one key |
| `funnel:{site}:{day}:{kind}` | hll | sessions that reached a page kind on a UTC day (the admin's funnel) | TTL 120 days |
| `preview:{token}`       | string | a draft campaign for "preview on my store" {site, campaign, variant} | TTL 10 minutes |
| `vapid`                 | string | the VAPID public key subscriptions were made with (start refuses another silently) | one key |
| `camp:{site}`           | hash   | campaign id -> campaign JSON                                   | merchant-made |
| `campseed:{site}`       | string | set once the site's seed campaigns were loaded                 | one per site |
| `cstat:{site}:{cid}`    | hash   | "{variant}:{event}" -> count, "{variant}:revenue" -> sum       | campaigns that exist (events for others are refused) |
| `instances`             | zset   | instance id -> last heartbeat                                  | dead ones are claimed and removed |
| `inst:{instance}`       | set    | sessions with a socket on that instance                        | TTL 7 days |
| `fsync`                 | string | a counter the writer bumps so WAITAOF has a write of its own to wait for | one key |
| `health`                | string | written by /healthz to see that writes are taken               | one key, TTL 60 s |
| `erasures`              | zset   | erasure id -> when: every instance replays the last hour's, so none misses one | an hour |
| `erasure:{id}`          | string | the visitors of one erasure, as salted hashes (no visitor id)   | TTL an hour |
| `eraseack:{id}`         | set    | instances that dropped those visitors and flushed their writes | TTL an hour |
| `campaigns`             | pubsub | a site key whose campaigns changed (every instance reloads)    | |
| `control`               | pubsub | {"erase": [visitor hashes], "id"}: every instance drops those sessions, flushes, confirms | |
| `events:{site}`         | pubsub | notable session events (left, idle, purchase, ...)             | |

No key that client input creates lacks a TTL or a bound: ids, visitors and records expire, popup
events are accepted only for campaigns that exist, and lists are capped.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys", "QueueKeys"]


@dataclass(frozen=True)
class QueueKeys:
    """Where one job queue keeps its jobs (store/queue.py)."""
    job: str  # + id: the job JSON, or its tombstone once finished
    lane: str  # + lane: id -> due
    lanes: str  # lane -> earliest due
    visitor: str  # + vid: the visitor's job ids (erasure)
    log: str  # + site: finished jobs, newest first
    legacy: str = ""  # one queue for every lane, written by older versions (webhooks only)


class Keys:
    def __init__(self, prefix: str) -> None:
        self.p = prefix

    def session(self, sid: str) -> str:
        return f"{self.p}s:{sid}"

    def visitor(self, vid: str) -> str:
        return f"{self.p}v:{vid}"

    def visitor_sessions(self, vid: str) -> str:
        return f"{self.p}vz:{vid}"

    def legacy_visitor_sessions(self, vid: str) -> str:
        return f"{self.p}vs:{vid}"  # a set, written by versions before the capped sorted set

    def done(self, vid: str) -> str:
        return f"{self.p}ids:{vid}"

    def legacy_done(self, vid: str) -> str:
        return f"{self.p}done:{vid}"  # a set without times, written by older versions

    def live(self, site: str) -> str:
        return f"{self.p}live:{site}"

    @property
    def timers(self) -> str:
        return f"{self.p}timers"

    def records(self, kind: str, site: str) -> str:
        return f"{self.p}rec:{kind}:{site}"

    def records_by_time(self, kind: str, site: str) -> str:
        return f"{self.p}recz:{kind}:{site}"

    def visitor_records(self, vid: str) -> str:
        return f"{self.p}rvz:{vid}"

    def legacy_visitor_records(self, vid: str) -> str:
        return f"{self.p}rv:{vid}"  # a set without times, written by older versions

    def lead(self, site: str, email: str) -> str:
        return f"{self.p}lead:{site}:{email}"

    def lead_consent(self, site: str, email: str) -> str:
        return f"{self.p}leadc:{site}:{email}"

    def leads(self, site: str) -> str:
        return f"{self.p}leads:{site}"

    def lead_expiry(self, site: str) -> str:
        return f"{self.p}leadexp:{site}"

    def email_visitors(self, site: str, email: str) -> str:
        return f"{self.p}ev:{site}:{email}"

    def queue(self, name: str) -> QueueKeys:
        """The keys of job queue `name`. Webhook deliveries keep the names they had before the queue
        was generic, so deliveries pending across an upgrade are not lost."""
        p = self.p
        if name == "webhooks":
            return QueueKeys(f"{p}wh:", f"{p}whq:", f"{p}wheps", f"{p}wv:", f"{p}whlog:", legacy=f"{p}whq")
        return QueueKeys(f"{p}q:{name}:", f"{p}qq:{name}:", f"{p}ql:{name}", f"{p}qv:{name}:", f"{p}qlog:{name}:")

    def push_sub(self, vid: str) -> str:
        return f"{self.p}psub:{vid}"

    def unsubscribed(self, site: str) -> str:
        return f"{self.p}unsub:{site}"

    def undeliverable(self, site: str) -> str:
        return f"{self.p}undeliv:{site}"

    def followup_stats(self, site: str) -> str:
        return f"{self.p}fustat:{site}"

    def followup_scheduled(self, site: str, step: str) -> str:
        return f"{self.p}fusched:{site}:{step}"

    def followup_click(self, site: str, plan: str, step: str) -> str:
        return f"{self.p}fuclk:{site}:{plan}:{step}"

    def user(self, email: str) -> str:
        return f"{self.p}user:{email}"

    @property
    def users(self) -> str:
        return f"{self.p}users"

    @property
    def api_tokens(self) -> str:
        return f"{self.p}apitokens"

    def admin_session(self, sid: str) -> str:
        return f"{self.p}asess:{sid}"

    def login_failures(self, name: str) -> str:
        return f"{self.p}lfail:{name}"

    def audit(self, site: str) -> str:
        return f"{self.p}audit:{site}"

    def funnel(self, site: str, day: str, kind: str) -> str:
        return f"{self.p}funnel:{site}:{day}:{kind}"

    def preview(self, token: str) -> str:
        return f"{self.p}preview:{token}"

    def campaign_day(self, site: str, cid: str, day: str) -> str:
        return f"{self.p}cstatd:{site}:{cid}:{day}"

    @property
    def link_secret(self) -> str:
        return f"{self.p}linksecret"

    @property
    def vapid(self) -> str:
        return f"{self.p}vapid"

    def campaigns(self, site: str) -> str:
        return f"{self.p}camp:{site}"

    def campaign_seeded(self, site: str) -> str:
        return f"{self.p}campseed:{site}"

    def campaign_stats(self, site: str, cid: str) -> str:
        return f"{self.p}cstat:{site}:{cid}"

    @property
    def instances(self) -> str:
        return f"{self.p}instances"

    def instance_sessions(self, instance: str) -> str:
        return f"{self.p}inst:{instance}"

    @property
    def fsync(self) -> str:
        return f"{self.p}fsync"

    @property
    def health(self) -> str:
        return f"{self.p}health"

    @property
    def erasures(self) -> str:
        return f"{self.p}erasures"

    def erasure(self, eid: str) -> str:
        return f"{self.p}erasure:{eid}"

    def erasure_acks(self, eid: str) -> str:
        return f"{self.p}eraseack:{eid}"

    @property
    def campaigns_channel(self) -> str:
        return f"{self.p}campaigns"

    @property
    def control_channel(self) -> str:
        return f"{self.p}control"

    def events_channel(self, site: str) -> str:
        return f"{self.p}events:{site}"
