"""Svix webhook signatures (how Resend signs its webhooks), verified with the stdlib only.

A signed request carries three headers: ``svix-id`` (the message id, the same on every
retry of a message), ``svix-timestamp`` (Unix seconds) and ``svix-signature`` (one or more
space-separated ``v1,<base64>`` entries). Svix's unbranded names ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` are accepted too; names are
case-insensitive. The signature is the base64 HMAC-SHA256 of ``f"{id}.{timestamp}.{body}"``
with the secret's key (the base64 part of ``whsec_<base64>``). The timestamp must be within
5 minutes of the time the request was received.

``CRM_FUNNEL_WEBHOOK_SECRET`` holds the secret; several secrets separated by whitespace
rotate keys (a message signed with any of them is accepted).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_ENV = "CRM_FUNNEL_WEBHOOK_SECRET"
SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
HEADER_NAMES = ("id", "timestamp", "signature")


class SecretError(ValueError):
    """The configured signing secret is not a ``whsec_<base64>`` secret."""


class VerificationError(ValueError):
    """A webhook failed verification; ``str(exc)`` is the reason (safe to log)."""


def parse_secrets(text: str) -> list[bytes]:
    """The HMAC keys of the whitespace-separated ``whsec_`` secrets in ``text``.

    The message never contains the secret itself, only its position.
    """
    keys: list[bytes] = []
    words = text.split()
    for number, word in enumerate(words, start=1):
        which = f"secret {number} of {len(words)}" if len(words) > 1 else "the secret"
        if not word.startswith(SECRET_PREFIX):
            raise SecretError(
                f"{SECRET_ENV}: {which} does not start with {SECRET_PREFIX!r}; copy the signing "
                "secret of the webhook endpoint from the Resend dashboard (whsec_...)"
            )
        encoded = word[len(SECRET_PREFIX) :]
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not key:
            raise SecretError(
                f"{SECRET_ENV}: {which} is not valid base64 after {SECRET_PREFIX!r}; copy the "
                "signing secret of the webhook endpoint from the Resend dashboard again"
            )
        keys.append(key)
    return keys


def secrets_from_env(environ: Mapping[str, str] | None = None) -> list[bytes]:
    """The keys configured in ``CRM_FUNNEL_WEBHOOK_SECRET`` (empty when it is unset)."""
    env = os.environ if environ is None else environ
    return parse_secrets(env.get(SECRET_ENV, ""))


def signature_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """``{"id", "timestamp", "signature"}`` -> value (or None) from svix-*/webhook-* headers."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    found: dict[str, Any] = {}
    for part in HEADER_NAMES:
        value = lowered.get(f"svix-{part}")
        found[part] = lowered.get(f"webhook-{part}") if value is None else value
    return found


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def verify(headers: Mapping[str, Any], body: str, secrets: Sequence[bytes], now: float) -> None:
    """Raise ``VerificationError`` unless ``body`` is signed by one of ``secrets``.

    ``headers`` maps header names (any case) to values; ``now`` is the Unix time the
    request was received. The signature is checked first, then the timestamp's age.
    """
    found = signature_headers(headers)
    message_id = _text(found["id"])
    timestamp = _text(found["timestamp"])
    signature = found["signature"]
    if not message_id:
        raise VerificationError("missing webhook header svix-id")
    if not timestamp:
        raise VerificationError("missing webhook header svix-timestamp")
    if not isinstance(signature, str) or not signature.strip():
        raise VerificationError("missing webhook header svix-signature")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise VerificationError("invalid webhook timestamp (svix-timestamp is not Unix seconds)")
    signed = f"{message_id}.{timestamp}.{body}".encode("utf-8", "surrogatepass")
    given = [
        value.encode("utf-8", "backslashreplace")
        for version, _, value in (entry.partition(",") for entry in signature.split())
        if version == "v1"
    ]
    for key in secrets:
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
        if any(hmac.compare_digest(expected, value) for value in given):
            break
    else:
        raise VerificationError("invalid webhook signature")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise VerificationError("webhook timestamp outside the 5-minute tolerance")
