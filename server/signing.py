"""Signed tokens in links (unsubscribe, follow-up clicks): itsdangerous with a secret kept in the
data directory (`secret.key`, made by `python -m server init` or the first start). A token names
what it is for (its salt), so an unsubscribe token cannot be used as a click token."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

FILE = "secret.key"


def load_secret(path: Path) -> str:
    """The secret in `path`, made there on first use. Instances behind one load balancer share it
    (`server.secret_file`): a link one signs, another checks."""
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
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def dumps(self, purpose: str, data: Any) -> str:
        return str(URLSafeSerializer(self.secret, salt=purpose).dumps(data))

    def loads(self, purpose: str, token: str) -> Any | None:
        """The data, or None for a token that is not ours or not for this purpose."""
        if len(token) > 2000:
            return None
        try:
            return URLSafeSerializer(self.secret, salt=purpose).loads(token)
        except BadSignature:
            return None
