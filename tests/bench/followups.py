"""Follow-up throughput: how fast the worker empties a backlog of due steps (say, after an outage),
against the bare cost of sending, measured in the same run.

  linger    --plans visitors, each with a push step and an email step due now, in a real valkey.
            One FollowUpWorker (followups.parallel slots) leases, checks (still wanted? visitor back?
            on the site? bought?), claims, sends, queues the next step and finishes each.
  baseline  the same number of pushes (pywebpush, aes128gcm, VAPID) and emails (aiosmtplib) sent
            directly, with the same parallelism, to the same push stand-in and SMTP server.

    .venv/bin/python tests/bench/followups.py --plans 500

Reported: steps/s for both and their ratio, and the worker's overhead per step in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from server import config  # noqa: E402
from server.embedded import EmbeddedRedis  # noqa: E402
from server.signing import Signer  # noqa: E402
from server.store import Store  # noqa: E402
from server.vapid import create  # noqa: E402
from server.workers.followups import FollowUpWorker  # noqa: E402
from tests.pushstand import PushStandIn  # noqa: E402
from tests.support import free_port  # noqa: E402


class Sink:
    def __init__(self) -> None:
        self.n = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.n += 1
        return "250 OK"


def job(n: int, channel: str) -> dict[str, Any]:
    return {"id": f"{channel}-{n:024x}", "site": "demo", "vid": f"v{n}", "sid": f"s{n}", "channel": channel,
            "step": 1, "plan": f"p{n}", "tz": "", "lang": "", "created": 1.0, "at": 1.0, "attempts": 0,
            "cart": {"count": 1, "total": 49.0, "currency": "EUR",
                     "items": [{"id": "1", "name": "Linen shirt", "price": 49.0, "qty": 1}]}}


async def main(plans: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="linger-bench-fu-"))
    stand, sink = PushStandIn(), Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    redis = EmbeddedRedis(tmp / "var")
    url = redis.start()
    cfg = config.load(doc={"sites": [{"key": "demo", "origins": ["https://shop.example"],
                                      "followups": {"push_after_s": [60], "email_after_s": [60, 60]}}],
                           "email": {"from": "Shop <shop@shop.example>", "smtp_host": "127.0.0.1",
                                     "smtp_port": smtp_port, "tls": "none"},
                           "push": {"allowed_hosts": [f"127.0.0.1:{stand.port}"],
                                    "vapid_sub": "mailto:o@shop.example"}},
                      env={}, overrides={"server.data_dir": str(tmp / "var")})
    store = Store(url)
    await store.open()
    key = create(tmp / "vapid.pem")[0]
    worker = FollowUpWorker(cfg, store, key, Signer("s" * 40))
    try:
        subs = [stand.subscribe() for _ in range(plans)]
        for n in range(plans):
            store.sessions.save_visitor(f"v{n}", {"site": "demo", "last_seen": 0.5, "email": f"shopper{n}@example.com",
                                                  "consent": "1", "last_sid": f"s{n}"}, 3600)
            store.followups.subscribe(f"v{n}", subs[n], key.public, 1.0, 3600)
            for channel in ("push", "email"):
                worker.q.enqueue(job(n, channel), 1.0)
        await store.writer.commit()

        # baseline: the sends alone, same parallelism, same receivers
        sem = asyncio.Semaphore(cfg.followups.parallel)
        mails = [worker.mailer.compose(f"shopper{n}@example.com", {
            "step": 1, "cart": job(n, "email")["cart"], "shop": "Demo", "code": "", "cart_url": "https://x/c",
            "unsubscribe_url": "https://x/u", "postal_address": ""}) for n in range(plans)]

        async def bare(n: int) -> None:
            async with sem:
                await worker.pusher.send(subs[n], {"web_push": 8030, "notification": {"title": "t", "body": "b"}},
                                         86400, "normal", "t")
                await worker.mailer.send(mails[n])

        t0 = time.perf_counter()
        await asyncio.gather(*(bare(n) for n in range(plans)))
        base_s = time.perf_counter() - t0
        base_steps = 2 * plans / base_s

        received_before, mails_before = len(stand.received), sink.n
        t0 = time.perf_counter()
        worker.start()
        while len(stand.received) - received_before < plans or sink.n - mails_before < plans:
            await asyncio.sleep(0.01)
        linger_s = time.perf_counter() - t0
        await worker.stop()
        linger_steps = 2 * plans / linger_s
        queued = len(await worker.q.pending("demo", ["email"], limit=plans * 2))
        print(f"plans: {plans} (a push and an email step each, all due), parallel {cfg.followups.parallel}")
        print(f"{'':34}{'linger':>10}{'bare sends':>12}  ratio")
        print(f"{'steps/s':34}{linger_steps:10.0f}{base_steps:12.0f}  {linger_steps / base_steps:.2f}x")
        print(f"{'wall time s':34}{linger_s:10.2f}{base_s:12.2f}")
        print(f"worker overhead per step: {1000 * (linger_s - base_s) / (2 * plans):.2f} ms "
              f"(checks, claim, next step, finish: Redis round trips); next steps queued: {queued}")
        print(f"push stand-in refused: {len(stand.refused)} (must be 0)")
    finally:
        await store.close()
        redis.stop()
        smtp.stop()
        stand.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plans", type=int, default=500, help="visitors with a due push and email step each")
    asyncio.run(main(ap.parse_args().plans))
