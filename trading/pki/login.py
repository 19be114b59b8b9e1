"""The certificate (UKey) login: a stateless challenge, signed with the registered signing key.

Step 1 hands out a challenge MACed by the server and stored nowhere; step 2 checks the
signature over it with the user's registered, valid, unrevoked signing certificate and records
the challenge as used, so it works once. The session it opens is an accounts session.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive import clock
from signing.canonical import canonical_json
from signing.certs import TrustStore, Usage, verify_chain
from signing.errors import InvalidSignature, SigningError
from signing.statements import login_challenge_statement
from trading.accounts.models import CHALLENGE_ATTEMPT, LoginAttempt, User
from trading.accounts.throttle import challenge_wait
from trading.core.errors import TooManyRequests, Unauthenticated
from trading.pki.models import UsedLoginChallenge
from trading.pki.operations import current_certificate

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


@dataclass(frozen=True)
class Challenge:
    """What step 1 of a UKey login answers, the same in shape for a name that exists and one that does not."""

    challenge_id: str
    statement: bytes
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


def issue_login_challenge(session: Session, username: str, ip: str, *, per_address: int, key: bytes) -> Challenge:
    """Step 1 of the UKey login, throttled per client address only (``per_address`` a minute):
    others' requests for a name never refuse its owner one. The challenge is a stateless token
    MACed with ``key`` (``issue_challenge``): nothing is stored or looked up for the name, so
    strangers can neither fill a table nor evict the owner's challenge, and a name that exists is
    not told apart from one that does not. The throttle's own row is written for every request."""
    now = clock.now()
    wait = challenge_wait(session, ip, now, per_address=per_address)
    if wait:
        raise TooManyRequests(f"获取挑战码过于频繁，请 {wait} 秒后再试", retry_after=wait)
    session.add(LoginAttempt(username=username[:64], ip=ip, at=now, success=True, kind=CHALLENGE_ATTEMPT))
    session.flush()
    ch = issue_challenge(key, username)
    return Challenge(ch.token, challenge_statement(ch), ch.expires_at)


def authenticate_sm2(session: Session, token: str, signature_b64: str, trust: TrustStore, key: bytes) -> User:
    """Check the signature over a challenge this server issued, unexpired and never used before,
    with the user's registered signing certificate. The used challenge is recorded (its nonce,
    unique) in the caller's transaction, the one that opens the session: of two logins with the
    same challenge at once one commits and the other is refused; a failed attempt stores nothing."""
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
