"""ENVELOPE.md's order of checks and the header fields a reader can check: the recipient's
certificate (``recipient_cert_sm3``), the wrapped key's form, ``sealed_at``, the file's size;
each failure with its code, and every header check before a key is used."""

from __future__ import annotations

import io
import json

import pytest

from signing.canonical import canonical_json
from signing.certs import CertificateAuthority, TrustStore
from signing.envelope import PREFIX, parse_header, read_header, unseal
from signing.errors import EnvelopeError, HeaderSignatureInvalid, NotAnEnvelope, RecipientMismatch
from tests.signing.conftest import NOW, Bidder, make_bidder
from tests.signing.test_envelope import sealed


def with_header(blob: bytes, **changes: object) -> bytes:
    """``blob`` with header fields replaced (its chunks, bound to the old header, left as they were)."""
    header = read_header(io.BytesIO(blob))
    fields = dict(header.fields) | changes
    raw = canonical_json(fields)
    rest = blob[PREFIX.size + len(header.raw) :]
    return PREFIX.pack(b"GGZYSEAL", 1, len(raw)) + raw + rest


def test_a_reader_with_its_certificate_checks_the_recipient(bidder: Bidder, trust: TrustStore) -> None:
    blob = sealed(bidder, b"bid" * 100)
    out = io.BytesIO()
    unseal(io.BytesIO(blob), out, trust=trust, at=NOW, encryption_key=bidder.enc_key, encryption_cert=bidder.enc_cert)
    assert out.getvalue() == b"bid" * 100


def test_an_envelope_naming_another_recipient_is_refused_with_its_code(
    bidder: Bidder, ca: CertificateAuthority, trust: TrustStore
) -> None:
    other = make_bidder(ca, "另一家公司")
    blob = sealed(bidder, b"bid")
    with pytest.raises(RecipientMismatch) as exc:
        unseal(
            io.BytesIO(blob),
            io.BytesIO(),
            trust=trust,
            at=NOW,
            encryption_key=bidder.enc_key,
            encryption_cert=other.enc_cert,
        )
    assert exc.value.code == "recipient_mismatch"
    # the header names the right certificate, but the key offered is not its key
    with pytest.raises(RecipientMismatch):
        read_header(io.BytesIO(blob)).unwrap_key(other.enc_key, bidder.enc_cert)
    # recipient_cert_sm3 is not signed: an envelope re-pointed at another certificate is caught
    # by the reader that holds its own certificate, before its key is used
    moved = with_header(blob, recipient_cert_sm3=other.enc_cert.fingerprint)
    with pytest.raises(RecipientMismatch):
        unseal(
            io.BytesIO(moved),
            io.BytesIO(),
            trust=trust,
            at=NOW,
            encryption_key=bidder.enc_key,
            encryption_cert=bidder.enc_cert,
        )


def test_the_header_signature_is_checked_before_anything_is_decrypted(bidder: Bidder, trust: TrustStore) -> None:
    """A header whose signature fails over chunks that would also fail: the header's error, and
    nothing written."""
    blob = sealed(bidder, b"x" * 1000)
    header = read_header(io.BytesIO(blob))
    sig = header.fields["signature"]
    forged = with_header(blob, signature=sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:])
    broken = bytearray(forged)
    broken[-1] ^= 1  # and the last chunk tampered
    out = io.BytesIO()
    with pytest.raises(EnvelopeError) as exc:
        unseal(io.BytesIO(bytes(broken)), out, trust=trust, at=NOW, encryption_key=bidder.enc_key)
    assert exc.value.code in (HeaderSignatureInvalid.code, NotAnEnvelope.code)
    assert out.getvalue() == b""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wrapped_key", "04" + "00" * 111),  # one byte short of C1C3C2 of a 16-byte key
        ("wrapped_key", "05" + "00" * 112),  # not an uncompressed point
        ("sealed_at", "yesterday"),
        ("sealed_at", "2026-11-22T08:00:00"),  # no zone: the format says UTC
    ],
)
def test_header_fields_a_reader_can_check_are_checked(bidder: Bidder, field: str, value: str) -> None:
    blob = with_header(sealed(bidder, b"bid"), **{field: value})
    with pytest.raises(NotAnEnvelope):
        read_header(io.BytesIO(blob))


def test_the_size_a_header_announces_is_checked_with_a_code(bidder: Bidder, trust: TrustStore) -> None:
    blob = sealed(bidder, b"bid" * 50)
    header = parse_header(read_header(io.BytesIO(blob)).raw)
    header.check_size(len(blob))
    with pytest.raises(EnvelopeError) as exc:
        unseal(
            io.BytesIO(blob + b"\0"),
            io.BytesIO(),
            trust=trust,
            at=NOW,
            encryption_key=bidder.enc_key,
            size=len(blob) + 1,
        )
    assert exc.value.code == "size_mismatch"
    assert json.loads(header.raw)["plaintext_size"] == 150
