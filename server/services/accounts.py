"""Accounts for the admin and the ops console: roles, argon2id password hashes (argon2-cffi), sign-in
with lock-outs per account and per address, what each role may do, and the audit log.

Roles: `admin` (every site, and accounts), `merchant` (their sites: campaigns and settings), `ops`
(their sites: watch and act on shoppers; campaigns read-only)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..config import Config, is_loopback
from ..store import Store

ROLES = ("admin", "merchant", "ops")
DEMO_PASSWORD = "demo-password-change-me"  # documented in the README; refused off loopback
DEMO_USERS = (("admin@demo.example", "admin"), ("merchant@demo.example", "merchant"), ("ops@demo.example", "ops"))
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}")
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id with argon2-cffi's current defaults
_DUMMY = _hasher.hash("not a password anyone has")  # unknown accounts cost the same as known ones

# action -> roles that may do it (on a site the user has)
RIGHTS = {"view": ROLES, "edit_campaigns": ("admin", "merchant"), "settings": ("admin", "merchant"),
          "act_on_shoppers": ("admin", "ops"), "users": ("admin",)}


class AccountError(Exception):
    """Bad input for an account: `field` names the form field it is about."""

    def __init__(self, msg: str, field: str = "") -> None:
        super().__init__(msg)
        self.msg, self.field = msg, field


class SignInRefused(AccountError):
    pass


def password_mark(user: dict[str, Any]) -> str:
    """Changes with the password: a login session made before a password change no longer counts."""
    import hashlib

    return hashlib.sha256(str(user.get("hash", "")).encode()).hexdigest()[:16]


def can(user: dict[str, Any], action: str, site: str | None = None) -> bool:
    if user["role"] not in RIGHTS.get(action, ()):
        return False
    return site is None or user["role"] == "admin" or site in user["sites"] or "*" in user["sites"]


def sites_of(user: dict[str, Any], cfg: Config) -> list[str]:
    if user["role"] == "admin" or "*" in user["sites"]:
        return list(cfg.sites)
    return [s for s in cfg.sites if s in user["sites"]]


def make_user(cfg: Config, email: str, role: str, sites: list[str], password: str) -> dict[str, Any]:
    email = email.strip().lower()
    if not EMAIL_RE.fullmatch(email):
        raise AccountError("Enter an email address like name@example.com.", "email")
    if role not in ROLES:
        raise AccountError(f"The role must be one of {', '.join(ROLES)}.", "role")
    unknown = [s for s in sites if s != "*" and s not in cfg.sites]
    if unknown or not sites:
        raise AccountError(f"Unknown site {unknown[0]!r}." if unknown else "Give at least one site.", "sites")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Use at least {MIN_PASSWORD} characters.", "password")
    return {"email": email, "role": role, "sites": sites, "hash": _hasher.hash(password), "created": time.time()}


async def add_user(store: Store, cfg: Config, email: str, role: str, sites: list[str], password: str,
                   by: str) -> dict[str, Any]:
    user = make_user(cfg, email, role, sites, password)
    existed = await store.users.get(user["email"])
    await store.users.put(user)
    await audit(store, "*", by, "user.saved" if existed else "user.added", user["email"],
                _public(existed), _public(user))
    return user


def _public(user: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if user is None else {k: v for k, v in user.items() if k != "hash"}


async def seed_demo(store: Store, cfg: Config) -> int:
    """The three documented demo accounts, for the demo site, only on a loopback address."""
    if not cfg.server.demo or not is_loopback(cfg.server.host) or "demo" not in cfg.sites:
        return 0
    made = 0
    for email, role in DEMO_USERS:
        made += await store.users.add_if_new(make_user(cfg, email, role, ["demo"], DEMO_PASSWORD))
    return made


_VERIFYING = asyncio.Semaphore(2)  # argon2 runs in threads, two at a time: a burst queues, shoppers do not


async def _verify(hashed: str, password: str) -> bool:
    async with _VERIFYING:
        try:
            return bool(await asyncio.to_thread(_hasher.verify, hashed, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


async def sign_in(store: Store, cfg: Config, email: str, password: str, ip: str) -> dict[str, Any]:
    """The account, or SignInRefused with what to tell the person (never whether the account exists).
    Every attempt is counted before its password is checked (a success takes its count back), so a
    burst of parallel guesses meets the lock-out like a slow one does."""
    email = email.strip().lower()
    acct, addr = f"acct:{email}", f"ip:{ip}"
    per_acct, per_ip = await store.users.attempt(cfg.admin.lockout_s, acct, addr)
    for n, most, who, key in ((per_acct, cfg.admin.attempts_per_account, "this account", acct),
                              (per_ip, cfg.admin.attempts_per_ip, "your address", addr)):
        if n > most:
            minutes = max(1, -(-await store.users.lock_ends_in(key) // 60))
            raise SignInRefused(f"Too many failed sign-ins for {who}. Try again in {minutes} minute"
                                f"{'s' if minutes != 1 else ''}.")
    user = await store.users.get(email)
    ok = await _verify(user["hash"] if user else _DUMMY, password) and user is not None
    if not ok or user is None:
        raise SignInRefused("Wrong email or password.", "password")
    if password == DEMO_PASSWORD and not (is_loopback(cfg.server.host) and is_loopback(ip)):
        raise SignInRefused("The demo password only works on this machine (a loopback address, not through a "
                            "proxy): set a real one with `python -m server user passwd EMAIL`.", "password")
    await store.users.succeeded(acct, addr)
    if _hasher.check_needs_rehash(user["hash"]):
        user["hash"] = _hasher.hash(password)
        await store.users.put(user)
    return user


async def audit(store: Store, site: str, who: str, what: str, target: str, before: Any, after: Any) -> None:
    """Record a change: who, what, when, and the thing before and after."""
    await store.users.audit(site, {"at": time.time(), "who": who, "what": what, "target": target,
                                   "before": before, "after": after})


async def make_token(store: Store, site: str, name: str, by: str) -> str:
    """A new API token for one site, shown this once: only its hash is kept."""
    import hashlib
    import secrets

    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9 _.\-]{1,64}", name):
        raise AccountError("Name it with 1-64 letters, digits, spaces, dots, _ or -.", "name")
    token = "lg_" + secrets.token_urlsafe(32)
    record = {"name": name, "sites": [site], "created": time.time(), "by": by, "tail": token[-4:]}
    await store.users.add_token(hashlib.sha256(token.encode()).hexdigest(), record)
    await audit(store, site, by, "token.added", name, None, record)
    return token


async def site_tokens(store: Store, site: str) -> list[tuple[str, dict[str, Any]]]:
    return sorted(((d, t) for d, t in (await store.users.tokens()).items() if site in t["sites"]),
                  key=lambda x: -x[1]["created"])


async def revoke_token(store: Store, site: str, digest: str, by: str) -> bool:
    record = await store.users.token(digest)
    if record is None or site not in record["sites"]:
        return False
    await store.users.revoke_token(digest)
    await audit(store, site, by, "token.revoked", record["name"], record, None)
    return True
