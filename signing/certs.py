"""X.509 v3 certificates with SM2 keys and SM2-with-SM3 signatures (GM/T 0015).

The platform runs a small CA for the embedded mode and tests; real deployments add the
roots of the CAs that issue bidders' UKeys. Certificate signatures use the default SM2
user ID, as GM/T 0015 and OpenSSL do.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from asn1crypto import keys, pem, x509

from signing.digest import sm3, sm3_hex
from signing.errors import (
    CertificateError,
    CertificateExpired,
    CertificateNotTrusted,
    CertificateRevoked,
    CertificateUsageError,
    InvalidSignature,
)
from signing.sm2 import PrivateKey, PublicKey

SM2_SM3_OID = "1.2.156.10197.1.501"
SM2_CURVE_OID = "1.2.156.10197.1.301"
keys.NamedCurve.register("sm2p256v1", SM2_CURVE_OID, 32)

UTC = dt.UTC


class Usage(StrEnum):
    """What a certificate is for: a UKey holds one signing and one encryption certificate."""

    SIGN = "sign"
    ENCRYPT = "encrypt"
    CA = "ca"


_KEY_USAGE = {
    Usage.SIGN: {"digital_signature", "non_repudiation"},
    Usage.ENCRYPT: {"key_encipherment", "data_encipherment", "key_agreement"},
    Usage.CA: {"key_cert_sign", "crl_sign"},
}


class Certificate:
    """A parsed SM2 certificate."""

    __slots__ = ("_c", "_key", "der")

    def __init__(self, der: bytes) -> None:
        try:
            self._c = x509.Certificate.load(der, strict=True)
            self._c.native  # noqa: B018  (forces a full parse so that damage shows here)
        except Exception as exc:
            raise CertificateError("证书格式错误 (malformed certificate)") from exc
        self.der = bytes(der)
        self._key: PublicKey | None = None

    @classmethod
    def from_pem(cls, data: bytes) -> Certificate:
        try:
            _, _, der = pem.unarmor(data)
        except Exception as exc:
            raise CertificateError("证书 PEM 格式错误 (malformed certificate PEM)") from exc
        return cls(der)

    @classmethod
    def load(cls, data: bytes) -> Certificate:
        """PEM or DER."""
        return cls.from_pem(data) if data.lstrip().startswith(b"-----") else cls(data)

    def to_pem(self) -> bytes:
        return bytes(pem.armor("CERTIFICATE", self.der))

    @property
    def fingerprint(self) -> str:
        """SM3 of the DER, hex: how the platform names a certificate."""
        return sm3_hex(self.der)

    @property
    def serial(self) -> int:
        return int(self._c.serial_number)

    @property
    def subject(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._c.subject.native.items()}

    @property
    def issuer_der(self) -> bytes:
        return bytes(self._c.issuer.dump())

    @property
    def subject_der(self) -> bytes:
        return bytes(self._c.subject.dump())

    @property
    def issuer_serial(self) -> str:
        """The revocation key: SM3 of the issuer name and the serial number."""
        return f"{sm3_hex(self.issuer_der)}:{self.serial:x}"

    @property
    def not_before(self) -> dt.datetime:
        return self._c["tbs_certificate"]["validity"]["not_before"].native  # type: ignore[no-any-return]

    @property
    def not_after(self) -> dt.datetime:
        return self._c["tbs_certificate"]["validity"]["not_after"].native  # type: ignore[no-any-return]

    @property
    def public_key(self) -> PublicKey:
        if self._key is None:
            self._key = PublicKey.from_der(bytes(self._c["tbs_certificate"]["subject_public_key_info"].dump()))
        return self._key

    @property
    def is_ca(self) -> bool:
        bc = self._c.basic_constraints_value
        return bool(bc is not None and bc["ca"].native)

    @property
    def key_usage(self) -> set[str]:
        ku = self._c.key_usage_value
        return set(ku.native) if ku is not None else set()

    def check_usage(self, usage: Usage) -> None:
        if not self.key_usage & _KEY_USAGE[usage]:
            raise CertificateUsageError(
                f"证书用途不符：需要{_USAGE_ZH[usage]}证书 (certificate is not for {usage.value})"
            )
        if usage is Usage.CA and not self.is_ca:
            raise CertificateUsageError("不是 CA 证书 (not a CA certificate)")

    def verify_issued_by(self, issuer: Certificate) -> None:
        """Check this certificate's signature with the issuer's key."""
        if (self.der, issuer.der) in _issued:
            return
        if self._c["signature_algorithm"]["algorithm"].dotted != SM2_SM3_OID:
            raise CertificateError("证书签名算法不是 SM2-with-SM3 (signature algorithm is not SM2-with-SM3)")
        if self.issuer_der != issuer.subject_der:
            raise CertificateNotTrusted("签发者名称不匹配 (issuer name does not match)")
        tbs = bytes(self._c["tbs_certificate"].dump())
        try:
            issuer.public_key.verify(bytes(self._c["signature_value"].native), tbs)
        except InvalidSignature as exc:
            raise CertificateNotTrusted("证书签名无效 (certificate signature invalid)") from exc
        if len(_issued) >= _ISSUED_MAX:
            _issued.clear()
        _issued.add((self.der, issuer.der))


#: (certificate, issuer) pairs whose signature checked out: a fact about two fixed byte strings, so
#: it holds for good (time, usage and revocation are checked on every use, never remembered). Every
#: signed request checks its signer's chain; without this each one paid an SM2 verification more.
_issued: set[tuple[bytes, bytes]] = set()
_ISSUED_MAX = 4096


_USAGE_ZH = {Usage.SIGN: "签名", Usage.ENCRYPT: "加密", Usage.CA: "CA"}


def _name(subject: dict[str, str]) -> x509.Name:
    return x509.Name.build(subject, use_printable=False)


def _time(t: dt.datetime) -> x509.Time:
    t = t.astimezone(UTC).replace(microsecond=0)
    return x509.Time({"utc_time" if t.year < 2050 else "general_time": t})


def build_certificate(
    *,
    subject: dict[str, str],
    public_key: PublicKey,
    issuer_key: PrivateKey,
    issuer: Certificate | None,
    usage: Usage,
    not_before: dt.datetime,
    not_after: dt.datetime,
    serial: int | None = None,
) -> Certificate:
    """Make and sign a certificate; ``issuer=None`` makes a self-signed root."""
    spki = keys.PublicKeyInfo.load(public_key.to_der())
    issuer_name = _name(subject) if issuer is None else x509.Name.load(issuer.subject_der)
    ski = sm3(public_key.point)[:20]
    aki = ski if issuer is None else sm3(issuer.public_key.point)[:20]
    exts = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": usage is Usage.CA}},
        {"extn_id": "key_usage", "critical": True, "extn_value": set(_KEY_USAGE[usage])},
        {"extn_id": "key_identifier", "critical": False, "extn_value": ski},
        {"extn_id": "authority_key_identifier", "critical": False, "extn_value": {"key_identifier": aki}},
    ]
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial if serial is not None else secrets.randbits(127) | 1,
            "signature": {"algorithm": SM2_SM3_OID},
            "issuer": issuer_name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": _name(subject),
            "subject_public_key_info": spki,
            "extensions": exts,
        }
    )
    signature = issuer_key.sign(bytes(tbs.dump()))
    cert = x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": {"algorithm": SM2_SM3_OID}, "signature_value": signature}
    )
    return Certificate(bytes(cert.dump()))


@dataclass(frozen=True)
class TrustStore:
    """Trusted roots, known intermediates and the platform's revocation list."""

    roots: tuple[Certificate, ...]
    intermediates: tuple[Certificate, ...] = ()
    revoked: frozenset[str] = frozenset()  # Certificate.issuer_serial values

    def with_revoked(self, issuer_serials: Iterable[str]) -> TrustStore:
        return TrustStore(self.roots, self.intermediates, self.revoked | frozenset(issuer_serials))


