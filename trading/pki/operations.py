"""The platform's trust decisions: which roots it trusts and which certificates it has revoked."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import pathlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from signing.canonical import canonical_json
from signing.certs import Certificate, TrustStore, Usage, verify_chain
from signing.errors import InvalidSignature, SigningError
from signing.statements import login_challenge_statement
from trading.accounts.models import User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.platform_keys import PlatformKeys
from trading.pki.models import RevokedCertificate, UsedLoginChallenge, UserCertificate


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
#: the HMAC key for login challenges is derived from SECRET_KEY under this label, so a token of
#: another purpose keyed with SECRET_KEY (cookies, live tickets) is never a valid challenge
CHALLENGE_KEY_LABEL = b"ggzy/ukey-login-challenge/1"
CHALLENGE_TOKEN_PURPOSE = "ggzy-login-challenge-token/1"
#: used challenges are kept this long past their expiry, so a clock stepped back (NTP) cannot
#: revive one whose row was already pruned
USED_CHALLENGE_MARGIN = dt.timedelta(hours=1)


@dataclass(frozen=True)
class LoginChallenge:
    """A UKey login challenge: made, MACed and handed out by the server, stored nowhere until used."""

    token: str
    username: str
    nonce: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def challenge_key(secret: str) -> bytes:
    """The challenge MAC key: HMAC-SHA256(SECRET_KEY, label), domain-separated from other uses."""
    return hmac.new(secret.encode(), CHALLENGE_KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_challenge(key: bytes, username: str) -> LoginChallenge:
    """A stateless challenge for ``username``: the token carries the name, a random nonce, when it
    was issued and when it expires, under the server's MAC. Nothing is stored and nothing is
    looked up, so every name (known or not) gets the same kind of token at the same cost, and
    requests for a name from strangers cannot displace the challenge its owner is signing."""
    now = clock.now()
    payload = {
        "purpose": CHALLENGE_TOKEN_PURPOSE,
        "username": username,
        "nonce": secrets.token_hex(32),
        "issued_at": now.isoformat(),
        "expires_at": (now + CHALLENGE_LIFETIME).isoformat(),
    }
    data = canonical_json(payload)
    token = f"{_b64(data)}.{_b64(hmac.new(key, data, hashlib.sha256).digest())}"
    return LoginChallenge(token, username, payload["nonce"], now, now + CHALLENGE_LIFETIME)


def read_challenge(key: bytes, token: str, now: dt.datetime) -> LoginChallenge | None:
    """The challenge ``token`` carries, if this server made it and it has not expired; else None
    (one answer for a forged, altered, malformed or expired token)."""
    try:
        data_b64, mac_b64 = token.split(".")
        data = base64.urlsafe_b64decode(data_b64 + "=" * (-len(data_b64) % 4))
        mac = base64.urlsafe_b64decode(mac_b64 + "=" * (-len(mac_b64) % 4))
    except ValueError:  # binascii.Error is a ValueError
        return None
    if not hmac.compare_digest(mac, hmac.new(key, data, hashlib.sha256).digest()):
        return None
    payload = json.loads(data)  # ours: the MAC says so
    if payload.get("purpose") != CHALLENGE_TOKEN_PURPOSE:
        return None
    expires_at = dt.datetime.fromisoformat(payload["expires_at"])
    if expires_at <= now:
        return None
    issued_at = dt.datetime.fromisoformat(payload["issued_at"])
    return LoginChallenge(token, payload["username"], payload["nonce"], issued_at, expires_at)


def challenge_statement(ch: LoginChallenge) -> bytes:
    return login_challenge_statement(ch.username, ch.nonce, ch.issued_at.isoformat())


def authenticate_sm2(session: Session, token: str, signature_b64: str, trust: TrustStore, key: bytes) -> User:
    """Check the signature over a challenge this server issued, unexpired and never used before,
    with the user's registered signing certificate. The used challenge is recorded (its nonce,
    unique) in the caller's transaction, the one that opens the session: of two logins with the
    same challenge at once one commits and the other is refused; a failed attempt stores nothing."""
    from trading.core.errors import Unauthenticated

    now = clock.now()
    ch = read_challenge(key, token, now)
    if ch is None:
        raise Unauthenticated("挑战码无效或已过期，请重新获取", code="bad_challenge")
    user = session.scalar(select(User).where(User.username == ch.username))
    cert = current_certificate(session, user, Usage.SIGN) if user is not None and user.is_active else None
    try:
        if user is None or cert is None:
            raise InvalidSignature("no certificate")
        verify_chain(cert, trust, at=now, usage=Usage.SIGN)
        cert.public_key.verify(base64.b64decode(signature_b64, validate=True), challenge_statement(ch))
    except (SigningError, ValueError):
        raise Unauthenticated("证书登录失败：签名无效或证书不可用", code="bad_credentials") from None
    session.execute(delete(UsedLoginChallenge).where(UsedLoginChallenge.expires_at <= now - USED_CHALLENGE_MARGIN))
    try:
        with session.begin_nested():
            session.add(UsedLoginChallenge(nonce=ch.nonce, expires_at=ch.expires_at))
    except IntegrityError:  # used before, or by a login committing at this very moment
        raise Unauthenticated("挑战码已使用，请重新获取", code="bad_challenge") from None
    return user
