"""Signed API messages (signing/messages.py): both directions, bound to method, path, body, time
and, for a response, to the request it answers; sealed fields open only with the receiver's key."""

from __future__ import annotations

import datetime as dt

import pytest

from signing import messages as m
from signing.sm2 import PrivateKey

NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
BODY = b'{"order":"GO-1","amount":"200000.00"}'


def test_a_request_verifies_and_every_change_is_refused() -> None:
    key = PrivateKey.generate()
    signed = m.sign_request(key, "issuer-7", "POST", "/api/v1/issuer/guarantees", BODY, NOW)
    parsed = m.Signed.from_headers(signed.headers())
    ok = {"direction": "request", "method": "POST", "path": "/api/v1/issuer/guarantees", "body": BODY}
    m.verify(parsed, key.public_key, now=NOW + dt.timedelta(seconds=30), **ok)
    changes: list[dict[str, object]] = [
        {"body": BODY.replace(b"200000", b"100000")},
        {"path": "/api/v1/issuer/guarantees/2"},
        {"method": "PUT"},
        {"direction": "response"},
    ]
    for change in changes:
        with pytest.raises(m.MessageSignatureInvalid):
            m.verify(parsed, key.public_key, now=NOW, **{**ok, **change})  # type: ignore[arg-type]
    with pytest.raises(m.MessageSignatureInvalid):
        m.verify(parsed, PrivateKey.generate().public_key, now=NOW, **ok)  # forged: another key
    other_sender = m.Signed("issuer-8", signed.timestamp, signed.nonce, signed.signature)
    with pytest.raises(m.MessageSignatureInvalid):
        m.verify(other_sender, key.public_key, now=NOW, **ok)
    for late in (m.MAX_SKEW + dt.timedelta(seconds=1), -(m.MAX_SKEW + dt.timedelta(seconds=1))):
        with pytest.raises(m.MessageStale):
            m.verify(parsed, key.public_key, now=NOW + late, **ok)


def test_a_response_is_bound_to_its_request() -> None:
    platform, issuer = PrivateKey.generate(), PrivateKey.generate()
    req = m.sign_request(issuer, "issuer-7", "GET", "/api/v1/issuer/orders", b"", NOW)
    resp = m.sign_response(platform, "platform", req, "GET", "/api/v1/issuer/orders", 200, BODY, NOW)
    kw = {"direction": "response", "method": "GET", "path": "/api/v1/issuer/orders", "body": BODY, "status": 200}
    m.verify(resp, platform.public_key, now=NOW, in_reply_to=req.nonce, **kw)  # type: ignore[arg-type]
    other = m.sign_request(issuer, "issuer-7", "GET", "/api/v1/issuer/orders", b"", NOW)
    with pytest.raises(m.MessageSignatureInvalid):  # replayed as the answer to another request
        m.verify(resp, platform.public_key, now=NOW, in_reply_to=other.nonce, **kw)  # type: ignore[arg-type]
    with pytest.raises(m.MessageSignatureInvalid):
        m.verify(resp, platform.public_key, now=NOW, in_reply_to=req.nonce, **{**kw, "status": 404})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-GGZY-Client": "a", "X-GGZY-Timestamp": "t", "X-GGZY-Nonce": "0" * 32},
        {"X-GGZY-Client": "a", "X-GGZY-Timestamp": "t", "X-GGZY-Nonce": "xyz", "X-GGZY-Signature": "s"},
        {"X-GGZY-Client": "a" * 65, "X-GGZY-Timestamp": "t", "X-GGZY-Nonce": "0" * 32, "X-GGZY-Signature": "s"},
    ],
)
def test_malformed_headers_are_refused(headers: dict[str, str]) -> None:
    with pytest.raises(m.MessageError):
        m.Signed.from_headers(headers)


def test_bad_timestamps_and_signatures_are_named() -> None:
    key = PrivateKey.generate()
    ok = {"direction": "request", "method": "GET", "path": "/p", "body": b""}
    for ts in ("yesterday", "2026-12-02T06:00:00"):
        with pytest.raises(m.MessageError):
            m.verify(m.Signed("c", ts, "0" * 32, "AA=="), key.public_key, now=NOW, **ok)  # type: ignore[arg-type]
    with pytest.raises(m.MessageSignatureInvalid):
        m.verify(m.Signed("c", NOW.isoformat(), "0" * 32, "不是base64"), key.public_key, now=NOW, **ok)  # type: ignore[arg-type]


def test_sealed_fields_open_only_with_the_receivers_key() -> None:
    receiver = PrivateKey.generate()
    value = {"project": "GGZY-2026-000004", "beneficiary": "福州市城乡建设发展集团有限公司"}
    sealed = m.seal_field(value, receiver.public_key)
    assert "福州" not in str(sealed)
    assert m.open_field(sealed, receiver) == value
    with pytest.raises(m.MessageError):
        m.open_field(sealed, PrivateKey.generate())
    for bad in ("x", {"sm2": 1}, {"sm2": "@@"}, {"sm2": sealed["sm2"], "extra": "1"}):
        with pytest.raises(m.MessageError):
            m.open_field(bad, receiver)
