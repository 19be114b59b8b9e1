"""The bidder's side of the opening ceremony, as ``ggzy-bid`` and the demo run it: sign in, release
the bid's key (unwrapped here, re-wrapped to the platform-signed ceremony key), confirm the record.
The bid's SM4 key leaves this machine only encrypted to the ceremony, and only after the opening."""

from __future__ import annotations

import base64
import pathlib
import time
from typing import Any

from bidding import part_digests
from bidding.client import ApiError, Requester
from signing.certs import Certificate
from signing.digest import sm3_hex, sm3_stream
from signing.envelope import read_header
from signing.sm2 import PrivateKey, PublicKey
from signing.statements import (
    SignedStatement,
    ceremony_decrypt_statement,
    ceremony_signin_statement,
    record_confirmation_statement,
)


def credit_code_of(client: Requester) -> str:
    code: str = client.request("GET", "/api/v1/me")["organisation"]["credit_code"]
    return code


def state(client: Requester, ceremony: int) -> dict[str, Any]:
    return dict(client.request("GET", f"/api/v1/ceremonies/{ceremony}"))


def sign_in(client: Requester, ceremony: int, sign_key: PrivateKey) -> dict[str, Any]:
    st = state(client, ceremony)
    statement = ceremony_signin_statement(ceremony, st["tender"], st["lot"], credit_code_of(client))
    body = {"signature": base64.b64encode(sign_key.sign(statement)).decode()}
    return dict(client.request("POST", f"/api/v1/ceremonies/{ceremony}/sign-in", body))


def ceremony_key(client: Requester, ceremony: int, trusted: Certificate | None = None) -> PublicKey:
    """The ceremony key, accepted only with the platform's signature over this ceremony and key."""
    got = client.request("GET", f"/api/v1/ceremonies/{ceremony}/key")
    if trusted is None:
        pem = client.request("GET", "/api/v1/platform/certificates")["signing_certificate"]
        trusted = Certificate.from_pem(pem.encode())
    body = SignedStatement.from_json(got["statement"].encode()).verify(trusted=trusted, expected_type="ceremony_key")
    if body["body"]["ceremony"] != ceremony or body["body"]["public_key"] != got["public_key"]:
        raise ApiError(0, "ceremony_key_mismatch", "开标密钥与平台签名不符 (ceremony key not signed for this room)")
    return PublicKey.from_point(bytes.fromhex(got["public_key"]))


def sealed_sm3(sealed: pathlib.Path) -> str:
    recorded = part_digests.load(sealed)
    if recorded is not None:
        return recorded.sm3
    with sealed.open("rb") as f:
        return sm3_stream(f)[0].hex()


def release_key(
    client: Requester,
    ceremony: int,
    sealed: pathlib.Path,
    sign_key: PrivateKey,
    enc_key: PrivateKey,
    enc_cert: Certificate,
    trusted: Certificate | None = None,
) -> dict[str, Any]:
    """Release the bid's key to the ceremony. Refused here, before anything is sent, unless the
    file is the bid on record and its header names ``enc_cert`` (whose key ``enc_key`` is) as
    the recipient (``recipient_mismatch``: ENVELOPE.md's reader checks)."""
    st = state(client, ceremony)
    mine = st.get("me")
    if mine is None:
        raise ApiError(403, "not_a_bidder", "贵单位在本标段没有有效投标 (no bid in this lot)")
    digest = sealed_sm3(sealed)
    if digest != mine["ciphertext_sm3"]:
        raise ApiError(0, "wrong_file", "该加密投标文件不是贵单位在本标段的有效投标 (not the bid on record)")
    with sealed.open("rb") as f:
        content_key = read_header(f).unwrap_key(enc_key, enc_cert)
    wrapped = ceremony_key(client, ceremony, trusted).encrypt(content_key)
    statement = ceremony_decrypt_statement(ceremony, credit_code_of(client), digest, sm3_hex(wrapped))
    body = {
        "wrapped_key": base64.b64encode(wrapped).decode(),
        "signature": base64.b64encode(sign_key.sign(statement)).decode(),
    }
    return dict(client.request("POST", f"/api/v1/ceremonies/{ceremony}/decrypt", body))


def wait_decrypted(client: Requester, ceremony: int, timeout: float = 600, poll: float = 1.0) -> dict[str, Any]:
    """Until the platform has tried the last released key: the room's state for this bidder."""
    deadline = time.monotonic() + timeout
    while True:
        st = state(client, ceremony)
        me = st["me"]
        last = me.get("last_attempt") or {}
        settled = me["outcome"] != "pending" or last.get("state") in ("failed", None)
        if settled or time.monotonic() > deadline:
            return st
        time.sleep(poll)


def confirm(client: Requester, ceremony: int, sign_key: PrivateKey) -> dict[str, Any]:
    st = state(client, ceremony)
    if not st.get("record_sm3"):
        raise ApiError(409, "no_record", "开标记录尚未生成 (no record yet)")
    statement = record_confirmation_statement(ceremony, credit_code_of(client), st["record_sm3"])
    body = {"signature": base64.b64encode(sign_key.sign(statement)).decode()}
    return dict(client.request("POST", f"/api/v1/ceremonies/{ceremony}/confirm", body))


def object_(client: Requester, ceremony: int, text: str) -> dict[str, Any]:
    return dict(client.request("POST", f"/api/v1/ceremonies/{ceremony}/objections", {"text": text}))
