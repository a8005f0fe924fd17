"""JWT bearer tokens for the admin namespaces (HS256, as geth's authenticated RPC).

A client sends ``Authorization: Bearer <token>``, where the token is an
HS256 JWT signed with the node's 32-byte secret and whose ``iat`` claim is
within 60 seconds of the node's clock. The secret file holds the secret
as hex, like geth's ``--authrpc.jwtsecret`` file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from contextvars import ContextVar
from pathlib import Path

from node.errors import ConfigError

#: Seconds a token's ``iat`` may differ from the node's clock.
IAT_TOLERANCE_SECONDS = 60
#: Method prefixes served only to authenticated clients, and only when a secret is configured.
ADMIN_PREFIXES = ("perm_", "qbft_", "admin_", "shelter_")

#: Whether the request being served carried a valid token.
REQUEST_AUTHENTICATED: ContextVar[bool] = ContextVar("request_authenticated", default=False)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(path: str | Path) -> bytes:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"cannot read the JWT secret file {path}: {error}") from None
    try:
        secret = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise ConfigError(f"the JWT secret file {path} must hold 32 bytes as hex (64 hex digits)")
    return secret


def make_token(secret: bytes, issued_at: float | None = None) -> str:
    """Make an HS256 token for ``secret``; clients and tests use it."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64url(json.dumps({"iat": int(issued_at if issued_at is not None else time.time())}).encode())
    signature = hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64url(signature)}"


def token_valid(secret: bytes, authorization: str | None, now: float | None = None) -> bool:
    """Return whether an ``Authorization`` header value carries a valid, fresh token."""
    if not authorization or not authorization.startswith("Bearer "):
        return False
    parts = authorization[len("Bearer ") :].strip().split(".")
    if len(parts) != 3:
        return False
    header_part, claims_part, signature_part = parts
    expected = hmac.new(secret, f"{header_part}.{claims_part}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _b64url_decode(signature_part)):
            return False
        header = json.loads(_b64url_decode(header_part))
        claims = json.loads(_b64url_decode(claims_part))
    except (ValueError, TypeError):
        return False
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return False
    issued_at = claims.get("iat")
    if not isinstance(issued_at, int):
        return False
    return abs((now if now is not None else time.time()) - issued_at) <= IAT_TOLERANCE_SECONDS


def is_admin_method(name: str) -> bool:
    return name.startswith(ADMIN_PREFIXES)
