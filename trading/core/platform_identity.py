"""Which keys sign this platform's trail. The first ``ggzy init`` on a database pins the root
certificate in the audit log (``platform_keys.pin``); ever after, ``ggzy init`` refuses keys that
are not those, and every process refuses to use them (``Services.keys``). A new host, a lost or
partly restored keys folder, or another instance's folder (staging's, say) would otherwise make or
load keys that verify none of the signatures, certificates and checkpoints the trail holds, and
wrap new secrets under a key-encryption key the old rows do not open."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import transparency as log
from archive.audit import SYSTEM, AuditEvent, record_event
from signing.certs import Certificate
from trading.core.config import ConfigError, Settings
from trading.core.db import trail_reader
from trading.core.platform_keys import KEK_FILE, PlatformKeys, keys_dir

#: every file of a complete keys folder (``root.crt`` is written last of the four certificate files)
KEY_FILES = ("root.key", "platform.key", "platform.crt", "root.crt", KEK_FILE)
PINNED = "platform_keys.pin"


def missing_key_files(settings: Settings) -> list[str]:
    folder = keys_dir(settings)
    return [name for name in KEY_FILES if not (folder / name).exists()]


def pinned_root(session: Session) -> str | None:
    """The root fingerprint the trail pins (the first pin: two first runs at once both pin, and
    the first one committed is the one the trail was begun with)."""
    payload = session.scalar(
        select(AuditEvent.payload).where(AuditEvent.action == PINNED).order_by(AuditEvent.seq).limit(1)
    )
    return None if payload is None else str(json.loads(payload).get("root"))


def refuse_other_root(pinned: str | None, root: str) -> None:
    if pinned is not None and pinned != root:
        raise ConfigError(
            f"密钥目录中的平台根证书（{root[:16]}…）不是本数据库审计日志记录的根证书（{pinned[:16]}…）："
            "请放回本平台密钥目录的离线备份 (these keys are not the keys that sign this database's trail)"
        )


def folder_root(settings: Settings) -> str | None:
    """The fingerprint of the keys folder's root certificate (no password needed), if it has one."""
    path = keys_dir(settings) / "root.crt"
    return Certificate.from_pem(path.read_bytes()).fingerprint if path.exists() else None


def check_pinned(settings: Settings, root: str) -> None:
    """What a process checks before it signs anything with its keys: the trail's pin, when there
    is one, names this root (one short-lived connection, once per process)."""
    with trail_reader(settings.database_url) as session:
        if session is not None:
            refuse_other_root(pinned_root(session), root)


def pin_keys(session: Session, keys: PlatformKeys) -> bool:
    """Record the root certificate that signs this trail, or check it against the one recorded
    (True: pinned now). A trail begun before the pin existed is pinned only if its newest signed
    checkpoint verifies under these keys (or it has none yet)."""
    root = keys.ca.cert.fingerprint
    pinned = pinned_root(session)
    refuse_other_root(pinned, root)
    if pinned is not None:
        return False
    newest = session.scalar(
        select(log.LogCheckpoint)
        .where(log.LogCheckpoint.statement.is_not(None))
        .order_by(log.LogCheckpoint.id.desc())
        .limit(1)
    )
    if newest is not None and newest.statement is not None:
        try:
            log.verify_checkpoint(newest.statement, keys.sign_cert)
        except Exception as exc:  # any failure: these keys did not sign this trail
            raise ConfigError(
                f"本数据库最近的签名检查点（{newest.id}）不能用这个密钥目录的平台证书核验：请放回本平台密钥目录的"
                f"离线备份 (the trail's newest checkpoint does not verify with these keys: {exc})"
            ) from None
    record_event(
        session, SYSTEM, PINNED, ("platform_keys", "root"), {"root": root, "signing": keys.sign_cert.fingerprint}
    )
    return True
