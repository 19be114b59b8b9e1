"""Certificates over JSON: the UKey login (/api/v1/auth/challenge, /api/v1/auth/sm2), registering
one's own certificate (/api/v1/me/certificates) and the revocation list (/api/v1/certificates/revoked)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from signing.errors import SigningError
from trading.accounts import operations as accounts
from trading.accounts import web
from trading.accounts.api import token_json
from trading.accounts.models import SessionKind
from trading.accounts.permissions import Permission, requires
from trading.accounts.schemas import TokenOut
from trading.core.apispec import documented
from trading.core.errors import InvalidInput, TooManyRequests, Unauthenticated
from trading.core.services import services
from trading.pki.login import authenticate_sm2, challenge_key, issue_login_challenge
from trading.pki.models import RevokedCertificate
from trading.pki.operations import list_revoked, read_certificate_pem, register_certificate, revoke_certificate
from trading.pki.schemas import (
    CertificateIn,
    ChallengeIn,
    ChallengeOut,
    RegisteredCertificateOut,
    RevokedListOut,
    RevokedOut,
    RevokeIn,
    Sm2LoginIn,
)
from trading.pki.trust import trust

log = logging.getLogger("ggzy.pki")
SM2_LOGIN_FAILED = "证书登录失败：挑战码无效、已使用或已过期，或签名无效、证书不可用；请重新获取挑战码后再试"

api = Blueprint("pki_api", __name__, url_prefix="/api/v1")


def revoked_json(r: RevokedCertificate) -> dict[str, Any]:
    return {
        "issuer_serial": r.issuer_serial,
        "fingerprint": r.fingerprint,
        "subject": r.subject,
        "reason": r.reason,
        "revoked_at": r.revoked_at.isoformat(),
    }


# ---------------------------------------------------------------- the UKey login
@api.post("/auth/challenge")
@requires(Permission.PUBLIC)
@documented(
    "证书登录第 1 步：取得挑战码",
    body=ChallengeIn,
    ok=ChallengeOut,
    status=201,
    errors=("too_many_requests",),
    example={"username": "bidder1"},
)
def api_challenge() -> tuple[Response, int]:
    """Step 1 of the UKey login: a one-time statement to sign with the registered signing key."""
    data = web.json_body(ChallengeIn)
    s = services(current_app).settings
    try:
        ch = issue_login_challenge(
            web.db(),
            data.username,
            web.client_address(),
            per_address=s.challenges_per_address,
            key=challenge_key(s.secret_key),
        )
    except TooManyRequests:
        web.commit()
        raise
    web.commit()
    return jsonify(
        {"challenge_id": ch.challenge_id, "statement": ch.statement.decode(), "expires_at": ch.expires_at.isoformat()}
    ), 201


@api.post("/auth/sm2")
@requires(Permission.PUBLIC)
@documented(
    "证书登录第 2 步：交回签名，取得访问令牌",
    body=Sm2LoginIn,
    ok=TokenOut,
    status=201,
    errors=("bad_challenge",),
    example={"challenge_id": "<第 1 步的 challenge_id>", "signature": "<对 statement 的 SM2 签名，base64>"},
)
def api_sm2_login() -> tuple[Response, int]:
    """Step 2: the signature over the statement, checked against the registered certificate."""
    data = web.json_body(Sm2LoginIn)
    key = challenge_key(services(current_app).settings.secret_key)
    try:
        user = authenticate_sm2(web.db(), data.challenge_id, data.signature, trust(), key)
    except Unauthenticated as exc:
        # one answer for every failure: a token not ours, altered, expired or used, a name that
        # does not exist, or a signature that does not verify must not tell which names exist
        log.info("UKey login refused: %s", exc.code)
        raise Unauthenticated(SM2_LOGIN_FAILED, code="bad_challenge") from None
    row, token = accounts.open_session(web.db(), user, SessionKind.API, data.name or "ukey")
    web.commit()
    return jsonify(token_json(row, token)), 201


# ---------------------------------------------------------------- my certificates
@api.post("/me/certificates")
@requires(Permission.CERTIFICATE_REGISTER)
@documented(
    "登记本人的签名或加密证书（UKey）",
    body=CertificateIn,
    ok=RegisteredCertificateOut,
    status=201,
    errors=(
        "invalid_input",
        "certificate_invalid",
        "certificate_not_trusted",
        "certificate_expired",
        "certificate_revoked",
        "certificate_usage",
        "conflict",
    ),
    example={"certificate_pem": "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n", "usage": "sign"},
)
def register_my_certificate() -> tuple[Response, int]:
    data = web.json_body(CertificateIn)
    cert = read_certificate_pem(data.certificate_pem)
    try:
        row = register_certificate(web.db(), web.require_user(), cert, data.usage, trust())
    except SigningError as exc:
        raise InvalidInput(f"证书不能登记：{exc}", code=exc.code) from None
    web.commit()
    return jsonify({"fingerprint": row.fingerprint, "usage": row.usage, "not_after": row.not_after.isoformat()}), 201


# ---------------------------------------------------------------- the revocation list
@api.get("/certificates/revoked")
@requires(Permission.PUBLIC)
@documented("证书吊销列表", ok=RevokedListOut)
def api_revoked() -> Response:
    return jsonify({"items": [revoked_json(r) for r in list_revoked(web.db())]})


@api.post("/certificates/revoked")
@requires(Permission.CERTIFICATE_REVOKE)
@documented(
    "吊销证书",
    body=RevokeIn,
    ok=RevokedOut,
    status=201,
    errors=("invalid_input", "conflict"),
    example={"certificate_pem": "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n", "reason": "UKey 遗失"},
)
def api_revoke() -> tuple[Response, int]:
    data = web.json_body(RevokeIn)
    cert = read_certificate_pem(data.certificate_pem)
    row = revoke_certificate(web.db(), web.require_user(), cert, data.reason)
    web.commit()
    return jsonify(revoked_json(row)), 201
