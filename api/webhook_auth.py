"""Verifying a ticket system's webhook call: who sent it, and that it is not a replay.

Two signatures are accepted, both over the raw request body with the shared secret
(``LOTSE_TICKETS__WEBHOOK_SECRET``):

* Lotse's own (for Znuny web services, scripts, any system that can compute it):
  ``X-Lotse-Timestamp: <unix seconds>`` and ``X-Lotse-Signature: sha256=<hex>``, the
  HMAC-SHA256 of ``"<timestamp>.<body>"``. A timestamp outside the tolerance is refused, and a
  signature is accepted once only (its digest is remembered for the tolerance window), so a
  captured call cannot be played again.
* Zammad's (its webhooks' "HMAC SHA1 Signature Token"): ``X-Hub-Signature: sha1=<hex>`` of the
  body, with ``X-Zammad-Delivery: <uuid>``. Zammad sends no timestamp; each delivery id is
  accepted once (remembered for a day).

Comparisons are constant-time. Nothing of the body is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from models.errors import Unauthenticated

ZAMMAD_DELIVERY_KEEP_S = 86400.0


@dataclass(frozen=True)
class VerifiedCall:
    scheme: str  # "lotse" or "zammad"
    nonce: str  # what the replay guard remembers
    keep_s: float  # how long it remembers it


def lotse_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Lotse-Signature`` value a sender computes (also used by the tests and docs)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def zammad_signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def _refuse(reason: str) -> Unauthenticated:
    return Unauthenticated(
        f"webhook call refused: {reason}",
        hint="sign the raw body with the shared secret (docs/tickets.md, 'Webhook')",
    )


def verify_call(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    tolerance_s: float,
    clock: Callable[[], float] = time.time,
) -> VerifiedCall:
    """Check the signature and freshness; the caller then claims ``nonce`` once."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("x-lotse-signature")
    if signature is not None:
        stamp = lowered.get("x-lotse-timestamp", "")
        try:
            sent = float(stamp)
        except ValueError:
            raise _refuse("X-Lotse-Timestamp is missing or not a number") from None
        if abs(clock() - sent) > tolerance_s:
            raise _refuse(f"the timestamp is more than {tolerance_s:g} s away from now")
        if not hmac.compare_digest(signature, lotse_signature(secret, stamp, body)):
            raise _refuse("the signature does not match")
        return VerifiedCall("lotse", "lotse:" + signature, tolerance_s * 2)
    hub = lowered.get("x-hub-signature")
    if hub is not None:
        delivery = lowered.get("x-zammad-delivery", "").strip()
        if not delivery:
            raise _refuse("X-Zammad-Delivery is missing")
        if not hmac.compare_digest(hub, zammad_signature(secret, body)):
            raise _refuse("the signature does not match")
        return VerifiedCall("zammad", "zammad:" + delivery, ZAMMAD_DELIVERY_KEEP_S)
    raise Unauthenticated(
        "webhook call refused: no signature",
        hint="send X-Lotse-Signature and X-Lotse-Timestamp (or Zammad's X-Hub-Signature)",
        invalid=False,
    )
