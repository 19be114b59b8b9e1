"""Signed API messages: what the platform and an e-guarantee issuer sign for every request and
every response, so that each side can prove later what the other sent, and neither accepts a
replayed or stale message.

A message is signed over the canonical JSON of its *signing block*:

    {"purpose": "ggzy-api/1", "direction": "request" | "response", "sender": client id,
     "method": "POST", "path": "/api/v1/...", "status": 200 | null, "in_reply_to": nonce | null,
     "timestamp": ISO 8601 UTC, "nonce": 32 hex, "body_sm3": SM3 of the body bytes}

carried in four headers (``X-GGZY-Client``, ``X-GGZY-Timestamp``, ``X-GGZY-Nonce``,
``X-GGZY-Signature``: base64 DER SM2 with the default ID) beside the unchanged body. A response
names the nonce of the request it answers, so a response cannot be replayed for another request.
The receiver checks the signature with the sender's registered signing certificate, the timestamp
within ``MAX_SKEW`` of its own clock, and the nonce unseen within that window (the replay store is
the caller's: the platform keeps it in its database).

Sensitive fields may be sealed to the receiver's SM2 encryption certificate
(``seal_field``/``open_field``): ``{"sm2": base64 C1C3C2}`` of the UTF-8 canonical JSON value.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signing.canonical import canonical_json, parse_canonical
from signing.digest import sm3_hex
from signing.errors import DecryptionFailed, InvalidSignature, SigningError, StatementError
from signing.sm2 import PrivateKey, PublicKey

PURPOSE = "ggzy-api/1"
MAX_SKEW = dt.timedelta(minutes=5)
HEADERS = ("X-GGZY-Client", "X-GGZY-Timestamp", "X-GGZY-Nonce", "X-GGZY-Signature")


class MessageError(SigningError):
    code = "message_invalid"


class MessageStale(MessageError):
    code = "message_stale"


class MessageReplayed(MessageError):
    code = "message_replayed"


class MessageSignatureInvalid(MessageError, InvalidSignature):
    code = "message_signature_invalid"


@dataclass(frozen=True)
class Signed:
    """One signed message: its headers and the block they sign."""

    client: str
    timestamp: str
    nonce: str
    signature: str

    def headers(self) -> dict[str, str]:
        return dict(zip(HEADERS, (self.client, self.timestamp, self.nonce, self.signature), strict=True))

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Signed:
        values = [headers.get(h) for h in HEADERS]
        if any(not v for v in values):
            missing = ", ".join(h for h, v in zip(HEADERS, values, strict=True) if not v)
            raise MessageError(f"缺少签名头 {missing} (signed message headers missing)")
        client, timestamp, nonce, signature = (str(v) for v in values)
        if len(client) > 64 or len(nonce) != 32 or any(c not in "0123456789abcdef" for c in nonce):
            raise MessageError("签名头格式错误 (malformed X-GGZY-Client or X-GGZY-Nonce)")
        return cls(client, timestamp, nonce, signature)


def signing_block(
    *,
    direction: str,
    sender: str,
    method: str,
    path: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    status: int | None = None,
    in_reply_to: str | None = None,
) -> bytes:
    return canonical_json(
        {
            "purpose": PURPOSE,
            "direction": direction,
            "sender": sender,
            "method": method.upper(),
            "path": path,
            "status": status,
            "in_reply_to": in_reply_to,
            "timestamp": timestamp,
            "nonce": nonce,
            "body_sm3": sm3_hex(body),
        }
    )


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


def sign_request(key: PrivateKey, client: str, method: str, path: str, body: bytes, now: dt.datetime) -> Signed:
    ts, nonce = _stamp(now), secrets.token_hex(16)
    block = signing_block(
        direction="request", sender=client, method=method, path=path, timestamp=ts, nonce=nonce, body=body
    )
    return Signed(client, ts, nonce, base64.b64encode(key.sign(block)).decode())


def sign_response(
    key: PrivateKey, sender: str, request: Signed, method: str, path: str, status: int, body: bytes, now: dt.datetime
) -> Signed:
    ts, nonce = _stamp(now), secrets.token_hex(16)
    block = signing_block(
        direction="response",
        sender=sender,
        method=method,
        path=path,
        timestamp=ts,
        nonce=nonce,
        body=body,
        status=status,
        in_reply_to=request.nonce,
    )
    return Signed(sender, ts, nonce, base64.b64encode(key.sign(block)).decode())


def check_fresh(signed: Signed, now: dt.datetime) -> dt.datetime:
    """The message's time, if within ``MAX_SKEW`` of ``now`` (else :class:`MessageStale`)."""
    try:
        at = dt.datetime.fromisoformat(signed.timestamp)
    except ValueError:
        raise MessageError("X-GGZY-Timestamp 不是 ISO 8601 时间 (malformed timestamp)") from None
    if at.tzinfo is None:
        raise MessageError("X-GGZY-Timestamp 必须带时区 (timestamp needs a zone)")
    if abs(at - now) > MAX_SKEW:
        raise MessageStale(f"消息时间与服务器相差超过 {int(MAX_SKEW.total_seconds())} 秒 (stale or future message)")
    return at


def verify(
    signed: Signed,
    public_key: PublicKey,
    *,
    direction: str,
    method: str,
    path: str,
    body: bytes,
    now: dt.datetime,
    status: int | None = None,
    in_reply_to: str | None = None,
) -> None:
    """Check time and signature; the caller then records the nonce (replay) in its own store."""
    check_fresh(signed, now)
    block = signing_block(
        direction=direction,
        sender=signed.client,
        method=method,
        path=path,
        timestamp=signed.timestamp,
        nonce=signed.nonce,
        body=body,
        status=status,
        in_reply_to=in_reply_to,
    )
    try:
        public_key.verify(base64.b64decode(signed.signature, validate=True), block)
    except (ValueError, InvalidSignature):
        raise MessageSignatureInvalid("消息签名无效 (message signature invalid)") from None


def seal_field(value: Any, recipient: PublicKey) -> dict[str, str]:
    """A field only the holder of the recipient's encryption key can read."""
    return {"sm2": base64.b64encode(recipient.encrypt(canonical_json(value))).decode()}


def open_field(sealed: Any, key: PrivateKey) -> Any:
    if not isinstance(sealed, dict) or set(sealed) != {"sm2"} or not isinstance(sealed["sm2"], str):
        raise MessageError('加密字段格式错误 (a sealed field is {"sm2": base64})')
    try:
        return parse_canonical(key.decrypt(base64.b64decode(sealed["sm2"], validate=True)))
    except (ValueError, DecryptionFailed, StatementError):
        raise MessageError("加密字段无法解开 (sealed field does not open with this key)") from None
