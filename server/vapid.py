"""The VAPID key pair that signs every push, kept in the data directory (`vapid.pem`).

Every browser subscription is bound to the public key it was made with, so the key must never change
by accident: the public key is also recorded in Redis, and a start that finds the file missing or
different from the record stops with a message instead of making a new key. Several instances
share one file (`push.vapid_key_file`). `python -m server init`
(or the very first start) creates it; `python -m server vapid rotate` replaces it on purpose (every
subscriber's widget then sees a different key and subscribes again on their next visit).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid, b64urlencode

FILE = "vapid.pem"  # in the data directory, unless push.vapid_key_file says where


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".rotated")  # left by `vapid rotate`: the next start records the new key


class VapidError(Exception):
    pass


@dataclass(frozen=True)
class VapidKey:
    vapid: Vapid
    public: str  # base64url of the uncompressed P-256 point: applicationServerKey, and the key's id


def _public(v: Vapid) -> str:
    raw = v.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return str(b64urlencode(raw))


def _write_new(path: Path) -> VapidKey:
    v = Vapid()
    v.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(v.private_pem())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return VapidKey(v, _public(v))


def create(path: Path) -> tuple[VapidKey, bool]:
    """`init`: load the key, or make one if there is none. Returns it and whether it is new."""
    if path.exists():
        return load_file(path), False
    return _write_new(path), True


def load_file(path: Path) -> VapidKey:
    try:
        v = Vapid.from_file(str(path))
    except Exception as e:  # py_vapid raises bare exceptions for bad files
        raise VapidError(f"{path} is not a VAPID private key ({type(e).__name__}): restore it from a backup") from e
    return VapidKey(v, _public(v))


def rotate(path: Path) -> VapidKey:
    """Replace the key on purpose; the old file is kept next to it."""
    if path.exists():
        os.replace(path, path.with_name(f"{path.name}.old-{int(time.time())}"))
    key = _write_new(path)
    _marker(path).write_text(key.public + "\n")
    return key


def rotated(path: Path) -> None:
    """The rotation is recorded in Redis: the marker can go."""
    _marker(path).unlink(missing_ok=True)


def at_start(path: Path, recorded: str | None) -> tuple[VapidKey, bool]:
    """The key to use, checked against the one Redis recorded. Returns it and whether Redis must
    record it (first start, or after a rotation)."""
    marker = _marker(path)
    if not path.exists():
        if recorded:
            raise VapidError(
                f"{path} is missing, but push subscriptions were made with the key {recorded[:16]}…: restore "
                f"the file from a backup (several instances share one file: push.vapid_key_file), or run "
                f"`python -m server vapid rotate` to start over with a new key "
                f"(every subscriber then subscribes again on their next visit)")
        return _write_new(path), True
    key = load_file(path)
    if marker.exists() and marker.read_text().strip() == key.public:
        return key, True  # rotated on purpose: recorded over the old key, then the marker goes (rotated())
    if recorded and recorded != key.public:
        raise VapidError(
            f"{path} holds the key {key.public[:16]}…, but push subscriptions were made with {recorded[:16]}… "
            f"(recorded in Redis): put the original file back, or run `python -m server vapid rotate` to "
            f"switch keys on purpose")
    return key, recorded is None
