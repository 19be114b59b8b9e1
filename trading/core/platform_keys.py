"""The platform's own keys: the SM2 CA of the embedded mode and the platform signing key that
signs receipts, records and checkpoints.

Files live in ``<instance>/ca`` (override with PLATFORM_KEYS_DIR): ``root.key``/``root.crt``
and ``platform.key``/``platform.crt``. Private keys are PKCS#8, encrypted when
PLATFORM_KEY_PASSWORD is set (required in production), mode 0600.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import pathlib
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from archive import clock
from signing.certs import Certificate, CertificateAuthority, TrustStore, Usage
from signing.sm2 import KEY_FILE_ITERATIONS, PrivateKey, PublicKey
from signing.sm4 import GCM_NONCE_SIZE, KEY_SIZE, gcm_open, gcm_seal
from trading.core.config import ConfigError, Settings


@dataclass(frozen=True)
class PlatformKeys:
    ca: CertificateAuthority
    sign_key: PrivateKey
    sign_cert: Certificate

    @property
    def trust(self) -> TrustStore:
        return TrustStore((self.ca.cert,))


def keys_dir(settings: Settings) -> pathlib.Path:
    return pathlib.Path(os.environ.get("PLATFORM_KEYS_DIR") or settings.instance / "ca")


def key_password(settings: Settings) -> bytes | None:
    """PLATFORM_KEY_PASSWORD, refused by name when production mode runs without it."""
    pw = os.environ.get("PLATFORM_KEY_PASSWORD")
    if settings.is_production and not pw:
        raise ConfigError(
            "生产模式必须设置 PLATFORM_KEY_PASSWORD（平台密钥文件的口令，至少 12 个字符）"
            " (production mode needs PLATFORM_KEY_PASSWORD for the platform keys)"
        )
    return pw.encode() if pw else None


def _write_private(path: pathlib.Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_platform_keys(settings: Settings, name: str = "公共资源交易平台") -> PlatformKeys:
    """Load the platform keys, creating them on first use (``ggzy init``)."""
    d = keys_dir(settings)
    pw = key_password(settings)
    if (d / "root.crt").exists():
        key_encryption_key(settings, create=True)  # instances made before the KEK existed get one here
        return load_platform_keys(settings)
    d.mkdir(parents=True, exist_ok=True)
    now = clock.now()
    ca = CertificateAuthority.create(name, now=now)
    key = PrivateKey.generate()
    cert = ca.issue(
        key.public_key, common_name=f"{name} 电子签章", usage=Usage.SIGN, now=now, days=365 * 10, organization=name
    )
    _write_private(d / "root.key", ca.key.to_pem(pw))
    _write_private(d / "platform.key", key.to_pem(pw))
    (d / "platform.crt").write_bytes(cert.to_pem())
    (d / "root.crt").write_bytes(ca.cert.to_pem())  # written last: its presence means "complete"
    key_encryption_key(settings, create=True)
    return PlatformKeys(ca, key, cert)


def load_platform_keys(settings: Settings) -> PlatformKeys:
    d = keys_dir(settings)
    pw = key_password(settings)
    try:
        ca = CertificateAuthority(
            PrivateKey.from_pem((d / "root.key").read_bytes(), pw), Certificate.from_pem((d / "root.crt").read_bytes())
        )
        key = PrivateKey.from_pem((d / "platform.key").read_bytes(), pw)
        cert = Certificate.from_pem((d / "platform.crt").read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{d} 中没有平台密钥：请放回密钥目录的离线备份；新平台（空数据库）用 ggzy init 生成"
            f" (platform keys missing in {d}: put back the keys folder from its offline copy;"
            " `ggzy init` makes keys only for a new, empty database)"
        ) from exc
    return PlatformKeys(ca, key, cert)


def issue_certificate(
    keys: PlatformKeys,
    public_key_pem: bytes,
    *,
    common_name: str,
    usage: Usage,
    org_code: str | None = None,
    organization: str | None = None,
    days: int = 730,
    now: dt.datetime | None = None,
) -> Certificate:
    return keys.ca.issue(
        PublicKey.from_pem(public_key_pem),
        common_name=common_name,
        usage=usage,
        now=now or clock.now(),
        days=days,
        org_code=org_code,
        organization=organization,
    )


# ---------------------------------------------------------------- the key-encryption key
KEK_FILE = "kek.key"
_KEK_PLAIN, _KEK_SEALED = b"GGZYKEK0", b"GGZYKEK1"
_kek_cache: dict[tuple[str, bytes | None], bytes] = {}
_kek_lock = threading.Lock()


def _kek_file(kek: bytes, pw: bytes | None) -> bytes:
    if pw is None:
        return _KEK_PLAIN + kek
    salt, nonce = os.urandom(16), os.urandom(GCM_NONCE_SIZE)
    wrap = hashlib.pbkdf2_hmac("sha256", pw, salt, KEY_FILE_ITERATIONS, KEY_SIZE)
    return _KEK_SEALED + salt + nonce + gcm_seal(wrap, nonce, kek, _KEK_SEALED)


def _kek_from_file(data: bytes, pw: bytes | None) -> bytes:
    if data.startswith(_KEK_PLAIN) and len(data) == len(_KEK_PLAIN) + KEY_SIZE:
        return data[len(_KEK_PLAIN) :]
    if not data.startswith(_KEK_SEALED) or pw is None:
        raise ConfigError(
            f"{KEK_FILE} 已损坏，或需要 PLATFORM_KEY_PASSWORD ({KEK_FILE} is damaged, or needs PLATFORM_KEY_PASSWORD)"
        )
    body = data[len(_KEK_SEALED) :]
    salt, nonce, sealed = body[:16], body[16 : 16 + GCM_NONCE_SIZE], body[16 + GCM_NONCE_SIZE :]
    wrap = hashlib.pbkdf2_hmac("sha256", pw, salt, KEY_FILE_ITERATIONS, KEY_SIZE)
    try:
        return gcm_open(wrap, nonce, sealed, _KEK_SEALED)
    except InvalidTag:
        raise ConfigError(
            f"{KEK_FILE}：PLATFORM_KEY_PASSWORD 不对，或文件已损坏 (wrong PLATFORM_KEY_PASSWORD or damaged file)"
        ) from None


def key_encryption_key(settings: Settings, *, create: bool = False) -> bytes:
    """The platform's key-encryption key (an SM4 key): it wraps what the database must hold but
    not be able to read (the expert draw's seed before the draw, the openings of bidders' sealed
    audit events before the deadline). It lives beside the platform keys in ``kek.key`` (0600),
    sealed with PLATFORM_KEY_PASSWORD when set (required in production), never in the database,
    so a copy or a reader of the database alone cannot unwrap anything. Made by ``ggzy init``
    (``create``), or on first use outside production; in production a missing file is an error,
    since a machine that made its own would wrap rows no other machine can open. Read once per
    process."""
    d = keys_dir(settings)
    path, pw = d / KEK_FILE, key_password(settings)
    with _kek_lock:
        cached = _kek_cache.get((str(path), pw))
        if cached is not None:
            return cached
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if settings.is_production and not create:
                raise ConfigError(
                    f"{d} 中没有 {KEK_FILE}：请在一台机器上运行一次 ggzy init，再把密钥目录分发到各台机器"
                    f" (no {KEK_FILE} in {d}: run `ggzy init` once and share the folder)"
                ) from None
            tmp = d / f"{KEK_FILE}.{os.getpid()}.{threading.get_ident()}"
            try:
                d.mkdir(parents=True, exist_ok=True)
                tmp.unlink(missing_ok=True)
                _write_private(tmp, _kek_file(os.urandom(KEY_SIZE), pw))
                os.link(tmp, path)  # atomic and exclusive: a reader never sees half a file
            except FileExistsError:
                pass  # another process made it first: use theirs
            except OSError as exc:
                raise ConfigError(f"无法在 {d} 中生成 {KEK_FILE} (cannot make {KEK_FILE} in {d}): {exc}") from exc
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
            data = path.read_bytes()
        kek = _kek_from_file(data, pw)
        _kek_cache[(str(path), pw)] = kek
        return kek


def wrap_secret(kek: bytes, secret: bytes, purpose: str) -> bytes:
    """nonce ‖ SM4-GCM(kek, secret), bound to ``purpose`` (e.g. ``draw-seed:17``) so a wrapped value
    cannot be moved to another row or use."""
    nonce = os.urandom(GCM_NONCE_SIZE)
    return nonce + gcm_seal(kek, nonce, secret, purpose.encode())


def unwrap_secret(kek: bytes, wrapped: bytes, purpose: str) -> bytes:
    try:
        return gcm_open(kek, wrapped[:GCM_NONCE_SIZE], wrapped[GCM_NONCE_SIZE:], purpose.encode())
    except InvalidTag:
        raise ConfigError(f"cannot unwrap {purpose}: wrong key-encryption key or damaged value") from None
