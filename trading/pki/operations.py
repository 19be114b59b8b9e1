"""The platform's trust decisions: which roots it trusts and which certificates it has revoked."""

from __future__ import annotations

import base64
import datetime as dt
import os
import pathlib

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from archive.db import locked
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.errors import InvalidSignature, SigningError
from signing.statements import login_challenge_statement
from trading.accounts.models import User
from trading.errors import Conflict, Forbidden, InvalidInput
from trading.pki.models import LoginChallenge, RevokedCertificate, UserCertificate
from trading.platform_keys import PlatformKeys


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


def revoke_certificate(session: Session, actor: Actor, cert: Certificate, reason: str) -> RevokedCertificate:
    reason = reason.strip()
    if not 2 <= len(reason) <= 200:
        raise InvalidInput("请填写吊销原因（2–200 字）", fields={"reason": "必填"})
    if session.scalar(select(RevokedCertificate.id).where(RevokedCertificate.issuer_serial == cert.issuer_serial)):
        raise Conflict("该证书已被吊销")
    row = RevokedCertificate(
        issuer_serial=cert.issuer_serial,
        fingerprint=cert.fingerprint,
        subject=str(cert.subject)[:300],
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
    return Certificate(row.der) if row else None


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


CHALLENGE_LIFETIME = dt.timedelta(minutes=2)


def issue_challenge(session: Session, username: str, *, keep: int) -> LoginChallenge:
    """A stored challenge for ``username`` (the caller makes unknown names a forgotten one, so
    strangers neither fill the table nor learn which names exist). At most ``keep`` stay
    outstanding per name: expired ones are deleted and, past ``keep``, the oldest unused are
    dropped, so requests for a name from many addresses bound its rows instead of refusing its
    owner. Two requests at the same instant may leave one more (no lock: a bound, not a count)."""
    import secrets
    import uuid

    now = clock.now()
    session.execute(delete(LoginChallenge).where(LoginChallenge.username == username, LoginChallenge.expires_at <= now))
    older = session.scalars(
        select(LoginChallenge.id)
        .where(LoginChallenge.username == username, LoginChallenge.used_at.is_(None))
        .order_by(LoginChallenge.issued_at.desc(), LoginChallenge.id)
        .offset(max(0, keep - 1))
    ).all()
    if older:
        session.execute(delete(LoginChallenge).where(LoginChallenge.id.in_(older)))
    ch = LoginChallenge(
        id=uuid.uuid4().hex,
        username=username[:64],
        nonce=secrets.token_hex(32),
        issued_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    session.add(ch)
    session.flush()
    return ch


def challenge_statement(ch: LoginChallenge) -> bytes:
    return login_challenge_statement(ch.username, ch.nonce, ch.issued_at.isoformat())


def authenticate_sm2(session: Session, challenge_id: str, signature_b64: str, trust: TrustStore) -> User:
    """Check the signature over a fresh, unused challenge with the user's registered signing certificate."""
    import base64

    from trading.errors import Unauthenticated

    ch = session.scalar(locked(select(LoginChallenge).where(LoginChallenge.id == challenge_id)))
    now = clock.now()
    if ch is None or ch.used_at is not None or ch.expires_at <= now:
        raise Unauthenticated("挑战码无效、已使用或已过期，请重新获取", code="bad_challenge")
    ch.used_at = now  # one use, whatever the outcome
    session.flush()
    user = session.scalar(select(User).where(User.username == ch.username))
    cert = current_certificate(session, user, Usage.SIGN) if user is not None and user.is_active else None
    try:
        if user is None or cert is None:
            raise InvalidSignature("no certificate")
        verify_chain(cert, trust, at=now, usage=Usage.SIGN)
        cert.public_key.verify(base64.b64decode(signature_b64, validate=True), challenge_statement(ch))
    except (SigningError, ValueError):
        raise Unauthenticated("证书登录失败：签名无效或证书不可用", code="bad_credentials") from None
    return user
