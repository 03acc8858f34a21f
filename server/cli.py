"""`python -m server campaigns export|import FILE [--site KEY]`: campaigns as TOML files, through the
same service the API uses. Works beside a running server (its embedded Redis) or without one."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import Config
from .core.campaigns import CampaignError, parse_campaigns_toml
from .embedded import EmbeddedRedis
from .services import campaigns
from .store import Store, StoreError


async def _open_store(cfg: Config) -> tuple[Store, EmbeddedRedis | None]:
    """The configured Redis; else a running server's embedded one; else start the embedded one briefly."""
    url, emb = cfg.redis.url, None
    if not url:
        emb = EmbeddedRedis(cfg.data_dir, maxmemory=cfg.redis.maxmemory)
        url = emb.url
    store = Store(url, cfg.redis.prefix, durable_acks=False)
    try:
        await store.open(wait=0.5 if emb else 5.0)
        return store, None
    except StoreError:
        await store.close()
        if emb is None:
            raise
    emb.start()
    store = Store(emb.url, cfg.redis.prefix, durable_acks=False)
    await store.open()
    return store, emb


async def campaigns_cli(cfg: Config, action: str, path: str, site: str) -> int:
    if site not in cfg.sites:
        print(f"linger: unknown site {site!r} (sites: {', '.join(cfg.sites)})", file=sys.stderr)
        return 2
    if action == "import":
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            camps = parse_campaigns_toml(text)
        except OSError as e:
            print(f"linger: cannot read {path}: {e.strerror}", file=sys.stderr)
            return 2
        except CampaignError as e:
            print(f"linger: {path}: {e}; nothing was imported", file=sys.stderr)
            return 2
    store, emb = await _open_store(cfg)
    try:
        if action == "export":
            doc, n = await campaigns.export_toml(store, site)
            if path == "-":
                sys.stdout.write(doc)
            else:
                Path(path).write_text(doc, encoding="utf-8")
                print(f"exported {n} campaign(s) of site {site!r} to {path}")
            return 0
        new = await campaigns.import_all(store, site, camps)
        print(f"imported {len(camps)} campaign(s) into site {site!r}: {new} new, {len(camps) - new} updated")
        return 0
    finally:
        await store.close()
        if emb:
            emb.stop()


def init_cli(cfg: Config) -> int:
    """`python -m server init`: the data directory, the VAPID key pair and the link-signing secret."""
    from .signing import load_secret
    from .vapid import create

    key, new = create(cfg.vapid_key_path)
    load_secret(cfg.secret_path)
    print(f"{'created' if new else 'kept'} {cfg.vapid_key_path} (public key {key.public[:16]}…)")
    print(f"link-signing secret in {cfg.secret_path}; back up both files, and give every instance the same ones")
    return 0


def vapid_cli(cfg: Config, what: str) -> int:
    """`python -m server vapid show|rotate`."""
    from .vapid import load_file, rotate

    if what == "show":
        print(load_file(cfg.vapid_key_path).public)
        return 0
    key = rotate(cfg.vapid_key_path)
    print(f"new VAPID key {key.public[:16]}… in {cfg.vapid_key_path} (the old one is kept beside it). Restart "
          "the server: it records the new key, and each subscriber's widget subscribes again on their next visit.")
    return 0


async def email_test_cli(cfg: Config, to: str) -> int:
    """`python -m server email-test ADDRESS`: send one sample follow-up through the configured SMTP."""
    from .workers.mailer import Mailer, Permanent, Temporary

    if not cfg.email.from_:
        print("email.from is not set in the config", file=sys.stderr)
        return 2
    site = next(iter(cfg.sites))
    cart = {"count": 1, "total": 42.0, "currency": cfg.sites[site].currency,
            "items": [{"name": "Sample item", "qty": 1, "price": 42.0}]}
    mailer = Mailer(cfg)
    msg = mailer.compose(to, {"step": 1, "cart": cart, "shop": cfg.sites[site].name, "code": "",
                              "cart_url": cfg.cart_url(site), "unsubscribe_url": f"{cfg.public_url}/f/u/test",
                              "postal_address": cfg.email.postal_address})
    try:
        answer = await mailer.send(msg)
    except (Permanent, Temporary) as e:
        print(f"not sent: {e}", file=sys.stderr)
        return 1
    print(f"sent to {to} via {cfg.email.smtp_host or 'the mail folder'}: {answer}")
    return 0
