"""Sealed tokens in links (unsubscribe, follow-up clicks): encrypted and authenticated (Fernet, from
`cryptography`) with a key derived from a secret kept in the data directory (`secret.key`, made by
`python -m server init` or the first start), one key per purpose, so an unsubscribe token cannot be
used as a click token and neither shows the address or visitor it carries in a log.

Links already sent stay valid only while the secret stays the same: its fingerprint is recorded in
Redis, and a start that finds the file missing or different stops instead of making a new one."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken

FILE = "secret.key"


class SecretError(Exception):
    pass


def fingerprint(secret: str) -> str:
    return hashlib.sha256(f"linger-secret\0{secret}".encode()).hexdigest()[:16]


def at_start(path: Path, recorded: str | None) -> tuple[str, bool]:
    """The link secret, checked against the fingerprint Redis recorded. Returns it and whether Redis
    must record it (first start)."""
    if not path.exists() and recorded:
        raise SecretError(f"{path} is missing, but links in emails already sent were sealed with another "
                          f"secret: restore the file (instances share one: server.secret_file); a new one would "
                          f"break every unsubscribe link sent so far")
    secret = load_secret(path)
    if recorded and recorded != fingerprint(secret):
        raise SecretError(f"{path} is not the secret links already sent were sealed with (recorded in Redis): "
                          f"put the original back (instances share one: server.secret_file)")
    return secret, recorded is None


def load_secret(path: Path) -> str:
    """The secret in `path`, made there on first use. Instances behind one load balancer share it
    (`server.secret_file`): a link one seals, another opens."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ValueError(f"{path} holds a secret shorter than 32 characters: delete it to make a new one")
    return secret


class Signer:
    """Seals and opens link tokens (`dumps`/`loads`); also holds the secret the session cookie signs with."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._keys: dict[str, Fernet] = {}

    def _fernet(self, purpose: str) -> Fernet:
        if purpose not in self._keys:
            key = hashlib.sha256(f"linger-link\0{purpose}\0{self.secret}".encode()).digest()
            self._keys[purpose] = Fernet(base64.urlsafe_b64encode(key))
        return self._keys[purpose]

    def dumps(self, purpose: str, data: Any) -> str:
        return self._fernet(purpose).encrypt(orjson.dumps(data)).decode().rstrip("=")

    def loads(self, purpose: str, token: str) -> Any | None:
        """The data, or None for a token that is not ours or not for this purpose."""
        if len(token) > 2000:
            return None
        try:
            return orjson.loads(self._fernet(purpose).decrypt(token + "=" * (-len(token) % 4)))
        except (InvalidToken, ValueError, orjson.JSONDecodeError):
            return None
