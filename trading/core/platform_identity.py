"""Which keys sign this platform's trail: ``ggzy init`` pins the root certificate in the audit log (``platform_keys.pin``)
the first time it runs on a database, and refuses, ever after, keys that are not those. A new
host, a lost or partly restored keys folder, or another instance's folder (staging's, say) would
otherwise make or load keys that verify none of the signatures, certificates and checkpoints the
trail already holds, and wrap new secrets under a key-encryption key the old rows do not open."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, AuditEvent, record_event
from trading.core.config import ConfigError, Settings
from trading.core.platform_keys import KEK_FILE, PlatformKeys, keys_dir

#: every file of a complete keys folder (``root.crt`` is written last of the four certificate files)
KEY_FILES = ("root.key", "platform.key", "platform.crt", "root.crt", KEK_FILE)
PINNED = "platform_keys.pin"


def missing_key_files(settings: Settings) -> list[str]:
    folder = keys_dir(settings)
    return [name for name in KEY_FILES if not (folder / name).exists()]


def pin_keys(session: Session, keys: PlatformKeys) -> bool:
    """Record the root certificate that signs this trail, or check it against the one recorded
    (True: pinned now). A database from before the pin is pinned to the keys it is given now."""
    payload = session.scalar(
        select(AuditEvent.payload).where(AuditEvent.action == PINNED).order_by(AuditEvent.seq.desc()).limit(1)
    )
    root = keys.ca.cert.fingerprint
    if payload is None:
        record_event(
            session, SYSTEM, PINNED, ("platform_keys", "root"), {"root": root, "signing": keys.sign_cert.fingerprint}
        )
        return True
    pinned = json.loads(payload).get("root")
    if pinned != root:
        raise ConfigError(
            f"密钥目录中的平台根证书（{root[:16]}…）不是本数据库审计日志记录的根证书（{str(pinned)[:16]}…）："
            "请放回本平台密钥目录的离线备份 (these keys are not the keys that sign this database's trail)"
        )
    return False
