"""`python -m server user add|passwd|list|remove`: accounts for the admin and the ops console."""

from __future__ import annotations

import getpass
import sys
import time

from .cli import _open_store
from .config import Config
from .services import accounts


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (10 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise accounts.AccountError("The two passwords differ.", "password")
    return first


async def user_cli(cfg: Config, action: str, email: str, role: str, sites: str, from_stdin: bool) -> int:
    store, emb = await _open_store(cfg)
    try:
        if action == "list":
            for u in await store.users.all():
                print(f"{u['email']}\t{u['role']}\t{','.join(u['sites'])}")
            return 0
        if action == "remove":
            gone = await store.users.delete(email.strip().lower())
            if gone:
                await accounts.audit(store, "*", "command line", "user.removed", email, None, None)
            print(f"removed {email}" if gone else f"no account {email}")
            return 0 if gone else 1
        existing = await store.users.get(email.strip().lower())
        if action == "passwd":
            if existing is None:
                print(f"linger: no account {email}", file=sys.stderr)
                return 1
            role, site_list = existing["role"], existing["sites"]
        else:
            site_list = [s for s in sites.split(",") if s] if sites else list(cfg.sites)[:1]
        user = await accounts.add_user(store, cfg, email, role, site_list, _password(from_stdin), "command line")
        verb = "updated" if existing else "added"
        print(f"{verb} {user['email']} ({user['role']}, sites: {', '.join(user['sites'])})")
        return 0
    except accounts.AccountError as e:
        print(f"linger: {e.field}: {e.msg}" if e.field else f"linger: {e.msg}", file=sys.stderr)
        return 2
    finally:
        await store.close()
        if emb:
            emb.stop()


async def unsubscribe_cli(cfg: Config, email: str, site: str) -> int:
    """`python -m server unsubscribe EMAIL [--site KEY]`: what the mailto: unsubscribe asked for."""
    from .services.followups import stop_emails

    store, emb = await _open_store(cfg)
    try:
        n = await stop_emails(store, site, email.strip().lower(), "", time.time())
        print(f"{email} unsubscribed from follow-up emails of site {site!r}; {n} pending step(s) cancelled")
        return 0
    finally:
        await store.close()
        if emb:
            emb.stop()
