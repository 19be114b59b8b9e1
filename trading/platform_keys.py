"""The platform's own keys: the SM2 CA of the embedded mode and the platform signing key that
signs receipts, records and checkpoints.

Files live in ``<instance>/ca`` (override with PLATFORM_KEYS_DIR): ``root.key``/``root.crt``
and ``platform.key``/``platform.crt``. Private keys are PKCS#8, encrypted when
PLATFORM_KEY_PASSWORD is set (required in production), mode 0600.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from dataclasses import dataclass

from archive import clock
from signing.certs import Certificate, CertificateAuthority, TrustStore, Usage
from signing.sm2 import PrivateKey
from trading.config import ConfigError, Settings


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


def _password(settings: Settings) -> bytes | None:
    pw = os.environ.get("PLATFORM_KEY_PASSWORD")
    if settings.is_production and not pw:
        raise ConfigError("production mode needs PLATFORM_KEY_PASSWORD for the platform keys")
    return pw.encode() if pw else None


def _write_private(path: pathlib.Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_platform_keys(settings: Settings, name: str = "公共资源交易平台") -> PlatformKeys:
    """Load the platform keys, creating them on first use (``ggzy init``)."""
    d = keys_dir(settings)
    pw = _password(settings)
    if (d / "root.crt").exists():
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
    return PlatformKeys(ca, key, cert)


def load_platform_keys(settings: Settings) -> PlatformKeys:
    d = keys_dir(settings)
    pw = _password(settings)
    try:
        ca = CertificateAuthority(
            PrivateKey.from_pem((d / "root.key").read_bytes(), pw), Certificate.from_pem((d / "root.crt").read_bytes())
        )
        key = PrivateKey.from_pem((d / "platform.key").read_bytes(), pw)
        cert = Certificate.from_pem((d / "platform.crt").read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"platform keys missing in {d}: run `ggzy init`") from exc
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
    from signing.sm2 import PublicKey

    return keys.ca.issue(
        PublicKey.from_pem(public_key_pem),
        common_name=common_name,
        usage=usage,
        now=now or clock.now(),
        days=days,
        org_code=org_code,
        organization=organization,
    )
