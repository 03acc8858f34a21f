"""A push-service stand-in for the tests: a real HTTP server on loopback that checks what a push
service checks and decrypts what a browser would.

- Each subscription (`subscribe()`) is a P-256 key pair and an auth secret, like a browser's.
- Every POST must carry `Authorization: vapid t=<JWT>,k=<public key>`: the ES256 signature must
  verify with k, `aud` must be this server's origin, `exp` in the future and at most 24 h ahead,
  `sub` a mailto: or https: URL. Requests failing that get 401/403 and are recorded as such.
- The body must be aes128gcm (RFC 8188/8291) and decrypt with the subscription's keys; TTL must be
  present. Received messages are kept with their headers and decrypted JSON.
- `answer(status, retry_after)` sets what the next requests get (201 by default).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class PushStandIn:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.subs: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self.status, self.retry_after = 201, ""
        self.lock = threading.Lock()
        stand = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                code, info = stand.check(self.path, dict(self.headers.items()), body)
                self.send_response(code)
                if code == 429 and stand.retry_after:
                    self.send_header("retry-after", stand.retry_after)
                self.send_header("content-length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def subscribe(self) -> dict[str, Any]:
        """A browser-like subscription: what the widget would send in a `push` frame."""
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        token = b64e(os.urandom(12))
        self.subs[token] = (key, auth)
        pub = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.origin}/push/{token}", "expirationTime": None,
                "keys": {"p256dh": b64e(pub), "auth": b64e(auth)}}

    def answer(self, status: int, retry_after: str = "") -> None:
        self.status, self.retry_after = status, retry_after

    def check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        h = {k.lower(): v for k, v in headers.items()}
        info: dict[str, Any] = {"path": path, "headers": h, "at": time.time()}
        try:
            info["claims"] = self.verify_vapid(h.get("authorization", ""))
            if "ttl" not in h:
                raise ValueError("no TTL header")
            if h.get("content-encoding") != "aes128gcm":
                raise ValueError(f"content-encoding {h.get('content-encoding')!r}")
            token = path.rsplit("/", 1)[-1]
            if token not in self.subs:
                raise LookupError("unknown subscription")
            key, auth = self.subs[token]
            info["payload"] = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth,
                                                          version="aes128gcm"))
        except LookupError as e:
            info["error"] = str(e)
            with self.lock:
                self.refused.append(info)
            return 404, info
        except Exception as e:  # anything a real push service would refuse
            info["error"] = f"{type(e).__name__}: {e}"
            with self.lock:
                self.refused.append(info)
            return 400, info
        with self.lock:
            if self.status in (200, 201, 202):
                self.received.append(info)
            else:
                self.refused.append({**info, "error": f"answered {self.status}"})
        return self.status, info

    def verify_vapid(self, header: str) -> dict[str, Any]:
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "vapid":
            raise PermissionError(f"Authorization scheme {scheme!r}, not vapid")
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        jwt, k = parts["t"], parts["k"]
        head_b64, claims_b64, sig_b64 = jwt.split(".")
        head = json.loads(b64d(head_b64))
        if head.get("alg") != "ES256":
            raise PermissionError(f"alg {head.get('alg')}")
        pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(k))
        sig = b64d(sig_b64)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            pub.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise PermissionError("bad VAPID signature") from None
        claims: dict[str, Any] = json.loads(b64d(claims_b64))
        now = time.time()
        if claims.get("aud") != self.origin:
            raise PermissionError(f"aud {claims.get('aud')!r} is not {self.origin}")
        if not now < claims.get("exp", 0) <= now + 24 * 3600:
            raise PermissionError(f"exp {claims.get('exp')} not within 24 h")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise PermissionError(f"sub {claims.get('sub')!r}")
        claims["k"] = k
        return claims