def verify_chain(
    cert: Certificate,
    trust: TrustStore,
    *,
    at: dt.datetime,
    usage: Usage,
    extra: Collection[Certificate] = (),
    max_depth: int = 4,
) -> list[Certificate]:
    """Check ``cert`` for ``usage`` at instant ``at`` up to a trusted root; return the path."""
    cert.check_usage(usage)
    pool = list(trust.intermediates) + list(extra)
    path = [cert]
    current = cert
    for _ in range(max_depth + 1):
        _check_time(current, at)
        if current.issuer_serial in trust.revoked:
            raise CertificateRevoked("证书已吊销 (certificate revoked)")
        for root in trust.roots:
            if current.issuer_der == root.subject_der:
                current.verify_issued_by(root)
                _check_time(root, at)
                if current is not root:
                    path.append(root)
                return path
            if current.der == root.der:
                return path
        parent = next((c for c in pool if c.subject_der == current.issuer_der and c.der != current.der), None)
        if parent is None:
            raise CertificateNotTrusted("证书不是由受信任的 CA 签发 (certificate not issued by a trusted CA)")
        parent.check_usage(Usage.CA)
        current.verify_issued_by(parent)
        path.append(parent)
        current = parent
    raise CertificateNotTrusted("证书链过长 (certificate chain too long)")


def _check_time(cert: Certificate, at: dt.datetime) -> None:
    if not cert.not_before <= at <= cert.not_after:
        raise CertificateExpired(
            f"证书不在有效期内 {cert.not_before:%Y-%m-%d} 至 {cert.not_after:%Y-%m-%d} (certificate not valid at this time)"
        )


class CertificateAuthority:
    """A CA key and its certificate: the platform CA of the embedded mode and of tests."""

    def __init__(self, key: PrivateKey, cert: Certificate) -> None:
        if cert.public_key != key.public_key:
            raise CertificateError("CA 私钥与证书不匹配 (CA key does not match its certificate)")
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, name: str, *, now: dt.datetime, years: int = 20) -> CertificateAuthority:
        key = PrivateKey.generate()
        subject = {"country_name": "CN", "organization_name": name, "common_name": f"{name} SM2 Root CA"}
        cert = build_certificate(
            subject=subject,
            public_key=key.public_key,
            issuer_key=key,
            issuer=None,
            usage=Usage.CA,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=365 * years),
        )
        return cls(key, cert)

    def issue(
        self,
        public_key: PublicKey,
        *,
        common_name: str,
        usage: Usage,
        now: dt.datetime,
        days: int = 730,
        organization: str | None = None,
        org_code: str | None = None,
    ) -> Certificate:
        subject = {"country_name": "CN"}
        if organization:
            subject["organization_name"] = organization
        if org_code:
            subject["organizational_unit_name"] = org_code
        subject["common_name"] = common_name
        return build_certificate(
            subject=subject,
            public_key=public_key,
            issuer_key=self.key,
            issuer=self.cert,
            usage=usage,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=days),
        )
