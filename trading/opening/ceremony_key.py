"""A ceremony's private key at rest: wrapped with the platform's key-encryption key (``kek.key``
beside the platform keys, never in the database), the ceremony's id bound as associated data.

A dump of the database alone therefore cannot unwrap the bid keys that bidders release to the
ceremony, and a wrapped key copied onto another ceremony's row does not open there.
"""

from __future__ import annotations

import os

from signing.errors import KeyFormatError
from signing.sm2 import PrivateKey
from trading.core.config import ConfigError, Settings
from trading.core.platform_keys import key_encryption_key, unwrap_secret, wrap_secret

#: Set to 1 only while ceremonies published before the key was wrapped are still open (their
#: rows hold the bare DER); off, such a row is refused as a platform fault (撤回), never used.
LEGACY_ENV = "GGZY_LEGACY_CEREMONY_KEYS"


class CeremonyKeyUnreadable(RuntimeError):
    pass


def _purpose(ceremony_id: int) -> str:
    return f"ceremony-key:{ceremony_id}"


def seal_ceremony_key(settings: Settings, ceremony_id: int, key: PrivateKey) -> bytes:
    return wrap_secret(key_encryption_key(settings), key.to_der(), _purpose(ceremony_id))


def open_ceremony_key(settings: Settings, ceremony_id: int, stored: bytes) -> PrivateKey:
    try:
        return PrivateKey.from_der(unwrap_secret(key_encryption_key(settings), stored, _purpose(ceremony_id)))
    except ConfigError as exc:
        if os.environ.get(LEGACY_ENV) == "1":
            try:
                return PrivateKey.from_der(stored)
            except KeyFormatError:
                pass
        raise CeremonyKeyUnreadable(f"开标密钥无法解开 (ceremony key does not unwrap: {exc})") from None
    except KeyFormatError as exc:
        raise CeremonyKeyUnreadable(f"开标密钥损坏 ({exc})") from None
