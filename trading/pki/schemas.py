"""What the certificate pages and API accept: registration, revocation and the UKey login."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from signing.certs import Usage
from trading.core.apispec import Reply
from trading.core.schemas import Schema


class CertificateIn(Schema):
    certificate_pem: str = Field(title="证书", min_length=50, max_length=20_000)
    usage: Usage = Field(title="证书用途")


class RevokeIn(Schema):
    certificate_pem: str = Field(title="证书", min_length=50, max_length=20_000)
    reason: str = Field(title="吊销原因", min_length=2, max_length=200)


class ChallengeIn(Schema):
    username: str = Field(title="用户名", min_length=1, max_length=64)


class Sm2LoginIn(Schema):
    challenge_id: str = Field(title="登录挑战", min_length=32, max_length=1024, description="the token step 1 answered")
    signature: str = Field(title="签名", min_length=20, max_length=400)
    name: str = Field(default="", title="令牌名称", max_length=100)


# ---------------------------------------------------------------- answers
class ChallengeOut(Reply):
    challenge_id: str = Field(description="第 2 步原样交回")
    statement: str = Field(description="用已登记的签名私钥对它（UTF-8 字节）做 SM2 签名")
    expires_at: dt.datetime


class RegisteredCertificateOut(Reply):
    fingerprint: str
    usage: Usage
    not_after: dt.datetime


class RevokedOut(Reply):
    issuer_serial: str = Field(description="SM3(签发者 DN):序列号，十六进制")
    fingerprint: str
    subject: str
    reason: str
    revoked_at: dt.datetime


class RevokedListOut(Reply):
    items: list[RevokedOut]
