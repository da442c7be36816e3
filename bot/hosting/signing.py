"""HMAC-signed, expiring paths for media served by the bot's own web server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path


class UrlSigner:
    """Signs `(relative path, expiry)` pairs; anything altered or expired fails to verify."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("signing key too short")
        self._key = key

    def sign(self, relative_path: str, expires_at: int) -> str:
        """The signature for a path valid until `expires_at` (unix seconds)."""
        # surrogatepass: a path taken from a URL may hold anything; it must not raise here.
        message = f"{expires_at}\n{relative_path}".encode("utf-8", "surrogatepass")
        mac = hmac.new(self._key, message, hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def verify(self, relative_path: str, expires_at: int, signature: str, *, now: float) -> bool:
        """Whether the signature matches and has not expired (constant-time compare)."""
        expected = self.sign(relative_path, expires_at).encode()
        # Compared as bytes: compare_digest refuses str with non-ASCII characters, and the
        # signature comes from the URL, that is from anyone.
        given = signature.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(expected, given) and now < expires_at


def load_or_create_key(path: Path, configured: str | None) -> bytes:
    """The configured key, or one generated once and kept (mode 0600) beside the database."""
    if configured:
        return configured.encode()
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_bytes(key)
    return key
