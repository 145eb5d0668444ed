"""Field encryption (AES-256-GCM, versioned keys) and HMAC blind indexes.

Tokens look like ``v2$<urlsafe-base64(nonce || ciphertext || tag)>``. The key version in the
token lets old rows be read after a rotation; ``rotate_encryption_keys`` rewrites them with
the newest key. Values are JSON-encoded before encryption so ``0``, ``False``, ``""`` and
``None`` come back as themselves, not as their string forms.

Failure is closed: a missing, malformed or wrong key raises ``EncryptionError`` with a
message naming the problem; ciphertext is never returned in place of the value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured

TOKEN_PREFIX = "v"  # noqa: S105 - a format marker, not a secret
NONCE_BYTES = 12


class EncryptionError(Exception):
    """A value could not be encrypted or decrypted; the caller must not show anything."""


def decode_key(name: str, raw: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip().encode() + b"=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name}: key is not valid urlsafe base64.") from None
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name}: key must decode to 32 bytes, got {len(key)}.")
    return key


@dataclass(frozen=True)
class Keyring:
    """Versioned AES keys; ``primary`` encrypts, every listed version decrypts."""

    keys: dict[int, bytes]
    primary: int

    @classmethod
    def parse(cls, spec: str, name: str = "FIELD_ENCRYPTION_KEYS") -> Keyring:
        if not spec or not spec.strip():
            raise ImproperlyConfigured(f"{name} is empty: no field-encryption key configured.")
        keys: dict[int, bytes] = {}
        order: list[int] = []
        for item in spec.split(","):
            version_text, sep, key_text = item.strip().partition(":")
            if not sep or not version_text.isdigit():
                raise ImproperlyConfigured(
                    f"{name}: each entry must be VERSION:KEY (e.g. 2:base64key), got {item!r}."
                )
            version = int(version_text)
            if version in keys:
                raise ImproperlyConfigured(f"{name}: key version {version} is listed twice.")
            keys[version] = decode_key(f"{name} v{version}", key_text)
            order.append(version)
        return cls(keys=keys, primary=order[0])


def refuse_shared_keys(*, secret_key: str, field_keys: str, blind_index_key: str) -> None:
    """Each key has one job. A field-encryption key that is also Django's SECRET_KEY would
    be exposed by anything that leaks the signing key (a debug page, a settings dump); a
    blind-index key equal to a field key ties the searchable hashes to the ciphertexts' key.
    Refused at start, naming the variables."""
    keyring = Keyring.parse(field_keys)
    blind = decode_key("BLIND_INDEX_KEY", blind_index_key)
    secret_forms = {secret_key.strip().encode()}
    with contextlib.suppress(ImproperlyConfigured):  # not a base64 key: its text only
        secret_forms.add(decode_key("DJANGO_SECRET_KEY", secret_key))
    texts = {
        int(v): t.strip().encode()
        for v, _sep, t in (item.strip().partition(":") for item in field_keys.split(","))
    }
    for version, key in keyring.keys.items():
        if key in secret_forms or texts.get(version) in secret_forms:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS v{version} is DJANGO_SECRET_KEY: give field "
                "encryption a key of its own."
            )
        if key == blind:
            raise ImproperlyConfigured(
                f"BLIND_INDEX_KEY is FIELD_ENCRYPTION_KEYS v{version}: give blind indexes "
                "a key of their own."
            )
    if blind in secret_forms or blind_index_key.strip().encode() in secret_forms:
        raise ImproperlyConfigured(
            "BLIND_INDEX_KEY is DJANGO_SECRET_KEY: give blind indexes a key of their own."
        )


@lru_cache(maxsize=8)
def _keyring_for(spec: str) -> Keyring:
    return Keyring.parse(spec)


def keyring() -> Keyring:
    from django.conf import settings

    return _keyring_for(getattr(settings, "FIELD_ENCRYPTION_KEYS", "") or "")


def _default(value):
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    raise TypeError(f"cannot encrypt values of type {type(value).__name__}")


def _object_hook(obj):
    if set(obj) == {"$decimal"}:
        return Decimal(obj["$decimal"])
    return obj


def encrypt(value, *, context: str = "", ring: Keyring | None = None) -> str:
    """Encrypt any JSON-able value (plus Decimal). ``context`` is bound as associated data,
    so a token copied into another column fails to decrypt."""
    ring = ring or keyring()
    plaintext = json.dumps(value, default=_default, ensure_ascii=False).encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.primary]).encrypt(nonce, plaintext, context.encode())
    return f"{TOKEN_PREFIX}{ring.primary}${base64.urlsafe_b64encode(nonce + sealed).decode()}"


def token_version(token: str) -> int:
    head, sep, _ = token.partition("$")
    if not sep or not head.startswith(TOKEN_PREFIX) or not head[1:].isdigit():
        raise EncryptionError("not an encrypted token")
    return int(head[1:])


def decrypt(token: str, *, context: str = "", ring: Keyring | None = None):
    ring = ring or keyring()
    version = token_version(token)
    key = ring.keys.get(version)
    if key is None:
        raise EncryptionError(
            f"no key for version {version} in FIELD_ENCRYPTION_KEYS; refusing to show the value"
        )
    try:
        blob = base64.urlsafe_b64decode(token.partition("$")[2].encode())
        plaintext = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
    except (InvalidTag, ValueError, binascii.Error):
        raise EncryptionError(
            f"decryption failed with key version {version}: wrong key or tampered value"
        ) from None
    return json.loads(plaintext, object_hook=_object_hook)


def normalise_for_index(value: str) -> str:
    """Blind indexes match on a canonical form: NFKC, no spaces or dashes, upper case."""
    text = unicodedata.normalize("NFKC", str(value))
    return "".join(ch for ch in text if ch not in " -\t").upper()


@lru_cache(maxsize=4)
def _blind_key(spec: str) -> bytes:
    if not spec:
        raise ImproperlyConfigured("BLIND_INDEX_KEY is empty: blind indexes cannot be computed.")
    return decode_key("BLIND_INDEX_KEY", spec)


def blind_index(value: str, *, purpose: str) -> str:
    """Deterministic keyed hash for exact-match lookups of encrypted values.

    ``purpose`` separates index spaces, so equal values in two fields get different hashes.
    """
    from django.conf import settings

    key = _blind_key(getattr(settings, "BLIND_INDEX_KEY", "") or "")
    message = f"{purpose}\x00{normalise_for_index(value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
