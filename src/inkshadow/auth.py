"""API-key verification shared by the gateway and `inkshadow serve`.

Keys come from `settings.api_keys` (plain) and/or `settings.api_keys_file` (sha256 hex
digests, one a line, `#` comments allowed). Only digests are kept in memory; a request's key
is hashed and compared against every digest in constant time. What callers get back is a
key id (a short prefix of the digest) that is safe for logs and limit buckets.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from inkshadow.errors import AuthenticationError, InvalidRequest
from inkshadow.settings import Settings

_HEX = frozenset("0123456789abcdef")


def key_id(digest_hex: str) -> str:
    """The loggable name of a key: a 12-hex-digit prefix of its sha256 digest."""
    return "key-" + digest_hex[:12]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _read_digests(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"cannot read API keys file {path.name}: {exc.strerror}") from exc
    digests: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if line.startswith("sha256:"):
            line = line[len("sha256:") :]
        if len(line) != 64 or not set(line) <= _HEX:
            # The line may be a plain key pasted by mistake: never echo it.
            raise InvalidRequest(f"API keys file {path.name}: line {number} is not a sha256 digest")
        digests.append(line)
    return digests


class KeyVerifier:
    """Checks `Authorization: Bearer KEY` values against the configured keys."""

    def __init__(self, digests: list[str]) -> None:
        # Bytes digests for compare_digest; order kept so the scan always covers them all.
        self._digests = [bytes.fromhex(d) for d in dict.fromkeys(digests)]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyVerifier:
        digests = [hash_key(k) for k in settings.api_keys]
        if settings.api_keys_file is not None:
            digests.extend(_read_digests(settings.api_keys_file))
        return cls(digests)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def verify(self, key: str) -> str | None:
        """Return the key id when `key` is accepted, else None. Scans every digest so the
        time taken does not depend on which one (if any) matched."""
        presented = hashlib.sha256(key.encode("utf-8")).digest()
        found: bytes | None = None
        for digest in self._digests:
            if hmac.compare_digest(presented, digest):
                found = digest
        return key_id(found.hex()) if found is not None else None

    def verify_authorization(self, header: str | bytes | None) -> str | None:
        """Check an Authorization header value. Returns the key id, or None when auth is
        off. Raises AuthenticationError when keys are configured and this one is wrong."""
        if not self._digests:
            return None
        if not header:
            raise AuthenticationError("missing API key: send Authorization: Bearer KEY")
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("malformed Authorization header: use Bearer KEY")
        found = self.verify(value.strip())
        if found is None:
            raise AuthenticationError("invalid API key")
        return found
