"""Request signatures of integration sources.

A sender signs each request with HMAC-SHA256 over `<source>.<timestamp>.<raw body>` using its
secret and sends three headers:

    X-Bankcrm-Source: core-banking
    X-Bankcrm-Timestamp: 1795400000            (Unix seconds)
    X-Bankcrm-Signature: v1=<hex digest>

The timestamp must be within TOLERANCE of our clock (replays of old captures fail), the
comparison is constant-time, and during a rotation the previous secret is accepted too.
Headers are checked for their shape before anything is computed from them: a timestamp is
at most 12 ASCII digits, a signature ASCII, so neither can raise on its way to a 401.
"""

import hashlib
import hmac
import time

TOLERANCE = 300  # seconds
TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658
SOURCE_HEADER = "X-Bankcrm-Source"
TIMESTAMP_HEADER = "X-Bankcrm-Timestamp"
SIGNATURE_HEADER = "X-Bankcrm-Signature"


class SignatureError(Exception):
    def __init__(self, code: str, message: str, status: int = 401):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def signature(secret: str, source: str, timestamp: str, body: bytes) -> str:
    message = f"{source}.{timestamp}.".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(secret: str, source: str, body: bytes, timestamp: int | None = None) -> dict:
    """The headers a sender adds (the simulator, the bench and tests use this)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        SOURCE_HEADER: source,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, source, stamp, body),
    }


def check_timestamp(value: str | None, now: float | None = None) -> None:
    if not value:
        raise SignatureError("missing_timestamp", f"{TIMESTAMP_HEADER} is required.")
    # int() would also take "+1", " 1", "1_0", other scripts' digits and 400-digit numbers
    # (which overflow the float comparison below).
    if not (value.isascii() and value.isdigit() and len(value) <= TIMESTAMP_DIGITS):
        raise SignatureError("bad_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds.")
    stamp = int(value)
    now = time.time() if now is None else now
    if abs(now - stamp) > TOLERANCE:
        raise SignatureError(
            "stale_timestamp",
            f"{TIMESTAMP_HEADER} is more than {TOLERANCE} s away from the server's clock.",
        )


def verify(secrets: list[str], source: str, timestamp: str, body: bytes, given: str | None):
    if not given:
        raise SignatureError("missing_signature", f"{SIGNATURE_HEADER} is required.")
    if not given.isascii():  # compare_digest refuses non-ASCII strings (TypeError)
        raise SignatureError("bad_signature", "The signature does not match the request.")
    # Every secret is compared, so the time taken does not tell which one nearly matched.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(signature(secret, source, timestamp, body), given)
    if not matched:
        raise SignatureError("bad_signature", "The signature does not match the request.")
