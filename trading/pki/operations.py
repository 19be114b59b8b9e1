"""The platform's trust decisions: which roots it trusts and which certificates it has revoked."""

from __future__ import annotations

import base64
import functools
import os
import pathlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.errors import InvalidSignature, SigningError
from trading.accounts.models import User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.platform_keys import PlatformKeys
from trading.pki.models import RevokedCertificate, UserCertificate


def extra_roots() -> tuple[Certificate, ...]:
    """Roots of the CAs that issue bidders' UKeys: every *.pem / *.crt in TRUSTED_ROOTS_DIR."""
    folder = os.environ.get("TRUSTED_ROOTS_DIR")
    if not folder:
        return ()
    paths = sorted(p for p in pathlib.Path(folder).iterdir() if p.suffix in (".pem", ".crt", ".cer"))
    return tuple(Certificate.load(p.read_bytes()) for p in paths)


def trust_store(session: Session, keys: PlatformKeys) -> TrustStore:
    """The platform CA, the configured UKey CA roots, and the revocation list, as of now."""
    revoked = frozenset(session.scalars(select(RevokedCertificate.issuer_serial)))
    return TrustStore((keys.ca.cert, *extra_roots()), revoked=revoked)


def read_certificate_pem(pem: str) -> Certificate:
    """The certificate a form or request pasted as PEM; a named refusal when it is not one."""
    try:
        return Certificate.load(pem.encode())
    except SigningError:
        raise InvalidInput("证书无法读取", fields={"certificate_pem": "不是有效的证书文本"}) from None


def list_revoked(session: Session) -> list[RevokedCertificate]:
    """The revocation list, latest first (public: a CRL is public)."""
    return list(session.scalars(select(RevokedCertificate).order_by(RevokedCertificate.revoked_at.desc())))


def subject_text(subject: dict[str, str]) -> str:
    """A certificate's subject as the revocation list shows it: its name and, when it has one, the
    organisation's credit code (``某某（91350100…）``), rather than the distinguished name's field names."""
    name = subject.get("common_name") or subject.get("organization_name") or "—"
    code = subject.get("organizational_unit_name")
    return f"{name}（{code}）" if code else name


def revoke_certificate(session: Session, actor: Actor, cert: Certificate, reason: str) -> RevokedCertificate:
    reason = reason.strip()
    if not 2 <= len(reason) <= 200:
        raise InvalidInput("请填写吊销原因（2–200 字）", fields={"reason": "必填"})
    if session.scalar(select(RevokedCertificate.id).where(RevokedCertificate.issuer_serial == cert.issuer_serial)):
        raise Conflict("该证书已被吊销")
    row = RevokedCertificate(
        issuer_serial=cert.issuer_serial,
        fingerprint=cert.fingerprint,
        subject=subject_text(cert.subject)[:300],
        reason=reason,
        revoked_at=clock.now(),
        revoked_by=actor.actor_id,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor,
        "certificate.revoke",
        row,
        {"issuer_serial": cert.issuer_serial, "subject": cert.subject, "reason": reason},
    )
    return row


def register_certificate(
    session: Session, user: User, cert: Certificate, usage: Usage, trust: TrustStore
) -> UserCertificate:
    """A user registers its UKey certificate; it must chain to a trusted root and, when the
    certificate names an organisation code, that code must be the user's own."""
    verify_chain(cert, trust, at=clock.now(), usage=usage)
    org_code = cert.subject.get("organizational_unit_name")
    if org_code and (user.organisation is None or user.organisation.credit_code != org_code):
        raise Forbidden("证书中的统一社会信用代码与用户所属机构不符")
    if session.scalar(select(UserCertificate.id).where(UserCertificate.fingerprint == cert.fingerprint)):
        raise Conflict("该证书已经登记")
    now = clock.now()
    for old in session.scalars(
        select(UserCertificate).where(
            UserCertificate.user_id == user.id,
            UserCertificate.usage == usage.value,
            UserCertificate.replaced_at.is_(None),
        )
    ):
        old.replaced_at = now
    row = UserCertificate(
        user_id=user.id,
        usage=usage.value,
        der=cert.der,
        fingerprint=cert.fingerprint,
        not_after=cert.not_after,
        registered_at=now,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        user,
        "certificate.register",
        row,
        {"usage": usage.value, "fingerprint": cert.fingerprint, "subject": cert.subject},
    )
    return row


def current_certificate(session: Session, user: User, usage: Usage) -> Certificate | None:
    row = session.scalar(
        select(UserCertificate).where(
            UserCertificate.user_id == user.id,
            UserCertificate.usage == usage.value,
            UserCertificate.replaced_at.is_(None),
        )
    )
    return parsed_certificate(row.der) if row else None


@functools.lru_cache(maxsize=1024)
def parsed_certificate(der: bytes) -> Certificate:
    """A stored certificate, parsed once per process: a registered certificate's bytes never change
    (a new one is a new row), and parsing X.509 is a good part of checking a signed request."""
    return Certificate(der)


def registered_signing_cert(session: Session, user: User, trust: TrustStore) -> Certificate:
    """The user's registered signing certificate (its UKey), valid, chained and not revoked now:
    what every signature a user makes on the platform is checked with (tender documents, bid
    withdrawals, the opening's sign-in, key release and confirmation)."""
    cert = current_certificate(session, user, Usage.SIGN)
    if cert is None:
        raise Conflict("请先登记您的签名证书（UKey）", code="certificate_missing")
    try:
        verify_chain(cert, trust, at=clock.now(), usage=Usage.SIGN)
    except SigningError as exc:
        raise InvalidInput(f"签名证书无效：{exc}", code=exc.code) from None
    return cert


def check_signature(cert: Certificate, message: bytes, signature_b64: str, what: str) -> None:
    """``signature_b64`` (base64 DER SM2) is ``cert``'s over ``message``; else a named refusal."""
    try:
        cert.public_key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (ValueError, InvalidSignature):
        raise InvalidInput(f"{what}签名验证失败：签名与内容不符或格式错误", code="invalid_signature") from None
